"""The SMTP session: aiosmtpd's protocol plus recording, authentication and faults.

Everything in this module runs on the server's event loop thread. It never
logs to Robot Framework (messages from other threads are dropped there); it
only stores what happened, for the test thread to read.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
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

from .fastpath import ACCEPTED_REPLY, ENDED, NOT_STARTED, FastPath, IdleAwareReader
from .faults import END_OF_DATA, Attempt, FaultRule, FaultRules
from .mailbox import Mailbox, Rejection
from .message import ReceivedMessage

AUTH_REQUIRED_REPLY = "530 5.7.0 Authentication required"
ASYNCIO_READ_SIZE = 64 * 1024  # instead of 256 KiB: no fresh mmap per recv()


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
            gate = self.faults.gates.get("AUTH")
            if gate is not None and gate.passes(None, None, (), 0, session, b"", user):
                attempt = Attempt(auth_user=user, peer=session.peer)  # type: ignore[arg-type]
                rule = self.faults.take_rule("AUTH", attempt)
                if rule is not None:
                    return AuthResult(success=False, handled=False, message=rule.reply)
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


class MockSMTP(FastPath):
    """aiosmtpd's SMTP protocol, recording each command and reply of the session;
    its fast path (fastpath.py) answers the plain commands."""

    rules_may_apply = False
    """Whether the gate of the ``MAIL`` or ``RCPT`` being handled passed: set
    before the command, read by the handler that replies. A command without
    a gate has no rule to judge, whatever is left here from an earlier one."""

    def __init__(self, handler: MockHandler, *, fast_path: bool = True, **options: Any):
        super().__init__(handler, **options)
        self._attach_reader(self.loop)
        self.state = handler.state
        self._command = ""
        self._argument = ""
        self.fast_path = fast_path
        self._init_fast_path()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._fast_allowed and self._original_transport is None:
            self._greet(transport)
        else:
            starting = self._original_transport is None  # not after STARTTLS
            super().connection_made(transport)
            if starting:
                self._handler_coroutine.add_done_callback(self._aiosmtpd_ended)  # type: ignore[union-attr]
        self.state.sessions.add(self)
        if self.state.closing:
            abort_transport(transport)  # accepted while the server was stopping
        elif isinstance(getattr(type(transport), "max_size", None), int):
            # asyncio's selector transports receive into a fresh 256 KiB
            # object per read; a smaller one avoids an mmap/munmap each time.
            transport.max_size = ASYNCIO_READ_SIZE  # type: ignore[attr-defined]

    def _aiosmtpd_ended(self, task: asyncio.Task[None]) -> None:
        # aiosmtpd closes the connection when its task is cancelled (the end
        # of input, a lost connection); a task cancelled before its first
        # step (a client that hangs up at once) never gets to, and the
        # connection stayed open until the idle timeout.
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, error: Exception | None) -> None:
        self.state.sessions.discard(self)
        self._fast = False
        if self._busy is not None:
            self._busy.cancel()
        super().connection_lost(error)
        task = self._handler_coroutine
        if isinstance(task, asyncio.Future) and not task.done():
            task.add_done_callback(self._release)
        else:
            self._release()

    def _release(self, _task: object = None) -> None:
        """Let go of what makes an ended session a reference cycle (its tables
        of bound methods, the stream's callbacks and writer, its ended task):
        it is freed at once, not at the next full garbage collection, and so
        is the mailbox it holds."""
        self._smtp_methods = self._auth_methods = {}
        self._client_connected_cb = None
        if self._handler_coroutine is not NOT_STARTED:
            self._handler_coroutine = ENDED  # type: ignore[assignment]
        for name in ("_reader", "_strong_reader"):
            reader = getattr(self, name, None)
            if isinstance(reader, IdleAwareReader):
                reader.forget_idle_callback()
        self._writer = None  # type: ignore[assignment]

    def eof_received(self) -> bool | None:
        self._fast = False
        if self._busy is not None:
            self._busy.cancel()  # as aiosmtpd cancels the command in progress
        keep_open = super().eof_received()
        # aiosmtpd's task would close the connection when it sees the end of
        # input; without one, asyncio closes it when this returns False.
        return keep_open and self._handler_coroutine is not NOT_STARTED

    async def push(self, status: AnyStr) -> None:
        if self._greeted and status == self._greeting_reply[0]:
            # aiosmtpd's task, started late, greets first: that was sent.
            self._greeted = False
            return
        # A reply to a connection already closing is never sent: aiosmtpd
        # still "answers" lines pipelined after QUIT before it notices.
        if self.transport is not None and not self.transport.is_closing():
            self._note_reply(status)
        await super().push(status)

    def _note_reply(self, status: AnyStr) -> None:
        line = (
            status.decode("utf-8", "replace") if isinstance(status, bytes) else status
        )
        self._record("<<", line)
        if line[:1] in ("4", "5"):
            self.state.mailbox.add_rejection(
                Rejection(self._command, self._argument, line, self._peer)
            )

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
        session = self.session
        peer: Any = session.peer if session else None
        self.state.transcript.append((time.time(), peer, direction, line))

    async def _before_command(
        self, command: str, argument: str | None, address: str | None = None
    ) -> None:
        self._command, self._argument = command, _loggable(command, argument)
        self._record(">>", f"{command} {self._argument}".rstrip())
        faults = self.state.faults
        gate = faults.gates_before.get(command)
        if gate is None:
            return
        # The rules of MAIL and RCPT (delays, drops and replies) are judged on
        # the address given with the command, behind one gate, checked here.
        if address is None:  # not parsed yet: aiosmtpd's path
            address = self._address_in(command, argument)
        envelope = self.envelope
        recipients: Sequence[str]
        earlier = 0
        if command == "MAIL":
            sender, recipients = address, ()
        else:
            sender = envelope.mail_from if envelope else None
            recipients = envelope.rcpt_tos if envelope else ()
            if command == "RCPT":
                earlier = len(recipients)
                recipients = () if address is None else (address,)
        passed = gate.passes(address, sender, recipients, earlier, self.session, b"")
        self.rules_may_apply = passed
        if passed:
            attempt = self.attempt(sender, list(recipients), earlier)
            delay = faults.take_delay(command, attempt)
            if delay:
                await asyncio.sleep(delay)
            if faults.take_disconnect(command, attempt):
                await self.drop_connection(command, self._argument)

    def _address_in(self, command: str, argument: str | None) -> str | None:
        """The address of ``MAIL FROM:<...>`` or ``RCPT TO:<...>``, if valid."""
        keyword = {"MAIL": "FROM:", "RCPT": "TO:"}.get(command)
        if keyword is None or argument is None:
            return None
        text = self._strip_command_keyword(keyword, argument)
        if text is None:
            return None
        try:
            address, _ = self._getaddr(text)
        except Exception:  # aiosmtpd's own parser fails on some input ("<")
            return None
        return address or None

    def attempt(
        self,
        sender: str | None = None,
        recipients: list[str] | None = None,
        earlier_recipients: int = 0,
        raw: bytes = b"",
    ) -> Attempt:
        """What this session has made known so far, for fault rules' conditions:
        the envelope's sender and recipients unless given."""
        envelope, session = self.envelope, self.session
        return Attempt(
            sender if sender is not None else envelope.mail_from if envelope else None,
            recipients
            if recipients is not None
            else list(envelope.rcpt_tos)
            if envelope
            else [],
            earlier_recipients,
            session.peer if session else None,  # type: ignore[arg-type]
            session.auth_data if session and session.authenticated else None,
            raw,
        )

    async def reply_and_close(self, reply: str) -> None:
        """Answer, then close the connection, as providers do with 421."""
        await self.push(reply)
        self._record("--", "connection closed after the reply (fault rule)")
        if self.transport is not None:
            self.transport.close()
        # connection_lost() cancels this session's task, which ends this wait.
        await asyncio.sleep(3600)


def _recording(command: str, method: Callable[..., Awaitable[None]]) -> Callable:
    @functools.wraps(method)
    async def smtp_command(self: MockSMTP, argument: str | None) -> None:
        if self.transport is None or self.transport.is_closing():
            # aiosmtpd closed the connection (too many bad commands) and would
            # still run what the client had pipelined: the session is over.
            raise asyncio.CancelledError
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
        if server.rules_may_apply:  # judged before the command
            attempt = server.attempt(sender=address, recipients=[])
            rule = self.state.faults.take_rule("MAIL", attempt, address)
            if rule is not None:
                return await self._fault_reply(server, rule)
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
        if server.rules_may_apply:  # judged before the command
            attempt = server.attempt(
                recipients=[address], earlier_recipients=len(envelope.rcpt_tos)
            )
            rule = self.state.faults.take_rule("RCPT", attempt, address)
            if rule is not None:
                return await self._fault_reply(server, rule)
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
        gate = faults.gates.get(END_OF_DATA)
        if gate is not None and gate.passes(
            None,
            envelope.mail_from,
            envelope.rcpt_tos,
            0,
            session,
            envelope.original_content or b"",
        ):
            attempt = server.attempt(raw=envelope.original_content or b"")
            delay = faults.take_delay(END_OF_DATA, attempt)
            if delay:
                await asyncio.sleep(delay)
            if faults.take_disconnect(END_OF_DATA, attempt):
                await server.drop_connection(END_OF_DATA)
            reply = faults.take_data_reply(attempt)
            if reply:
                return reply
        self.store(server, session, envelope, envelope.original_content or b"")
        return ACCEPTED_REPLY

    def store(
        self, server: MockSMTP, session: Session, envelope: Envelope, content: bytes
    ) -> None:
        """Store the message of ``envelope`` and count it for the rate limits."""
        ssl_object = (
            server.transport.get_extra_info("ssl_object") if server.transport else None
        )
        stored = self.state.mailbox.add(
            ReceivedMessage(
                content,
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
        self.state.faults.note_accepted(stored)

    @staticmethod
    async def _fault_reply(server: MockSMTP, rule: FaultRule) -> str:
        """A fault rule's reply; with ``close``, sent before the connection closes."""
        assert rule.reply is not None
        if rule.close:
            await server.reply_and_close(rule.reply)
        return rule.reply

    async def handle_exception(self, error: Exception) -> str:
        self.state.errors.append(error)
        return f"451 4.3.0 Internal error in the mock server: {type(error).__name__}"

    lean_hooks = {"MAIL": handle_MAIL, "RCPT": handle_RCPT, "DATA": handle_DATA}
    """The hooks whose work the fast path's lean path does itself (see
    fastpath.py), as they were defined: a hook replaced later turns it off.
    Declaring them claims that they do exactly what the lean path does."""
