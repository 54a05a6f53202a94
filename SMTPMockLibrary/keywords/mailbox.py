"""Keywords that query, count and wait for received messages."""

from __future__ import annotations

from datetime import timedelta

from robot.api import logger
from robotlibcore import keyword

from ..message import ReceivedMessage
from .base import LibraryComponent, failure_message, not_negative


class MailboxKeywords(LibraryComponent):
    @keyword
    def get_received_messages(
        self, inbox: str | None = None, **filters: str
    ) -> list[ReceivedMessage]:
        """Returns the received messages that match the filters, oldest first.

        | ${all} =       Get Received Messages
        | ${to_bob} =    Get Received Messages    recipient=bob@example.com
        | Length Should Be    ${to_bob}    2
        | Should Be Equal    ${to_bob[0].subject}    Welcome, Bob!
        """
        return self.view(inbox).get_messages(**filters)

    @keyword
    def get_received_message_count(
        self, inbox: str | None = None, **filters: str
    ) -> int:
        """Returns how many received messages match the filters.

        | ${count} =    Get Received Message Count    sender=noreply@example.com
        """
        return self.view(inbox).count_messages(**filters)

    @keyword
    def received_message_count_should_be(
        self,
        count: int,
        *,
        msg: str | None = None,
        inbox: str | None = None,
        **filters: str,
    ) -> None:
        """Fails unless exactly ``count`` received messages match the filters.

        The failure lists what was received. ``msg`` replaces the message.

        | Received Message Count Should Be    0    subject=Newsletter
        | Received Message Count Should Be    2    recipient=alice@example.com
        """
        self.view(inbox).assert_message_count(count, msg, **filters)

    @keyword
    def message_matching_should_have_been_received(
        self,
        regex: str,
        *,
        msg: str | None = None,
        inbox: str | None = None,
        **filters: str,
    ) -> ReceivedMessage:
        """Fails unless a received message matches the regular expression ``regex``.

        ``regex`` is searched like the ``matching`` filter: in the source, the
        decoded headers and the decoded text. It also takes ``regexp:`` and
        ``glob:``; a glob must match the whole text. Other `filters` narrow the
        search. Returns the first matching message.

        | Message Matching Should Have Been Received    Your code is \\\\d{6}
        | ${msg} =    Message Matching Should Have Been Received    (?i)welcome    recipient=bob@example.com
        """
        return self.view(inbox).assert_message_matching(regex, msg, **filters)

    @keyword
    def message_matching_should_not_have_been_received(
        self,
        regex: str,
        *,
        msg: str | None = None,
        inbox: str | None = None,
        **filters: str,
    ) -> None:
        """Fails if a received message matches the regular expression ``regex``.

        | Message Matching Should Not Have Been Received    (?i)password:\\\\s*\\\\S+
        """
        self.view(inbox).assert_no_message_matching(regex, msg, **filters)

    @keyword
    def message_should_not_be_received(
        self,
        within: timedelta = timedelta(0),
        *,
        msg: str | None = None,
        inbox: str | None = None,
        **filters: str,
    ) -> None:
        """Fails as soon as a message matching the filters is in the mailbox.

        A message already there fails at once; otherwise the keyword watches
        for ``within`` and fails the moment a matching message arrives,
        listing it. It passes when ``within`` has passed with none: the check
        that something was *not* sent, without a ``Sleep``.

        | Message Should Not Be Received    within=2 s    subject=Newsletter    recipient=bob@example.com
        | Message Should Not Be Received    recipient=nobody@example.com
        """
        seconds = not_negative(within, "within")
        self.view(inbox).assert_no_message(seconds, msg, **filters)

    @keyword
    def wait_until_message_is_received(
        self,
        timeout: timedelta | None = None,
        *,
        msg: str | None = None,
        inbox: str | None = None,
        **filters: str,
    ) -> ReceivedMessage:
        """Waits until a new message matching the filters arrives, and returns it.

        Returns the oldest matching message that no earlier wait returned, at
        once if it is already there: see `Waiting for mail`. ``timeout``
        defaults to the one given when importing (5 seconds). ``msg``
        replaces the failure message (``error``, its old name, still works
        but is deprecated).

        The failure lists what arrived; a message that matches but was
        returned by an earlier wait is marked so.

        | ${msg} =    Wait Until Message Is Received
        | ${msg} =    Wait Until Message Is Received    recipient=alice@example.com    timeout=10 s
        | ${msg} =    Wait Until Message Is Received    subject=Invoice    msg=No invoice was sent
        """
        msg = failure_message(msg, filters)
        view = self.view(inbox)
        try:
            message = view.wait_for_message(self.seconds(timeout), msg, **filters)
        finally:
            self.library.report_server_errors()
        logger.info(f"Received message #{message.sequence} {message.summary()}.")
        return message

    @keyword
    def wait_until_received_message_count_is(
        self,
        count: int,
        timeout: timedelta | None = None,
        *,
        msg: str | None = None,
        inbox: str | None = None,
        **filters: str,
    ) -> list[ReceivedMessage]:
        """Waits until exactly ``count`` received messages match the filters.

        Returns the matching messages. Fails after ``timeout`` when the count
        is not reached, or has gone past ``count``.

        | Wait Until Received Message Count Is    2    recipient=bob@example.com
        | ${msgs} =    Wait Until Received Message Count Is    2    recipient=ops@example.com    timeout=1 min
        """
        msg = failure_message(msg, filters)
        try:
            return self.view(inbox).wait_for_message_count(
                count, self.seconds(timeout), msg, **filters
            )
        finally:
            self.library.report_server_errors()
