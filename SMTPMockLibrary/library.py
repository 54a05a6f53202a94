"""The Robot Framework keywords: thin wrappers around the server and mailbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from robot.api import logger
from robot.api.deco import keyword, library
from robot.utils import secs_to_timestr

from .errors import ConfigurationError, ServerError
from .faults import normalize_command
from .files import save_attachments, save_eml, save_messages
from .filters import MessageFilter, compile_regex
from .mailbox import Rejection
from .message import Attachment, ReceivedMessage
from .report import message_card, rejections_text, transcript_html
from .server import DEFAULT_MAX_MESSAGE_SIZE, MockSMTPServer, validate_port
from .version import __version__

_LISTED_IN_FAILURES = 20
BODY_PARTS = ("any", "text", "html")


def message_argument(value: object, library: SMTPMockLibrary) -> ReceivedMessage:
    """Accept a message, its sequence number, or its dictionary (Remote library)."""
    if isinstance(value, dict) and "sequence" in value:
        value = value["sequence"]
    try:
        sequence = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError(
            f"Expected a received message, got {type(value).__name__} '{value}'."
        ) from None
    message = library._server_or_fail().messages.find(sequence)
    if message is None:
        raise ConfigurationError(f"No message #{sequence} in the mailbox.")
    return message


@library(
    scope="SUITE",
    version=__version__,
    listener="SELF",
    doc_format="ROBOT",
    converters={ReceivedMessage: message_argument},
)
class SMTPMockLibrary:
    """SMTPMockLibrary runs a real SMTP server inside the test run and checks the mail it receives.

    Applications send e-mail: sign-up confirmations, password resets, alerts,
    invoices. Point the application at the mock server, and assert that the
    mail went out, to the right people, with the right content. The server is
    [https://aiosmtpd.readthedocs.io|aiosmtpd] on a background thread, so the
    application talks real SMTP over a real socket.

    == Table of contents ==

    %TOC%

    = Quick start =

    | ***** Settings *****
    | Library    SMTPMockLibrary
    |
    | ***** Test Cases *****
    | Password Reset Sends A Link
    |     ${port} =    `Start Mock SMTP Server`
    |     Request Password Reset    alice@example.com    smtp_port=${port}
    |     ${msg} =    `Wait Until Message Is Received`    recipient=alice@example.com
    |     Should Contain    ${msg.subject}    Reset your password
    |     [Teardown]    `Stop Mock SMTP Server`

    `Start Mock SMTP Server` binds ``127.0.0.1`` and a free port by default and
    returns the port: hand it to the application. A server left running is
    stopped when the suite that imported the library ends.

    A common pattern starts one server per suite and empties it per test:

    | ***** Settings *****
    | Suite Setup       Start Server And Configure Application
    | Test Setup        `Reset Mock Server`
    | Suite Teardown    `Stop Mock SMTP Server`

    = Waiting for mail =

    Applications often send mail asynchronously, from a queue or a worker.
    Never sleep: `Wait Until Message Is Received` returns as soon as a matching
    message arrives (it is woken by the arrival, it does not poll), and fails
    after the timeout with a list of what was received instead.

    *Each wait returns a new message.* A message returned by one wait is never
    returned by a later wait, so the natural way to write a test is the right
    one, even when two mails go to the same address:

    | Request Password Reset    alice@example.com
    | ${first} =     `Wait Until Message Is Received`    recipient=alice@example.com
    | Request Password Reset    alice@example.com
    | ${second} =    `Wait Until Message Is Received`    recipient=alice@example.com
    | Should Not Be Equal    ${first.text}    ${second.text}

    The second wait cannot return the first mail, even though it is still in
    the mailbox. `Get Received Messages` and the other queries always see
    every message; `Reset Mock Server` empties the mailbox.

    To wait for a number of messages, use `Wait Until Received Message Count Is`.

    = Filters =

    Every keyword that looks at the mailbox takes the same named filters. A
    message must match all of the given filters.

    | = Filter =     | = Matches =                                                           |
    | sender         | the envelope sender (SMTP ``MAIL FROM``)                              |
    | recipient      | any envelope recipient (SMTP ``RCPT TO``): To, Cc and Bcc alike      |
    | to, cc         | an address in the ``To`` or ``Cc`` header                             |
    | from_address   | the address in the ``From`` header                                    |
    | subject        | text contained in the decoded subject                                 |
    | body           | text contained in the decoded text or HTML body                       |
    | header         | ``Name: text``: the header contains the text; ``Name``: it exists     |
    | attachment     | the file name of an attachment                                        |
    | matching       | a *regular expression* searched in the message                        |

    Addresses compare whole and case-insensitively: ``recipient=Alice@Example.com``
    matches ``alice@example.com``. ``subject``, ``body`` and ``header`` look for
    contained text. Prefix any value except ``matching`` with ``regexp:`` for a
    regular expression search, or ``glob:`` for a glob pattern:

    | `Wait Until Message Is Received`     recipient=glob:*@example.com
    | `Received Message Count Should Be`    1    subject=regexp:^Invoice \\\\d+$

    ``matching`` is always a regular expression (Python's ``re.search``). It
    searches the raw source, the decoded headers and the decoded text parts,
    so a base64 or quoted-printable body matches as a reader sees it. Remember
    that Robot Framework needs a backslash escaped: ``\\\\d`` for ``\\d``.

    = Messages =

    Keywords return message objects whose attributes a suite can use directly:

    | = Attribute =             | = Value =                                                            |
    | sender, recipients        | the SMTP envelope: ``MAIL FROM`` and every ``RCPT TO``               |
    | subject                   | the subject, RFC 2047 encoded words decoded                          |
    | from_address, to, cc, bcc | plain addresses from the headers; ``bcc``: recipients not in To/Cc   |
    | reply_to                  | addresses of the ``Reply-To`` header                                 |
    | date, message_id          | the ``Date`` header as a datetime, the ``Message-ID``                |
    | headers                   | decoded headers, case-insensitive: ``${msg.headers}[subject]``       |
    | text, html                | the decoded text and HTML bodies (empty string when missing)        |
    | attachments               | files with ``filename``, ``content_type``, ``size``, ``content``, ``content_id``, ``inline`` |
    | links                     | every http(s) link of the bodies, in order, without duplicates       |
    | raw, source, size         | the exact bytes received, the same as text, their size               |
    | received_at, peer, helo   | when it arrived, the client's address, the HELO/EHLO name             |
    | tls, tls_version          | whether the session was encrypted, and how                           |
    | auth_user                 | the user the client authenticated as, if any                         |
    | mail_options, rcpt_options| ESMTP parameters such as ``BODY=8BITMIME``, ``SMTPUTF8``, ``SIZE=...`` |
    | sequence                  | the message's number: 1 for the first the server stored              |

    Decoding happens on first use and is cached: storing a message costs no
    parsing. Malformed mail is stored byte for byte and every attribute gives
    its best reading instead of failing.

    = Evidence in the log =

    `Log Message` and `Log Received Messages` show messages in log.html as
    cards: envelope, headers, text, rendered HTML body and attachments. When a
    test fails, the messages received during that test are logged the same way
    automatically (turn it off with ``log_messages_on_failure=False`` when
    importing). E-mail content is untrusted: all text is escaped and the HTML
    body is shown in a sandboxed frame where no script can run.

    = TLS and AUTH =

    `Start Mock SMTP Server` takes ``tls=starttls`` or ``tls=implicit``. Without
    your own ``certfile`` and ``keyfile``, the server makes a fresh certificate
    for ``localhost``, ``127.0.0.1``, ``::1`` and its host, signed by a throw-away
    certificate authority: give `Get Mock SMTP Server CA File` to the
    application so that it verifies the server properly.

    ``auth_required=True`` refuses mail before a successful ``AUTH PLAIN`` or
    ``AUTH LOGIN``; users come from ``users=alice:s3cret,bob:pw`` or
    `Add Mock SMTP User`. When TLS is on, AUTH is refused before the session is
    encrypted unless ``auth_require_tls=False``.

    | ${port} =    `Start Mock SMTP Server`    tls=starttls    auth_required=True    users=alice:s3cret
    | ${ca} =      `Get Mock SMTP Server CA File`

    = Fault injection =

    A test can make the server fail exactly when and as often as it wants:
    `Reply To Recipient`, `Reply To Sender`, `Reply To Data`, `Disconnect On`
    and `Delay Reply`. Rules stay until `Clear Faults` or `Reset Mock Server`,
    or until they were used ``times`` times. `Get Rejected Commands` tells what
    the server refused, and `Log SMTP Transcript` shows the conversation.

    | `Reply To Data`    451 4.3.0 Try again later    times=1
    | Send Newsletter
    | ${msg} =    `Wait Until Message Is Received`    timeout=30 s    # the retry
    | ${rejected} =    `Get Rejected Commands`
    | Length Should Be    ${rejected}    1

    = Parallel runs =

    Each suite has its own library instance. With ``port=0`` (the default)
    each server gets a free port, so suites run in parallel with pabot never
    share a mailbox: start the server in ``Suite Setup`` and hand the returned
    port to the application.

    = Time format =

    Timeouts and delays use Robot Framework's time format, for example
    ``5 s``, ``1 minute 30 seconds`` or ``0.5``. See the
    [https://robotframework.org/robotframework/latest/RobotFrameworkUserGuide.html#time-format|User Guide].
    """

    ROBOT_LISTENER_API_VERSION = 3

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: timedelta = timedelta(seconds=5),
        log_messages_on_failure: bool = True,
    ):
        """Defaults for `Start Mock SMTP Server` and for the waits.

        - ``host``: the address to bind; ``127.0.0.1`` keeps the server private
          to this machine. ``0.0.0.0`` or ``::`` accept mail from other hosts
          (anyone who can reach the port can then send to it).
        - ``port``: ``0`` picks a free port (recommended, and safe in parallel runs).
        - ``timeout``: how long waits wait when not told otherwise.
        - ``log_messages_on_failure``: log the messages received during a failed
          test as evidence.

        | Library    SMTPMockLibrary
        | Library    SMTPMockLibrary    port=2525    timeout=10 s
        """
        self.host = host
        self.port = validate_port(port)
        self.timeout = timeout.total_seconds()
        self.log_messages_on_failure = log_messages_on_failure
        self._server: MockSMTPServer | None = None
        self._sequence_at_test_start = 0
        self._reported_errors = 0

    # ------------------------------------------------------------------ server

    @keyword("Start Mock SMTP Server")
    def start_mock_smtp_server(
        self,
        host: str | None = None,
        port: int | None = None,
        tls: str = "none",
        require_tls: bool = False,
        certfile: str | None = None,
        keyfile: str | None = None,
        auth_required: bool = False,
        users: dict[str, str] | str | None = None,
        auth_require_tls: bool | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> int:
        """Starts the mock SMTP server and returns the port it bound.

        ``host`` and ``port`` default to the values given when importing the
        library (``127.0.0.1`` and ``0``, a free port). A port already in use
        fails with a clear error. A server already started by this keyword is
        stopped first, so each call gives a fresh, empty server.

        - ``tls``: ``none``, ``starttls`` (plain connection upgraded by the
          ``STARTTLS`` command) or ``implicit`` (TLS from the first byte, as on
          port 465). See `TLS and AUTH`.
        - ``require_tls``: with ``starttls``, refuse ``MAIL`` before ``STARTTLS``.
        - ``certfile``, ``keyfile``: your own certificate instead of a generated one.
        - ``auth_required``: refuse mail before a successful ``AUTH``.
        - ``users``: ``alice:s3cret,bob:pw`` or a dictionary.
        - ``auth_require_tls``: refuse ``AUTH`` on unencrypted sessions; by
          default true when TLS is on, false otherwise.
        - ``max_message_size``: the largest message in bytes, advertised as
          ``SIZE`` in ``EHLO``; larger messages get ``552``. ``0``: no limit.

        | ${port} =    Start Mock SMTP Server
        | ${port} =    Start Mock SMTP Server    port=2525
        | ${port} =    Start Mock SMTP Server    tls=starttls    auth_required=True    users=alice:s3cret
        """
        self.stop_mock_smtp_server()
        self._server = MockSMTPServer(
            self.host if host is None else host,
            self.port if port is None else port,
            tls=tls,
            require_tls=require_tls,
            certfile=certfile,
            keyfile=keyfile,
            auth_required=auth_required,
            users=users,
            auth_require_tls=auth_require_tls,
            max_message_size=max_message_size,
        )
        self._sequence_at_test_start = 0
        self._reported_errors = 0
        logger.info(
            f"Mock SMTP server listening on {self._server._address} (TLS: {tls})."
        )
        return self._server.port

    @keyword("Stop Mock SMTP Server")
    def stop_mock_smtp_server(self) -> None:
        """Stops the mock SMTP server, closing the port and every open session.

        Does nothing when no server is running. The messages received so far
        stay readable from the message objects a suite already holds.

        | [Teardown]    Stop Mock SMTP Server
        """
        if self._server is not None:
            self._report_server_errors()
            self._server.stop()
            self._server = None

    @keyword("Get Mock SMTP Server Port")
    def get_mock_smtp_server_port(self) -> int:
        """Returns the port the running server bound.

        | ${port} =    Get Mock SMTP Server Port
        """
        return self._server_or_fail().port

    @keyword("Get Mock SMTP Server CA File")
    def get_mock_smtp_server_ca_file(self) -> str:
        """Returns the PEM file of the authority that signed the server certificate.

        Give it to the application so that it verifies the server instead of
        turning verification off. Fails when the server has no TLS, or uses
        a certificate given with ``certfile``.

        | ${ca} =    Get Mock SMTP Server CA File
        | Run Process    curl    --ssl-reqd    --cacert    ${ca}    smtp://localhost:${port}
        """
        server = self._server_or_fail()
        if server.ca_file is None:
            reason = (
                "was started without TLS"
                if server.tls == "none"
                else "uses the certificate given with certfile"
            )
            raise ServerError(
                f"The mock SMTP server has no generated CA file: it {reason}."
            )
        return server.ca_file

    @keyword("Add Mock SMTP User")
    def add_mock_smtp_user(self, user: str, password: str) -> None:
        """Adds a user that can log in with ``AUTH`` (or changes its password).

        The password is never logged.

        | Add Mock SMTP User    alice    s3cret
        """
        self._server_or_fail().add_user(user, password)
        logger.info(f"Added SMTP user '{user}'.")

    @keyword
    def reset_mock_server(self) -> None:
        """Empties the mailbox and clears fault rules, rejections and the transcript.

        Use it in ``Test Setup`` so that each test starts from an empty mailbox.

        | Test Setup    Reset Mock Server
        """
        self._server_or_fail().reset()

    @keyword("Set Mock SMTP Timeout")
    def set_mock_smtp_timeout(self, timeout: timedelta) -> str:
        """Sets the default timeout of the waits and returns the old one.

        | ${old} =    Set Mock SMTP Timeout    30 s
        | Set Mock SMTP Timeout    ${old}
        """
        old = secs_to_timestr(self.timeout)
        self.timeout = timeout.total_seconds()
        return old

    # ---------------------------------------------------------------- mailbox

    @keyword
    def get_received_messages(self, **filters: str) -> list[ReceivedMessage]:
        """Returns the received messages that match the `filters`, oldest first.

        | ${all} =       Get Received Messages
        | ${to_bob} =    Get Received Messages    recipient=bob@example.com
        | Length Should Be    ${to_bob}    2
        | Should Be Equal    ${to_bob}[0].subject    Welcome
        """
        return self._select(filters)

    @keyword
    def get_received_message_count(self, **filters: str) -> int:
        """Returns how many received messages match the `filters`.

        | ${count} =    Get Received Message Count    sender=noreply@example.com
        """
        server = self._server_or_fail()
        return server.messages.count(MessageFilter(filters))

    @keyword
    def received_message_count_should_be(
        self, count: int, msg: str | None = None, **filters: str
    ) -> None:
        """Fails unless exactly ``count`` received messages match the `filters`.

        The failure lists what was received. ``msg`` replaces the message.

        | Received Message Count Should Be    0
        | Received Message Count Should Be    2    recipient=alice@example.com
        """
        _check_count(count)
        message_filter = MessageFilter(filters)
        actual = self._server_or_fail().messages.count(message_filter)
        if actual != count:
            raise AssertionError(
                msg
                or f"Expected {_messages(count)} ({message_filter.describe()}), "
                f"but received {actual}.\n{self._mailbox_listing()}"
            )

    @keyword
    def message_matching_should_have_been_received(
        self, regex: str, msg: str | None = None, **filters: str
    ) -> ReceivedMessage:
        """Fails unless a received message matches the regular expression ``regex``.

        ``regex`` is searched like the ``matching`` filter: in the source, the
        decoded headers and the decoded text. Other `filters` narrow the
        search. Returns the first matching message.

        | Message Matching Should Have Been Received    Your code is \\\\d{6}
        | ${msg} =    Message Matching Should Have Been Received    (?i)welcome    recipient=bob@example.com
        """
        message_filter = MessageFilter({**filters, "matching": regex})
        found = self._server_or_fail().messages.select(message_filter)
        if not found:
            raise AssertionError(
                msg
                or f"No received message matches ({message_filter.describe()}).\n"
                f"{self._mailbox_listing()}"
            )
        return found[0]

    @keyword
    def message_matching_should_not_have_been_received(
        self, regex: str, msg: str | None = None, **filters: str
    ) -> None:
        """Fails if a received message matches the regular expression ``regex``.

        | Message Matching Should Not Have Been Received    (?i)password:\\\\s*\\\\S+
        """
        message_filter = MessageFilter({**filters, "matching": regex})
        found = self._server_or_fail().messages.select(message_filter)
        if found:
            raise AssertionError(
                msg
                or f"Expected no message matching ({message_filter.describe()}), "
                f"but {_messages(len(found))} matched:\n{_listing(found)}"
            )

    @keyword
    def wait_until_message_is_received(
        self, timeout: timedelta | None = None, error: str | None = None, **filters: str
    ) -> ReceivedMessage:
        """Waits until a new message matching the `filters` arrives, and returns it.

        Returns the oldest matching message that no earlier wait returned, at
        once if it is already there: see `Waiting for mail`. ``timeout``
        defaults to the one given when importing (5 seconds). ``error``
        replaces the failure message.

        | ${msg} =    Wait Until Message Is Received
        | ${msg} =    Wait Until Message Is Received    recipient=alice@example.com    timeout=10 s
        | ${msg} =    Wait Until Message Is Received    subject=Invoice    error=No invoice was sent
        """
        server = self._server_or_fail()
        seconds = self._seconds(timeout)
        message_filter = MessageFilter(filters)
        message = server.messages.wait_for_new_message(message_filter, seconds)
        self._report_server_errors()
        if message is None:
            raise AssertionError(
                error
                or f"No new message ({message_filter.describe()}) was received "
                f"in {secs_to_timestr(seconds)}.\n{self._mailbox_listing()}"
            )
        logger.info(f"Received message #{message.sequence} {message.summary()}.")
        return message

    @keyword
    def wait_until_received_message_count_is(
        self,
        count: int,
        timeout: timedelta | None = None,
        error: str | None = None,
        **filters: str,
    ) -> list[ReceivedMessage]:
        """Waits until exactly ``count`` received messages match the `filters`.

        Returns the matching messages. Fails after ``timeout`` when the count
        is not reached, or has gone past ``count``.

        | Wait Until Received Message Count Is    3
        | ${msgs} =    Wait Until Received Message Count Is    2    recipient=ops@example.com    timeout=1 min
        """
        _check_count(count)
        server = self._server_or_fail()
        seconds = self._seconds(timeout)
        message_filter = MessageFilter(filters)
        reached = server.messages.wait_for_count(count, message_filter, seconds)
        self._report_server_errors()
        found = server.messages.select(message_filter)
        if not reached or len(found) != count:
            raise AssertionError(
                error
                or f"Expected {_messages(count)} ({message_filter.describe()}) "
                f"within {secs_to_timestr(seconds)}, but received {len(found)}.\n"
                f"{self._mailbox_listing()}"
            )
        return found

    # --------------------------------------------------------------- messages

    @keyword
    def get_links_from_message(
        self, message: ReceivedMessage, matching: str | None = None
    ) -> list[str]:
        """Returns the http(s) links of the message's text and HTML bodies.

        Links are in order of appearance, without duplicates, with HTML
        entities decoded. ``matching`` keeps only the links that the regular
        expression matches (``re.search``).

        | ${links} =    Get Links From Message    ${msg}
        | ${reset} =    Get Links From Message    ${msg}    matching=/reset\\\\?token=
        | Go To    ${reset}[0]
        """
        links = message.links
        if matching is not None:
            pattern = compile_regex(matching, "matching=")
            links = [link for link in links if pattern.search(link)]
        return links

    @keyword
    def get_message_attachments(self, message: ReceivedMessage) -> list[Attachment]:
        """Returns the attachments (and inline parts such as images) of the message.

        Each has ``filename``, ``content_type``, ``size``, ``content`` (bytes),
        ``content_id`` and ``inline``.

        | ${files} =    Get Message Attachments    ${msg}
        | Should Be Equal    ${files}[0].filename    invoice.pdf
        """
        return message.attachments

    @keyword
    def message_should_have_attachment(
        self, message: ReceivedMessage, filename: str, content_type: str | None = None
    ) -> Attachment:
        """Fails unless the message has an attachment called ``filename``.

        With ``content_type``, the attachment must also be of that type.
        Returns the attachment.

        | Message Should Have Attachment    ${msg}    report.csv
        | ${pdf} =    Message Should Have Attachment    ${msg}    Rechnung-März.pdf    application/pdf
        """
        attachments = message.attachments
        for attachment in attachments:
            if attachment.filename == filename and (
                content_type is None or attachment.content_type == content_type.lower()
            ):
                return attachment
        wanted = f"'{filename}'" + (f" of type {content_type}" if content_type else "")
        found = ", ".join(str(a) for a in attachments) or "none"
        raise AssertionError(
            f"Message #{message.sequence} has no attachment {wanted}. Attachments: {found}."
        )

    @keyword
    def save_message_attachments(
        self, message: ReceivedMessage, directory: str
    ) -> list[str]:
        """Saves the attachments to ``directory`` and returns the paths.

        File names are made safe for the file system; nothing is ever written
        outside ``directory``, whatever the e-mail says. Names already taken
        get ``-2``, ``-3``... before the extension.

        | ${paths} =    Save Message Attachments    ${msg}    ${OUTPUT DIR}/attachments
        """
        paths = save_attachments(message.attachments, directory)
        logger.info(
            "Saved:\n" + "\n".join(paths) if paths else "No attachments to save."
        )
        return paths

    @keyword
    def message_header_should_be(
        self, message: ReceivedMessage, name: str, expected: str
    ) -> None:
        """Fails unless the decoded header ``name`` of the message is ``expected``.

        Header names are case-insensitive. For a repeated header, any of its
        values may match.

        | Message Header Should Be    ${msg}    X-Priority    1
        | Message Header Should Be    ${msg}    subject    Grüße aus Köln
        """
        values = message.headers.get_all(name)
        if expected not in values:
            found = " | ".join(repr(v) for v in values) if values else "no such header"
            raise AssertionError(
                f"Header '{name}' of message #{message.sequence} should be "
                f"'{expected}', but was {found}."
            )

    @keyword
    def message_body_should_contain(
        self, message: ReceivedMessage, text: str, part: str = "any"
    ) -> None:
        """Fails unless the decoded body of the message contains ``text``.

        ``part`` is ``text``, ``html`` or ``any`` (either of them).

        | Message Body Should Contain    ${msg}    Welcome, Alice
        | Message Body Should Contain    ${msg}    <b>Alice</b>    part=html
        """
        part = part.lower()
        if part not in BODY_PARTS:
            raise ConfigurationError(
                f"Unknown body part '{part}'. Allowed: {', '.join(BODY_PARTS)}."
            )
        bodies = {"text": message.text, "html": message.html}
        searched = ["text", "html"] if part == "any" else [part]
        if any(text in bodies[name] for name in searched):
            return
        shown = "\n".join(
            f"--- {name} body ---\n{_clip(bodies[name])}" for name in searched
        )
        raise AssertionError(
            f"The {' or '.join(searched)} body of message #{message.sequence} does "
            f"not contain '{text}'.\n{shown}"
        )

    @keyword(name="Save Message As EML")
    def save_message_as_eml(self, message: ReceivedMessage, path: str) -> str:
        """Saves the exact received bytes to ``path`` and returns the path.

        The file opens in any mail client.

        | Save Message As EML    ${msg}    ${OUTPUT DIR}/welcome.eml
        """
        saved = save_eml(message, path)
        logger.info(f"Saved message #{message.sequence} to '{saved}'.")
        return saved

    @keyword
    def save_received_messages(self, directory: str, **filters: str) -> list[str]:
        """Saves each matching message as an ``.eml`` file in ``directory``.

        Files are named by sequence number and subject. Returns the paths.

        | ${paths} =    Save Received Messages    ${OUTPUT DIR}/mail    recipient=alice@example.com
        """
        paths = save_messages(self._select(filters), directory)
        logger.info(f"Saved {_messages(len(paths))} to '{directory}'.")
        return paths

    @keyword
    def log_received_messages(self, **filters: str) -> list[ReceivedMessage]:
        """Logs each matching message as a card in log.html, and returns them.

        | Log Received Messages
        | Log Received Messages    recipient=alice@example.com
        """
        messages = self._select(filters)
        if not messages:
            logger.info(f"No received messages ({MessageFilter(filters).describe()}).")
        for message in messages:
            logger.info(message_card(message), html=True)
        return messages

    # Not called log_message: that name belongs to Robot's listener interface.
    @keyword("Log Message")
    def log_one_message(self, message: ReceivedMessage) -> None:
        """Logs the message as a card: envelope, headers, text, HTML body, attachments.

        The HTML body is shown in a sandboxed frame: no script from an e-mail
        can run in the log.

        | ${msg} =    Wait Until Message Is Received
        | Log Message    ${msg}
        """
        logger.info(message_card(message), html=True)

    # ----------------------------------------------------------------- faults

    @keyword
    def reply_to_recipient(
        self, address_regex: str, reply: str, times: int | None = None
    ) -> None:
        """Answers ``RCPT TO`` commands for matching addresses with ``reply``.

        ``address_regex`` is a regular expression searched in the address.
        Other recipients are accepted as usual. The rule applies ``times``
        times, or until `Clear Faults` or `Reset Mock Server` when not given.

        | Reply To Recipient    ^nobody@    550 5.1.1 No such user here
        """
        self._server_or_fail().faults.reply_to_address(
            "RCPT", address_regex, reply, times
        )

    @keyword
    def reply_to_sender(
        self, address_regex: str, reply: str, times: int | None = None
    ) -> None:
        """Answers ``MAIL FROM`` commands for matching addresses with ``reply``.

        | Reply To Sender    @spammer\\\\.example$    550 5.7.1 Sender rejected
        """
        self._server_or_fail().faults.reply_to_address(
            "MAIL", address_regex, reply, times
        )

    @keyword
    def reply_to_data(self, reply: str, times: int | None = 1) -> None:
        """Answers the end of the next ``times`` messages with ``reply``.

        Those messages are not stored. After that, normal service resumes.
        This is how a suite proves that the application retries after a
        temporary failure. ``times=None`` refuses every message until
        `Clear Faults`.

        | Reply To Data    451 4.3.0 Try again later    times=2
        """
        self._server_or_fail().faults.reply_to_data(reply, times)

    @keyword
    def disconnect_on(self, command: str, times: int | None = 1) -> None:
        """Drops the connection, without a reply, when ``command`` arrives.

        ``command`` is an SMTP command (``EHLO``, ``MAIL``, ``RCPT``, ``DATA``...)
        or ``END OF DATA`` for the end of the message (after the client sent
        it, before the reply: the message is not stored).

        | Disconnect On    RCPT
        | Disconnect On    end of data    times=3
        """
        self._server_or_fail().faults.disconnect_on(command, times)

    @keyword
    def delay_reply(
        self, command: str, delay: timedelta, times: int | None = None
    ) -> None:
        """Waits ``delay`` before handling ``command``: a slow server.

        Use it to test client timeouts. ``command`` as in `Disconnect On`.

        | Delay Reply    DATA    3 s
        | Delay Reply    end of data    1 minute    times=1
        """
        self._server_or_fail().faults.delay_reply(command, delay.total_seconds(), times)

    @keyword
    def clear_faults(self) -> None:
        """Removes every fault rule: the server is back to normal service.

        | Clear Faults
        """
        self._server_or_fail().faults.clear()

    @keyword
    def get_rejected_commands(self, command: str | None = None) -> list[Rejection]:
        """Returns the commands the server answered with a 4xx or 5xx reply.

        Each has ``command``, ``argument``, ``reply``, ``peer`` and ``at``;
        dropped connections have the reply ``(connection dropped)``. Only
        the most recent 1000 are kept. ``command`` keeps those of one command.

        | ${rejected} =    Get Rejected Commands    RCPT
        | Should Start With    ${rejected}[0].reply    550
        """
        rejections = self._server_or_fail().messages.rejections
        if command:
            wanted = normalize_command(command)
            rejections = [r for r in rejections if r.command == wanted]
        logger.info(rejections_text(rejections) or "No rejected commands.")
        return rejections

    @keyword("Get SMTP Transcript")
    def get_smtp_transcript(self, lines: int = 200) -> list[str]:
        """Returns the last ``lines`` lines of the SMTP conversations, oldest first.

        Each line has the time, the client's address, ``>>`` for what the
        client sent or ``<<`` for the server's reply, and the text. Passwords
        are never recorded: ``AUTH`` shows only the mechanism.

        | ${transcript} =    Get SMTP Transcript
        | Should Contain    ${transcript}[-1]    221 Bye
        """
        if lines < 1:
            raise ConfigurationError(f"'lines' must be a positive number, got {lines}.")
        return [str(line) for line in self._server_or_fail().transcript[-lines:]]

    @keyword("Log SMTP Transcript")
    def log_smtp_transcript(self, lines: int = 200) -> None:
        """Logs the last ``lines`` lines of the SMTP conversations.

        See `Get SMTP Transcript` for the format. Use it when a client
        misbehaves: the log shows exactly what it sent and what it was told.

        | Log SMTP Transcript
        """
        logger.info(transcript_html(self.get_smtp_transcript(lines)), html=True)

    # ------------------------------------------------- listener (not keywords)

    def start_test(self, data: Any, result: Any) -> None:
        if self._server is not None:
            self._sequence_at_test_start = self._server.messages.last_sequence

    def end_test(self, data: Any, result: Any) -> None:
        if not (self.log_messages_on_failure and result.failed and self._server):
            return
        received = self._server.messages.since(self._sequence_at_test_start)
        logger.info(
            f"Evidence: {_messages(len(received))} received during this test.",
        )
        for message in received:
            logger.info(message_card(message), html=True)

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    # -------------------------------------------------------------- internals

    def _server_or_fail(self) -> MockSMTPServer:
        if self._server is None:
            raise ServerError(
                "The mock SMTP server is not running. Use 'Start Mock SMTP Server' first."
            )
        return self._server

    def _select(self, filters: dict[str, str]) -> list[ReceivedMessage]:
        return self._server_or_fail().messages.select(MessageFilter(filters))

    def _seconds(self, timeout: timedelta | None) -> float:
        seconds = self.timeout if timeout is None else timeout.total_seconds()
        if seconds < 0:
            raise ConfigurationError(
                f"Timeout must not be negative, got {secs_to_timestr(seconds)}."
            )
        return seconds

    def _mailbox_listing(self) -> str:
        return _listing(self._server_or_fail().messages.snapshot())

    def _report_server_errors(self) -> None:
        errors = self._server.errors if self._server else []
        for error in errors[self._reported_errors :]:
            logger.warn(
                f"The mock SMTP server hit an error: {type(error).__name__}: {error}"
            )
        self._reported_errors = len(errors)


def _check_count(count: int) -> None:
    if count < 0:
        raise ConfigurationError(f"Count must be zero or more, got {count}.")


def _messages(count: int) -> str:
    return f"{count} message" + ("" if count == 1 else "s")


def _listing(messages: list[ReceivedMessage]) -> str:
    if not messages:
        return "The mailbox is empty."
    shown = messages[-_LISTED_IN_FAILURES:]
    lines = [f"Received {_messages(len(messages))}:"]
    if len(messages) > len(shown):
        lines.append(f"  ... {len(messages) - len(shown)} older ones not shown")
    lines.extend(f"  #{m.sequence} {m.summary()}" for m in shown)
    return "\n".join(lines)


def _clip(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + " [...]"


__all__ = ["SMTPMockLibrary"]
