"""The SMTP session: aiosmtpd's protocol plus recording, authentication and faults.

Everything in this module runs on the server's event loop thread. It never
logs to Robot Framework (messages from other threads are dropped there); it
only stores what happened, for the test thread to read.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, AnyStr

from aiosmtpd.smtp import (
    SMTP,
    AuthResult,
    Envelope,
    LoginPassword,
    Session,
    TLSSetupException,
)

from .faults import END_OF_DATA, FaultRules
from .mailbox import Mailbox, Rejection
from .message import ReceivedMessage

AUTH_REQUIRED_REPLY = "530 5.7.0 Authentication required"


def _not_login_data_deprecation(record: logging.LogRecord) -> bool:
    # aiosmtpd 1.4 warns on every successful AUTH about its own internal use of
    # Session.login_data; it is noise to our users.
    return "login_data is deprecated" not in str(record.msg)


logging.getLogger("mail.log").addFilter(_not_login_data_deprecation)


@dataclass(frozen=True)
class TranscriptLine:
    """One line of an SMTP conversation: ``>>`` from the client, ``<<`` the reply."""

    at: datetime
    peer: tuple[str, int] | None
    direction: str
    line: str

    def __str__(self) -> str:
        peer = f"{self.peer[0]}:{self.peer[1]}" if self.peer else "?"
        return f"{self.at:%H:%M:%S.%f} {peer} {self.direction} {self.line}"


@dataclass
class ServerState:
    """What the sessions of one server share with each other and with the test."""

    mailbox: Mailbox
    faults: FaultRules
    users: dict[str, str]
    auth_required: bool
    transcript: deque[tuple[float, tuple[str, int] | None, str, str]] = field(
        default_factory=lambda: deque(maxlen=2000)
    )
    sessions: set[MockSMTP] = field(default_factory=set)
    errors: list[BaseException] = field(default_factory=list)
    closing: bool = False
    users_lock: threading.Lock = field(default_factory=threading.Lock)

    def authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            with self.users_lock:
                known = self.users.get(user)
            if known is not None and known == password:
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)


def abort_transport(transport: asyncio.BaseTransport | None) -> None:
    """Close at once, dropping unsent data. uvloop's transports are not
    asyncio.Transport subclasses, so this asks for abort() by name."""
    abort = getattr(transport, "abort", None)
    if abort is not None:
        abort()
    elif transport is not None:
        transport.close()


class MockSMTP(SMTP):
    """aiosmtpd's SMTP protocol, recording each command and reply of the session."""

    def __init__(self, handler: MockHandler, **options: Any):
        super().__init__(handler, **options)
        self.state = handler.state
        self._command = ""
        self._argument = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.state.sessions.add(self)
        if self.state.closing:
            abort_transport(transport)  # accepted while the server was stopping

    def connection_lost(self, error: Exception | None) -> None:
        self.state.sessions.discard(self)
        super().connection_lost(error)

    async def push(self, status: AnyStr) -> None:
        line = (
            status.decode("utf-8", "replace") if isinstance(status, bytes) else status
        )
        self._record("<<", line)
        if line[:1] in ("4", "5"):
            self.state.mailbox.add_rejection(
                Rejection(self._command, self._argument, line, self._peer)
            )
        await super().push(status)

    async def drop_connection(self, command: str, argument: str = "") -> None:
        """Close the connection without a reply, as a crashing server would."""
        self._record("--", f"connection dropped on {command} (fault rule)")
        self.state.mailbox.add_rejection(
            Rejection(command, argument, "(connection dropped)", self._peer)
        )
        if self.transport is not None:
            self.transport.close()
        # connection_lost() cancels this session's task, which ends this wait.
        await asyncio.sleep(3600)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd parses every address with the full RFC 5322 header parser,
        # the costliest step of a message. Plain <local@domain> addresses give
        # the same result from a regular expression; anything else goes the
        # full way.
        match = _PLAIN_ADDRESS.match(arg)
        if match and not self.local_part_limit:
            return match.group(1), match.group(2)
        return super()._getaddr(arg)

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, TLSSetupException):
            # The client broke off the handshake, typically because it does
            # not trust the certificate: the client doing its job, not a
            # server error. aiosmtpd closes the connection after this.
            self.record_tls_failure(error.__cause__ or error)
            return "454 4.7.0 TLS handshake failed"
        return await super().handle_exception(error)

    def record_tls_failure(self, error: BaseException) -> None:
        reason = tls_failure_reason(error)
        self._record("--", f"TLS handshake failed: {reason}")
        self.state.mailbox.add_rejection(
            Rejection("STARTTLS", "", f"(TLS handshake failed: {reason})", self._peer)
        )

    @property
    def _peer(self) -> tuple[str, int] | None:
        return self.session.peer if self.session else None  # type: ignore[return-value]

    def _record(self, direction: str, line: str) -> None:
        # A plain tuple: formatting waits until someone reads the transcript.
        self.state.transcript.append((time.time(), self._peer, direction, line))

    async def _before_command(self, command: str, argument: str | None) -> None:
        self._command, self._argument = command, _loggable(command, argument)
        self._record(">>", f"{command} {self._argument}".rstrip())
        faults = self.state.faults
        if faults:
            delay = faults.take_delay(command)
            if delay:
                await asyncio.sleep(delay)
            if faults.take_disconnect(command):
                await self.drop_connection(command, self._argument)


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(
    rf"\s*<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>\s*(.*)\Z", re.S
)


def _recording(command: str, method: Callable[..., Awaitable[None]]) -> Callable:
    @functools.wraps(method)
    async def smtp_command(self: MockSMTP, argument: str | None) -> None:
        await self._before_command(command, argument)
        await method(self, argument)

    return smtp_command


# Every smtp_* command of aiosmtpd, wrapped once for the class rather than per
# session: aiosmtpd collects them by name when a session starts.
for _name in dir(SMTP):
    if _name.startswith("smtp_"):
        setattr(MockSMTP, _name, _recording(_name[5:], getattr(SMTP, _name)))


def stored_sender(mail_from: str | None) -> str:
    """The null reverse-path of a bounce, ``MAIL FROM:<>``, is the empty sender.

    The envelope keeps ``<>`` while the session runs: aiosmtpd refuses RCPT
    when ``mail_from`` is empty.
    """
    return "" if mail_from in (None, "<>") else mail_from


def tls_failure_reason(error: BaseException) -> str:
    """``ssl.SSLError`` texts name the alert the client sent, e.g. unknown ca."""
    reason = getattr(error, "reason", None) or str(error) or type(error).__name__
    return str(reason).replace("_", " ").lower() if reason else "unknown reason"


def _loggable(command: str, argument: str | None) -> str:
    if not argument:
        return ""
    if command == "AUTH":
        # Only the mechanism: an initial response carries the password.
        return argument.split()[0] + (" ********" if " " in argument.strip() else "")
    return argument


class MockHandler:
    """aiosmtpd handler hooks: fault rules, authentication, and storing mail."""

    def __init__(self, state: ServerState):
        self.state = state

    async def handle_MAIL(
        self,
        server: MockSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.state.auth_required and not session.authenticated:
            return AUTH_REQUIRED_REPLY
        reply = self.state.faults.reply_for_address("MAIL", address)
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: MockSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.state.faults.reply_for_address("RCPT", address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(
        self, server: MockSMTP, session: Session, envelope: Envelope
    ) -> str:
        faults = self.state.faults
        server._command, server._argument = END_OF_DATA, ""
        server._record(
            ">>", f"[message data, {len(envelope.original_content or b'')} bytes]"
        )
        if faults:
            delay = faults.take_delay(END_OF_DATA)
            if delay:
                await asyncio.sleep(delay)
            if faults.take_disconnect(END_OF_DATA):
                await server.drop_connection(END_OF_DATA)
            reply = faults.take_data_reply()
            if reply:
                return reply
        ssl_object = (
            server.transport.get_extra_info("ssl_object") if server.transport else None
        )
        self.state.mailbox.add(
            ReceivedMessage(
                envelope.original_content or b"",
                stored_sender(envelope.mail_from),
                list(envelope.rcpt_tos),
                peer=session.peer,  # type: ignore[arg-type]
                helo=session.host_name,
                received_at=datetime.now(),
                tls=ssl_object is not None,
                tls_version=ssl_object.version() if ssl_object is not None else None,
                auth_user=session.auth_data if session.authenticated else None,
                mail_options=list(envelope.mail_options),
                rcpt_options=list(envelope.rcpt_options),
            )
        )
        return "250 OK: message accepted"

    async def handle_exception(self, error: Exception) -> str:
        self.state.errors.append(error)
        return f"451 4.3.0 Internal error in the mock server: {type(error).__name__}"
