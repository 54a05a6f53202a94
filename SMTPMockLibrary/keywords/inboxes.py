"""Keywords that define inboxes: named views of one server's mailbox."""

from __future__ import annotations

from robot.api import logger
from robotlibcore import keyword

from .base import LibraryComponent


class InboxKeywords(LibraryComponent):
    @keyword
    def create_inbox(self, name: str, **rules: str) -> None:
        """Defines an inbox: the messages of the current server its rules route to it.

        ``name`` names the inbox. Rules: ``recipient`` and ``sender`` (whole addresses), ``auth_user``,
        ``header=Name: text`` and ``tag`` (the plus-address tag: ``reset``
        for ``alice+reset@example.com``), each with the ``regexp:`` and
        ``glob:`` prefixes of the `filters`; all the rules of an inbox must
        hold. A message may be in several inboxes; mail that no inbox routes
        is in the inbox ``unrouted``, so a suite can assert that nothing fell
        through. Defining an inbox again replaces its rules.

        Every keyword that queries, waits, counts, checks, saves, logs or
        resets then takes ``inbox=name`` and sees only that inbox, with its
        own memory of what its waits returned. Fault keywords take
        ``inbox=name`` too. Routing is judged when a message is read, so
        storing mail stays as cheap as ever.

        | Create Inbox    signup    recipient=glob:*@signup.test
        | Create Inbox    acme    header=X-Tenant: acme
        | Create Inbox    resets    tag=reset
        | Sign Up    alice@signup.test
        | ${msg} =    Wait Until Message Is Received    inbox=signup
        | Received Message Count Should Be    1    inbox=signup
        """
        inbox = self.server.create_inbox(name, **rules)
        logger.info(f"Inbox '{name}': {inbox.describe()}.")

    @keyword
    def get_inboxes(self) -> dict[str, int]:
        """Returns the inboxes of the current server: name -> number of messages.

        The inbox ``unrouted`` is always there.

        | Create Inbox    shop    sender=glob:*@example.com
        | ${inboxes} =    Get Inboxes
        | Should Be Equal As Integers    ${inboxes}[unrouted]    0
        """
        return self.server.get_inboxes()

    @keyword
    def remove_inbox(self, name: str) -> None:
        """Removes the inbox ``name``; its messages stay in the server's mailbox.

        | Create Inbox    signup    recipient=glob:*@signup.test
        | Remove Inbox    signup
        """
        self.server.remove_inbox(name)
