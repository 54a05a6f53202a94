"""The Robot Framework library: keyword components assembled into one class.

The keywords live in ``SMTPMockLibrary/keywords/``, one module a topic. This
class holds what they share (the running servers, the defaults) and is its
own listener: it stops a forgotten server when the suite that started it
ends, and logs the mail a failed test received.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from weakref import WeakKeyDictionary

from robot.api import logger
from robot.api.deco import library
from robotlibcore import DynamicCore

from .binding import validate_port
from .keywords import COMPONENTS
from .keywords.base import duration_argument, message_argument, not_negative
from .keywords.registry import RunningServer, ServerRegistry
from .listing import count_text
from .message import ReceivedMessage
from .report import evidence_cards, rejections_text
from .version import __version__


@library(
    scope="GLOBAL",
    version=__version__,
    doc_format="ROBOT",
    converters={ReceivedMessage: message_argument, timedelta: duration_argument},
)
class SMTPMockLibrary(DynamicCore):
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
    stopped when the suite that started it ends.

    A common pattern starts one server per suite and empties it per test:

    | ***** Settings *****
    | Suite Setup       Start Server And Configure Application
    | Test Setup        `Reset Mock SMTP Server`
    | Suite Teardown    `Stop Mock SMTP Server`

    = Suite trees and several servers =

    The library has GLOBAL scope: a server started in ``__init__.robot`` is
    the current server of every suite below it, so the whole tree shares one
    server and one application configuration.

    | # tests/__init__.robot
    | ***** Settings *****
    | Library           SMTPMockLibrary
    | Suite Setup       `Start Mock SMTP Server`
    | Suite Teardown    `Stop Mock SMTP Server`

    A suite below asks `Get Mock SMTP Server Port` for the port to give the
    application; a fixed ``port=2525`` works too, but not under pabot (below).

    A server belongs to the suite that started it and stops when that suite
    ends. A child suite that starts a server of its own gets its own (beside
    the parent's, never replacing it); when the child's server stops, the
    parent's is current again.

    An application that sends through two relays needs two servers: give
    each an ``alias`` and use `Switch Mock SMTP Server`. Every keyword acts
    on the current server; stopping it makes the one started before it
    current.

    | ${port1} =    `Start Mock SMTP Server`    alias=billing
    | ${port2} =    `Start Mock SMTP Server`    alias=alerts
    | `Switch Mock SMTP Server`    billing
    | `Received Message Count Should Be`    0

    *Parallel runs with pabot.* Each pabot process imports the library and
    runs ``__init__.robot``'s setup on its own, so a fixed port collides with
    ``--testlevelsplit`` or several processes. Start with ``port=0`` (the
    default) and let every suite ask `Get Mock SMTP Server Port` for the port
    to give the application: each process then has its own server and
    mailbox.

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
    the mailbox; a failed wait marks such messages in its listing.
    `Get Received Messages` and the other queries always see every message;
    `Reset Mock SMTP Server` empties the mailbox.

    To wait for a number of messages, use `Wait Until Received Message Count Is`.
    To prove that a mail was *not* sent, use `Message Should Not Be Received`
    with ``within``: it fails the moment one arrives, without a ``Sleep``.

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
    matches ``alice@example.com``. A bounce has the null sender (``MAIL
    FROM:<>``): its ``sender`` is the empty string, and both ``sender=<>``
    and ``sender=`` find it. ``subject``, ``body`` and ``header`` look for
    contained text. Prefix a value with ``regexp:`` for a regular expression
    search, or ``glob:`` for a glob pattern; a prefix may be written in any
    case (``REGEXP:``, ``Glob:``):

    | Send Invoice    carol@example.com
    | `Wait Until Message Is Received`     recipient=glob:*@example.com
    | `Received Message Count Should Be`    1    subject=regexp:^Invoice \\\\d+$

    A value that starts with a misspelt prefix in lower or upper case,
    directly followed by its pattern (``rgx:^Hi``, ``REGEX:^Hi``,
    ``GLB:*@x``), is an error rather than text that never matches;
    ``Re: Hello``, ``Re:Hello`` and a capitalised word such as
    ``Global:Update`` are plain text.

    ``matching`` without a prefix is a regular expression (Python's
    ``re.search``), as are the other pattern arguments that always were one
    (``address_regex`` of the fault keywords, ``matching`` of `Get Links From
    Message`); ``regexp:`` says the same, and a ``glob:`` must match the whole
    text. It searches the raw source, the decoded headers and the decoded text
    parts, so a base64 or quoted-printable body matches as a reader sees it.
    Remember that Robot Framework needs a backslash escaped: ``\\\\d`` for
    ``\\d``.

    = Messages =

    Keywords return message objects whose attributes a suite can use directly:

    | = Attribute =              | = Value =                                                            |
    | sender, recipients         | the SMTP envelope: ``MAIL FROM`` (empty for a bounce) and every ``RCPT TO`` |
    | subject                    | the subject, RFC 2047 encoded words decoded                          |
    | from_address, to, cc, bcc  | plain addresses from the headers; ``bcc``: recipients not in To/Cc   |
    | reply_to                   | addresses of the ``Reply-To`` header                                 |
    | date, message_id           | the ``Date`` header as a datetime, the ``Message-ID``                |
    | headers                    | decoded headers, case-insensitive: ``${msg.headers}[subject]``       |
    | text, html                 | the decoded text and HTML bodies (empty string when missing)        |
    | attachments                | files with ``filename``, ``content_type``, ``size``, ``content``, ``content_id``, ``inline`` |
    | links                      | every http(s) link of the bodies, in order, without duplicates       |
    | raw, source, size          | the exact bytes received, the same as text, their size               |
    | defects                    | what reading cut or found broken, as short sentences (see below); empty for ordinary mail |
    | received_at, peer, helo    | when it arrived, the client's address, the HELO/EHLO name             |
    | tls, tls_version           | whether the session was encrypted, and how                           |
    | auth_user                  | the user the client authenticated as, if any                         |
    | mail_options, rcpt_options | ESMTP parameters such as ``BODY=8BITMIME``, ``SMTPUTF8``, ``SIZE=...`` |
    | sequence                   | the message's number: 1 for the first the server stored              |

    An attachment is ``inline`` when the HTML body shows it (``cid:`` and its
    ``Content-ID``), whatever its ``Content-Disposition`` says: Python's
    ``add_related(..., filename=...)`` writes ``attachment``. A part the
    HTML body does not show is ``inline`` when its disposition is
    ``inline``, or when it has none and has a ``Content-ID``; any other part
    is a file offered to the reader.

    | Send Newsletter
    | ${news} =    `Wait Until Message Is Received`    subject=Newsletter
    | ${logo} =    `Message Should Have Attachment`    ${news}    logo.png
    | Should Be True    ${logo.inline}    # shown in the HTML body with cid:

    Decoding happens on first use and is cached: storing a message costs no
    parsing. Malformed mail is stored byte for byte and every attribute gives
    its best reading instead of failing. Hostile mail is read within limits,
    so that it never stalls a wait or a filter: a part nested deeper than
    100 levels is kept whole, as an attachment of its bytes; past 1,000 MIME
    parts, the rest of the message is not split into parts; header values
    longer than 8 KB or past the first 64 KB of header values, and address
    headers longer than 16 KB, are read by a simple decoder. ``defects``
    lists each cut, and so does the message's card in the log; ``raw``
    always holds every byte received.

    Keywords that take a message accept the object or its ``sequence`` number.

    = Evidence in the log =

    `Log Message` and `Log Received Messages` show messages in log.html as
    cards: envelope (with Bcc recipients), headers, text, the rendered HTML
    body with its embedded images, and attachments to download. The cards
    follow log.html's light or dark theme.

    When a test fails, the messages its servers received during the test are
    logged the same way: the first three cards open, the others closed, at
    most ten with a count of the rest. A failed test during which no mail
    arrived logs nothing. Turn it off with ``log_messages_on_failure=False``
    when importing.

    E-mail content is untrusted: all text is escaped and the HTML body is
    shown in a sandboxed frame where no script can run and nothing remote
    loads.

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

    A client that refuses the server's certificate (one that was not given
    the CA) is doing its job: the broken-off handshake is listed by
    `Get Rejected Commands` and in the transcript with its reason, not
    reported as a server error.

    = Fault injection =

    A test can make the server fail exactly when and as often as it wants:
    `Reply To Recipient`, `Reply To Sender`, `Reply To Data`, `Reply To Auth`,
    `Disconnect On`, `Delay Reply`, `Limit Message Rate`, `Limit Recipients`
    and `Throttle Data`. Every rule applies ``times`` times, or, when
    ``times`` is not given, until `Clear Faults` or `Reset Mock SMTP Server`;
    ``times`` counts the times the rule fired. Each rule is logged when set,
    so the log shows why the server answered 451, and `Get Fault Rules`
    lists the active ones with how often each fired. Each of these keywords
    returns its rule: its ``fired`` stays readable after the rule is used up
    and has left `Get Fault Rules`. `Get Rejected Commands` tells what the
    server refused, and `Log SMTP Transcript` shows the conversation.

    Conditions narrow a rule to some mail. They speak the `filters`'
    vocabulary (whole addresses, contained text, ``regexp:`` and ``glob:``):

    | = Condition =  | = Holds when =                                                  | = Known at =      |
    | sender         | the envelope sender matches                                     | MAIL              |
    | recipient      | the recipient being added (at RCPT), or any recipient           | RCPT              |
    | header         | ``Name: text``: the message has the header with the text        | end of DATA       |
    | auth_user      | the client authenticated as the user                             | AUTH              |
    | peer           | the client's IP address matches                                  | connection        |
    | inbox          | the message is routed to the inbox (see `Create Inbox`)          | as its rules are  |
    | probability    | a seeded random draw says so: ``probability=0.1    seed=42``      | every time        |

    A condition is judged when its data is known; before that it does not
    hold, so ``Disconnect On    MAIL    recipient=x`` never fires (MAIL comes
    before RCPT). ``inbox=`` follows the inbox as it is when mail arrives:
    create it again with other rules and the rule follows them; remove it and
    the rule no longer fires. With ``seed``, random faults fail the same
    attempts on every run.

    | ${rule} =    `Reply To Data`    451 4.3.0 Try again later    times=1
    | Send Newsletter
    | ${msg} =    `Wait Until Message Is Received`    timeout=30 s    # the retry
    | Should Be Equal As Integers    ${rule.fired}    1
    | ${rejected} =    `Get Rejected Commands`
    | Length Should Be    ${rejected}    1

    = Inboxes =

    One server can keep the mail of several tenants or flows apart: `Create
    Inbox` names a view of the mailbox chosen by routing rules (recipient,
    sender, authenticated user, a header, a plus-address tag). Every keyword
    that queries, waits, checks, saves, logs or resets then takes
    ``inbox=name``, with its own memory of what its waits returned; fault
    rules take ``inbox=`` as a condition. Mail no rule routes is in the inbox
    ``unrouted``. Define inboxes once, in ``Suite Setup``: `Reset Mock SMTP
    Server` empties them and keeps them.

    = Codes and links =

    `Get Verification Code From Message` finds the one-time code of a sign-in
    or 2FA mail, `Links In Message Should Be Reachable` requests every link
    of a message, and `Open Link From Message` follows the confirmation link
    without a browser.

    = Reading mail back =

    Applications that fetch mail, and suites that already read it over IMAP
    or POP3, get the same mailbox from `Start Mock IMAP Server` and `Start
    Mock POP3 Server`; `Deliver Message` puts a message there without SMTP,
    and `Get Message Flags` shows what the application did with it.

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
        timeout: timedelta | str = "5 seconds",
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

        | Library    SMTPMockLibrary    port=2525    timeout=10 s
        """
        self.host = host
        self.port = validate_port(port)
        self.timeout = not_negative(timeout)
        self.log_messages_on_failure = log_messages_on_failure
        self.registry = ServerRegistry()
        self.ROBOT_LIBRARY_LISTENER = self
        self._suites: list[str] = []
        self._at_test_start: dict[int, tuple[int, int]] = {}
        self._saved: WeakKeyDictionary[ReceivedMessage, dict[str, str]] = (
            WeakKeyDictionary()
        )
        super().__init__([component(self) for component in COMPONENTS])

    @property
    def current_suite(self) -> str:
        """The id of the running suite (``s1-s2``), the owner of what it starts."""
        return self._suites[-1] if self._suites else ""

    def stop(self, running: RunningServer) -> None:
        """Stop a registered server, reporting what went wrong on its thread."""
        self._report_errors(running)
        running.server.stop()
        self.registry.remove(running)

    def saved_attachments(self, message: ReceivedMessage) -> dict[str, str]:
        """Where the attachments of ``message`` were saved: file name -> path."""
        return self._saved.setdefault(message, {})

    def report_server_errors(self) -> None:
        """Warn, on the keyword running now, of errors on the current server's thread."""
        if self.registry.current is not None:
            self._report_errors(self.registry.current)

    def run_keyword(self, name: str, args: tuple, kwargs: dict | None = None) -> Any:
        # Errors on a server thread surface on the next keyword, not at stop.
        self.report_server_errors()
        return super().run_keyword(name, args, kwargs)

    def _report_errors(self, running: RunningServer) -> None:
        errors = running.server.errors
        for error in errors[running.reported_errors :]:
            logger.warn(
                f"The mock SMTP server '{running.alias}' hit an error: "
                f"{type(error).__name__}: {error}"
            )
        running.reported_errors = len(errors)

    # Listener interface (not keywords).

    def start_suite(self, data: Any, result: Any) -> None:
        self._suites.append(data.id)

    def end_suite(self, data: Any, result: Any) -> None:
        for running in reversed(self.registry.owned_by(data.id)):
            self.stop(running)
        if self._suites:
            self._suites.pop()

    def start_test(self, data: Any, result: Any) -> None:
        self._at_test_start = {
            id(r.server): (
                r.server.messages.last_sequence,
                r.server.messages.rejection_count,
            )
            for r in self.registry.all
        }

    def end_test(self, data: Any, result: Any) -> None:
        if not (self.log_messages_on_failure and result.failed):
            return
        for running in self.registry.all:
            self._log_evidence(running)

    def close(self) -> None:
        for running in reversed(self.registry.all):
            running.server.stop()
            self.registry.remove(running)

    def _log_evidence(self, running: RunningServer) -> None:
        mailbox = running.server.messages
        sequence, rejection_count = self._at_test_start.get(id(running.server), (0, 0))
        received = mailbox.since(sequence)
        refused = mailbox.rejection_count - rejection_count
        if not received and not refused:
            return
        where = f"server '{running.alias}' (port {running.server.port})"
        logger.info(
            f"Evidence: {count_text(len(received))} received by {where} during this test."
        )
        for card in evidence_cards(received):
            logger.info(card, html=True)
        if refused:
            rejected = mailbox.rejections[-refused:]
            logger.info(
                f"Commands refused during this test:\n{rejections_text(rejected)}"
            )


__all__ = ["SMTPMockLibrary"]
