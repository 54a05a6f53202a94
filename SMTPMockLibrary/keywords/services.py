"""Keywords that start the read-back services over the current server's mailbox:
IMAP, POP3 and the HTTP API."""

from __future__ import annotations

from robot.api import logger
from robotlibcore import keyword

from ..message import ReceivedMessage
from ..tls import TLSMode
from .base import LibraryComponent, Secret, plain


class ServiceKeywords(LibraryComponent):
    # IMAP and POP3: the mailbox read back by applications that fetch mail.

    @keyword("Start Mock IMAP Server")
    def start_mock_imap_server(self, port: int = 0, tls: TLSMode = "none") -> int:
        """Serves the current server's mailbox over IMAP and returns the port.

        For applications that *fetch* mail (helpdesks, ticketing, "reply to
        this e-mail" features, importers) and for suites that read mail with
        an IMAP client (ImapLibrary2, RPA.Email, ``imaplib``, ``imapflow``).
        The service stops with the SMTP server; starting it again replaces it.
        Needs the ``imap`` extra (``pip install
        robotframework-smtpmocklibrary[imap]``, Python 3.11 or newer).

        - *Logins.* Every envelope recipient logs in with its address and
          finds in ``INBOX`` the messages sent to it (Bcc included). A login
          named in the server's ``users`` must use its password; any other
          login is accepted with any password. The login ``*`` is a catch-all
          that sees every message once (quote it for ``imaplib``-based
          clients such as ImapLibrary2: ``user="*"``). Passwords are never
          logged.
        - *What is served.* ``BODY[]`` and ``RFC822`` are the received bytes
          exactly, no ``Received:`` header added; UIDs and sizes are stable
          across sessions. ``FETCH``, ``SEARCH``, ``STORE``, ``EXPUNGE``,
          ``UID`` commands, ``IDLE`` (woken as soon as a message is stored)
          and ``STARTTLS`` work as clients expect.
        - *Flags are per user.* Deleting (``\\Deleted`` and ``EXPUNGE``)
          removes a message from that user's view only: the mailbox keywords
          still see it. `Get Message Flags` tells what the application did.
        - *Resets.* `Reset Mock SMTP Server` reaches sessions already logged
          in as expunges (at once in ``IDLE``); new mail after it gets higher
          UIDs, never reused ones.
        - ``tls``: ``none``, ``starttls`` or ``implicit``. The certificate is
          signed by the same throw-away authority as the SMTP server's:
          `Get Mock SMTP Server CA File`.

        | ${port} =    Start Mock IMAP Server
        | ${port} =    Start Mock IMAP Server    tls=starttls
        | ${ca} =    Get Mock SMTP Server CA File
        """
        server = self.server
        bound = server.start_imap(port, tls=tls)
        logger.info(
            f"Mock IMAP server listening on {server.host}:{bound} (TLS: {tls}); "
            "every recipient logs in with its address, '*' sees all mail."
        )
        return bound

    @keyword("Start Mock POP3 Server")
    def start_mock_pop3_server(self, port: int = 0, tls: TLSMode = "none") -> int:
        """Serves the current server's mailbox over POP3 and returns the port.

        The same logins and per-recipient maildrops as `Start Mock IMAP
        Server` (``*`` sees everything). RFC 1939 with ``CAPA``, ``UIDL``,
        ``TOP``, ``USER``/``PASS``, ``AUTH PLAIN`` and ``STLS`` (``STLS``
        needs Python 3.11 or newer). ``RETR`` sends the received bytes exactly
        and marks the message ``\\Seen``; ``DELE`` followed by ``QUIT``
        removes it from that user's maildrop only, which `Get Message Flags`
        reports as ``pop3-deleted``. No extra is needed.

        | ${port} =    Start Mock POP3 Server
        | ${port} =    Start Mock POP3 Server    tls=implicit
        """
        server = self.server
        bound = server.start_pop3(port, tls=tls)
        logger.info(
            f"Mock POP3 server listening on {server.host}:{bound} (TLS: {tls})."
        )
        return bound

    @keyword("Deliver Message")
    def deliver_message(
        self, source: bytes | str, *recipients: str, sender: str = ""
    ) -> ReceivedMessage:
        """Puts a message into the recipients' mailboxes without SMTP, and returns it.

        For applications that fetch mail the suite wrote: the message is then
        served over IMAP and POP3, and seen by every query and wait keyword,
        exactly as if it had been received. ``source`` is the message as
        bytes, as text (line endings become ``\\r\\n``) or the path of an
        ``.eml`` file. Text of one line is a path when it names a file, or
        ends in ``.eml`` or contains ``/`` and does not start like a header
        (``Subject: hi`` is a message); a path naming no file fails. Give at
        least one recipient; ``sender`` is the envelope sender.

        | ${msg} =    Deliver Message    Subject: Re: Order 1001\\n\\nThanks, it arrived.    support@example.com    sender=carol@example.com
        | ${path} =    Save Message As EML    ${msg}    ${OUTPUT DIR}/reply.eml
        | ${copy} =    Deliver Message    ${path}    alice@example.com    bob@example.com
        """
        return self.server.deliver(source, list(recipients), sender)

    @keyword("Get Message Flags")
    def get_message_flags(
        self, message: ReceivedMessage, user: str | None = None
    ) -> list[str]:
        """Returns what ``user`` did to the message over IMAP or POP3.

        A sorted list of the message's IMAP flags for that user (``\\Seen``,
        ``\\Answered``, ``\\Flagged``, ``\\Deleted``, ...), followed by
        ``expunged`` once an IMAP client expunged it, or ``pop3-deleted`` once
        a POP3 client deleted it (``DELE`` and ``QUIT``). Empty when the user
        has not touched it. ``user`` is a recipient's address or ``*``; it may
        be left out when the message has a single recipient.

        | ${imap_port} =    Start Mock IMAP Server
        | Run Helpdesk Worker    ${imap_port}    # reads Alice's mail and deletes it
        | ${flags} =    Get Message Flags    ${msg}    user=alice@example.com
        | Should Contain    ${flags}    \\\\Seen
        | Should Contain    ${flags}    expunged
        """
        return self.server.message_flags(self.message(message), user)

    # The HTTP API and web viewer (Mailpit-compatible).

    @keyword("Start Mock HTTP API")
    def start_mock_http_api(
        self,
        port: int = 0,
        auth: str | Secret | None = None,
        host: str = "127.0.0.1",
    ) -> int:
        """Serves the current server's mailbox over a Mailpit-compatible HTTP API
        and a web viewer, and returns the port.

        For applications and tests that already talk to Mailpit (the npm
        ``mailpit-api`` client, Cypress and Playwright helpers, curl): point
        them at ``http://127.0.0.1:<port>`` and they keep working. For people,
        the page at ``/`` lists the messages as they arrive, searches them and
        shows each one: headers, text, the HTML body in a sandbox where nothing
        runs and nothing is loaded from elsewhere (remote images only on a
        click), attachments and the raw source. The service stops with the SMTP
        server; starting it again replaces it. Needs the ``http`` extra
        (``pip install robotframework-smtpmocklibrary[http]``).

        - *Mailpit's API v1*: ``/api/v1/messages`` (``start``, ``limit``; ``PUT``
          read/unread, ``DELETE``), ``/api/v1/search?query=`` (``to:``,
          ``from:``, ``cc:``, ``subject:``, ``tag:``, ``is:unread``,
          ``has:attachment``, ``before:``, ``larger:``, quoted phrases, plain
          words, ``-`` to negate), ``/api/v1/message/{ID}`` (``ID`` may be
          ``latest``) with ``/headers``, ``/raw``, ``/part/{PartID}`` and
          ``/link-check``, ``/view/{ID}.html``, ``.txt`` and ``.raw``,
          ``/api/v1/send``, ``/api/v1/tags`` (first taken from ``X-Tags``),
          ``/api/v1/chaos``, ``/api/v1/info`` and the ``/api/events`` WebSocket.
        - *IDs* are the messages' numbers as strings (``"1"``, ``"2"``): they
          never change and never come back after a reset.
        - *Deleting* some messages over HTTP hides them from the API and the
          viewer only; the mailbox keywords still see them. Deleting all
          empties the mailbox, as a reset does.
        - *Chaos* triggers become fault rules: probability 100 fails every
          time, anything less fails at random but the same way on every run.
        - *Beyond Mailpit*: ``/api/smtpmock/faults`` (``GET`` lists the fault
          rules, ``POST`` adds one, ``DELETE`` clears them),
          ``/api/smtpmock/inboxes`` (each inbox with its count; search with
          ``inbox:NAME``) and ``/api/smtpmock/message/{ID}/verification-code``.
        - ``auth``: ``user:password`` (or a ``Secret``) makes every page and
          endpoint require HTTP Basic authentication. The password is never
          logged. Without it, anyone who can reach the port can read every
          message.
        - ``host``: the address to bind, ``127.0.0.1`` (this machine only)
          unless told otherwise.
        - A bad request (an unknown ID, a bad query, a huge ``limit``, a wrong
          method) gets its HTTP status and ``{"Error": "..."}``.

        | ${port} =    Start Mock HTTP API
        | ${result} =    Run Process    curl    --silent    http://127.0.0.1:${port}/api/v1/search?query\\=subject:Invoice
        | ${found} =    Evaluate    json.loads($result.stdout)
        | Should Be Equal    ${found}[messages][0][Subject]    Invoice 1001
        | ${result} =    Run Process    curl    --silent    http://127.0.0.1:${port}/api/v1/messages
        | Received Message Count Should Be    ${{ json.loads($result.stdout)['total'] }}
        | ${port} =    Start Mock HTTP API    auth=tester:s3cret
        """
        server = self.server
        bound = server.start_http(port, host=host, auth=plain(auth))
        shown = f"[{host}]" if ":" in host else host
        logger.info(
            f"Mock HTTP API and web viewer at http://{shown}:{bound}/"
            + (" (HTTP Basic authentication required)." if auth else ".")
        )
        return bound
