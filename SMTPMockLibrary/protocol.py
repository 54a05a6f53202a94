"""The SMTP session: aiosmtpd's protocol plus recording, authentication and faults.

Everything in this module runs on the server's event loop thread. It never
logs to Robot Framework (messages from other threads are dropped there); it
only stores what happened, for the test thread to read.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import re
import threading
import time
from collections import deque
from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, AnyStr

from aiosmtpd.smtp import (
    ALLOWED_BEFORE_STARTTLS,
    MISSING,
    SMTP,
    AuthResult,
    Envelope,
    LoginPassword,
    Session,
    TLSSetupException,
)

from .faults import END_OF_DATA, Attempt, FaultRule, FaultRules
from .mailbox import Mailbox, Rejection
from .message import ReceivedMessage

AUTH_REQUIRED_REPLY = "530 5.7.0 Authentication required"
ACCEPTED_REPLY = "250 OK: message accepted"


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


class MockSMTP(SMTP):
    """aiosmtpd's SMTP protocol, recording each command and reply of the session."""

    fast_path = True
    """Answer plain commands in ``data_received`` (see "The fast path" below);
    False leaves every command to aiosmtpd's own loop."""

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
        self._fast_allowed = self._fast_path_allowed()
        self._lean_allowed = self._fast_allowed and self._lean_path_allowed()
        self._ehlo_reply = self._ehlo_lines()
        self._ehlo_bytes = _wire(self._ehlo_reply)
        self._greeting_reply = (self._greeting(),)
        self._greeting_bytes = _wire(self._greeting_reply)

    @classmethod
    def factory(cls, handler: MockHandler, **options: Any) -> SessionFactory:
        """A callable making sessions with these options, cheaply."""
        return SessionFactory(handler, **options)

    def _attach_reader(self, loop: asyncio.AbstractEventLoop) -> None:
        # The stream protocol's own state, with a reader that reports when
        # aiosmtpd's command loop is idle.
        asyncio.StreamReaderProtocol.__init__(
            self,
            _IdleAwareReader(self._on_idle, limit=self.line_length_limit, loop=loop),
            client_connected_cb=self._cb_client_connected,
            loop=loop,
        )

    def _init_fast_path(self) -> None:
        self._fast = False  # True while aiosmtpd's loop waits and we answer
        self._greeted = False  # aiosmtpd's task started after the greeting
        self._pending = b""  # received, not yet answered
        self._body: _Body | None = None  # the message being received
        self._line_start = True
        self._busy: asyncio.Task[None] | None = None  # a step waiting on a fault
        self._turn_bytes = 0
        self._reading_paused = False
        self._deadline = 0.0

    def _fast_path_allowed(self) -> bool:
        """Whether these options let the fast path answer (see there)."""
        return bool(
            self.fast_path
            and self.tls_context is None
            and self.enable_SMTPUTF8
            and not self._decode_data
            and not self._enforce_call_limit
            and self._proxy_timeout is None
            and self._ehlo_hook_ver is None
            and "DATA" in self._handle_hooks
            and not set(self._handle_hooks) & {"HELO", "NOOP", "QUIT", "RSET"}
            and not hasattr(self, "ehlo_hook")
            and not hasattr(self, "rset_hook")
        )

    def _lean_path_allowed(self) -> bool:
        """Whether the lean path (see there) may answer besides: the
        library's own handler hooks (not replaced, say by a test), and no
        option it does not check."""
        hooks = self._handle_hooks
        return bool(
            all(
                getattr(hooks.get(name), "__func__", None) is function
                for name, function in _LEAN_HOOKS.items()
            )
            and not self._auth_required
            and not self.require_starttls
            and not self.local_part_limit
        )

    def _ehlo_lines(self) -> tuple[str, ...]:
        """aiosmtpd's EHLO reply for these options, before STARTTLS."""
        response = ["250-" + self.hostname]
        if self.data_size_limit:
            response.append(f"250-SIZE {self.data_size_limit}")
        if not self._decode_data:
            response.append("250-8BITMIME")
        if self.enable_SMTPUTF8:
            response.append("250-SMTPUTF8")
        if self.tls_context and not self._tls_protocol:
            response.append("250-STARTTLS")
        if not self._auth_require_tls or self._tls_protocol:
            response.append("250-AUTH " + " ".join(sorted(self._auth_methods)))
        response.append("250 HELP")
        return tuple(response)

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

    def _greet(self, transport: asyncio.BaseTransport) -> None:
        """aiosmtpd's connection_made, with the greeting sent at once and its
        session task not started: the fast path answers until it hands a
        line over (most sessions never do, and the task is a third of what a
        new connection costs)."""
        self._set_rset_state()
        self.session = self._create_session()
        self.session.peer = transport.get_extra_info("peername")
        self._reset_timeout()
        asyncio.StreamReaderProtocol.connection_made(self, transport)
        self.transport = transport
        self._handler_coroutine = _NOT_STARTED  # type: ignore[assignment]
        self._write_prepared(self._greeting_reply, self._greeting_bytes)
        self._fast = True

    def _greeting(self) -> str:
        return f"220 {self.hostname} {self.__ident__}"  # as aiosmtpd greets

    def _start_aiosmtpd(self) -> None:
        """Start aiosmtpd's session task, whose greeting was already sent."""
        self._greeted = True
        task = self.loop.create_task(self._handle_client())
        task.add_done_callback(self._aiosmtpd_ended)
        self._handler_coroutine = task

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
        if self._handler_coroutine is not _NOT_STARTED:
            self._handler_coroutine = _ENDED  # type: ignore[assignment]
        for name in ("_reader", "_strong_reader"):
            reader = getattr(self, name, None)
            if isinstance(reader, _IdleAwareReader):
                reader.forget_idle_callback()
        self._writer = None  # type: ignore[assignment]

    def eof_received(self) -> bool | None:
        self._fast = False
        if self._busy is not None:
            self._busy.cancel()  # as aiosmtpd cancels the command in progress
        keep_open = super().eof_received()
        # aiosmtpd's task would close the connection when it sees the end of
        # input; without one, asyncio closes it when this returns False.
        return keep_open and self._handler_coroutine is not _NOT_STARTED

    def _reset_timeout(self, duration: float | None = None) -> None:
        # The idle timeout moves with every command; rather than a new timer
        # per command, the timer checks the deadline when it fires.
        self._deadline = self.loop.time() + (duration or self._timeout_duration)
        handle = self._timeout_handle
        if handle is None or handle.cancelled() or self._deadline < handle.when():
            if handle is not None:
                handle.cancel()
            self._timeout_handle = self.loop.call_at(self._deadline, self._timeout_cb)

    def _timeout_cb(self) -> None:
        if self.loop.time() < self._deadline:
            self._timeout_handle = self.loop.call_at(self._deadline, self._timeout_cb)
            return
        super()._timeout_cb()

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

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd parses every address with the full RFC 5322 header parser,
        # the costliest step of a message. Plain <local@domain> addresses give
        # the same result from a regular expression; anything else goes the
        # full way.
        match = _PLAIN_ADDRESS.match(arg)
        if match and not self.local_part_limit:
            return _shared_address(match.group(1)), match.group(2)
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

    # The fast path (see the notes above _IdleAwareReader).

    def _on_idle(self) -> None:
        if self._fast_allowed and self.transport is not None:
            self._fast = True

    def data_received(self, data: bytes) -> None:
        if not self._fast:
            super().data_received(data)  # aiosmtpd's reader
            return
        if len(data) >= 16384:
            self._cap_reading(len(data))
        if self._busy is not None:
            self._pending += data
        else:
            self._receive(data)

    def _cap_reading(self, size: int) -> None:
        # uvloop reads up to 32 x 256 KiB from one socket per loop turn: a big
        # message would hold up every other session. Pause this one until
        # the next turn once it had its share.
        if not self._turn_bytes:
            self.loop.call_soon(self._next_turn)
        self._turn_bytes += size
        if self._turn_bytes >= READ_CAP_PER_TURN and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]

    def _next_turn(self) -> None:
        self._turn_bytes = 0
        if self._reading_paused:
            self._reading_paused = False
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()  # type: ignore[attr-defined]

    def _receive(self, data: bytes) -> None:
        buffer = self._pending + data if self._pending else data
        self._pending = b""
        position, size = 0, len(buffer)
        while position < size:
            if self._body is not None:
                after = self._receive_body(buffer, position)
                if after is None:
                    return
                position = after
                step: Coroutine[Any, Any, None] | None = (
                    self._lean_end_of_data()
                    if self._lean_allowed
                    else self._end_of_data()
                )
            else:
                newline = buffer.find(b"\n", position)
                if newline < 0:
                    if size - position > COMMAND_LINE_LIMIT - 1:
                        self._hand_over(buffer[position:])
                    else:
                        self._pending = buffer[position:]
                    return
                if newline - position >= COMMAND_LINE_LIMIT:
                    self._hand_over(buffer[position:])
                    return
                line = buffer[position:newline]
                step = None
                if not (self._lean_allowed and self._lean_command(line)):
                    step = self._fast_command(line)
                    if step is None:
                        self._hand_over(buffer[position:])
                        return
                position = newline + 1
            if step is not None and not self._run(step):
                self._pending = buffer[position:]  # answered when the step ends
                return
            transport = self.transport
            if transport is None or transport.is_closing():
                return
            paused = self._paused  # type: ignore[attr-defined]
            if paused and position < size and self._body is None:
                # The client reads no replies: aiosmtpd's loop waits for it.
                # Not within a message's data, which aiosmtpd's command loop
                # would take for commands; its end is answered first.
                self._hand_over(buffer[position:])
                return

    def _hand_over(self, data: bytes) -> None:
        """Let aiosmtpd's loop answer ``data`` and what follows."""
        self._fast = False
        if self._handler_coroutine is _NOT_STARTED:
            self._start_aiosmtpd()
        super().data_received(data)

    def _run(self, step: Coroutine[Any, Any, None]) -> bool:
        """Run ``step`` now; True if it ended without waiting. A step waits
        only on a fault rule (a delay, a dropped connection); then a task
        finishes it while further input waits."""
        try:
            waiting_on = step.send(None)
        except StopIteration:
            return True
        self._busy = self.loop.create_task(self._finish(_Resumed(step, waiting_on)))
        return False

    async def _finish(self, step: _Resumed) -> None:
        try:
            await step
        finally:
            self._busy = None
        if self._fast and self._pending and self.transport is not None:
            pending, self._pending = self._pending, b""
            self._receive(pending)

    def _fast_command(self, line: bytes) -> Coroutine[Any, Any, None] | None:
        """The step answering ``line`` (without its LF), or None to hand it to
        aiosmtpd: checked as aiosmtpd's command loop checks it."""
        stripped = line.rstrip(b"\r\n")
        name, _, argument_bytes = stripped.partition(b" ")
        known = _FAST_COMMANDS.get(name.upper())
        if known is None or not self._tls_handshake_okay:
            return None
        command, prepare = known
        assert self.session is not None
        limit = (
            self.command_size_limits[command]
            if self.session.extended_smtp
            else self.command_size_limit
        )
        if len(stripped) > limit:
            return None
        if (
            self.require_starttls
            and not self._tls_protocol
            and command not in ALLOWED_BEFORE_STARTTLS
        ):
            return None
        argument = (
            str(argument_bytes.strip(), "utf-8", "surrogateescape")
            if argument_bytes
            else None
        )
        step = prepare(self, argument)
        if step is not None:
            self._reset_timeout()  # a valid command, as aiosmtpd does
        return step

    # The lean path: the commands of a plain message answered in place, when
    # nothing can make the answer differ from the fast path's step: the
    # step's effects (envelope, transcript, timeout, reply) without its
    # coroutine, its hooks and the checks that cannot fail here. Fault rules
    # are judged behind the same gates; when a gate passes, the step runs.

    def _lean_command(self, line: bytes) -> bool:
        """Answer ``line`` (without its LF) at once if it is ``DATA``,
        ``RCPT TO:<address>`` or ``MAIL FROM:<address>`` with at most a
        ``SIZE=``, in any case, with its CR and a plain address (what
        clients send), aiosmtpd would accept it and no fault rule may apply;
        True if answered, False to leave it to the fast path's steps."""
        session, envelope = self.session, self.envelope
        assert session is not None and envelope is not None
        if not session.host_name or not self._tls_handshake_okay:
            return False
        address: str | None = None
        option: str | None = None  # MAIL's SIZE=
        recipients: Sequence[str]
        if len(line) == 5 and line.upper() == b"DATA\r":
            if not envelope.rcpt_tos:
                return False
            command, argument = "DATA", ""
            sender, recipients, earlier = envelope.mail_from, envelope.rcpt_tos, 0
        else:
            text = line.decode("latin-1")
            match = _LEAN_ADDRESS.match(text)
            if match is None:
                return False
            command = "MAIL" if text[0] in "Mm" else "RCPT"
            limit = (
                self.command_size_limits[command]
                if session.extended_smtp
                else self.command_size_limit
            )
            if len(text) - 1 > limit:
                return False
            address = _shared_address(match.group(1))
            size = match.group(2)
            if command == "MAIL":
                if envelope.mail_from or (
                    self.state.auth_required and not session.authenticated
                ):
                    return False
                if size is not None:
                    if not session.extended_smtp or (
                        self.data_size_limit and int(size) > self.data_size_limit
                    ):
                        return False
                    option = "SIZE=" + size
                sender, recipients, earlier = address, (), 0
            elif envelope.mail_from and size is None:
                sender, recipients = envelope.mail_from, (address,)
                earlier = len(envelope.rcpt_tos)
            else:
                return False
            argument = text[5:-1]
        # The rules of the command, behind their gate, judged on what
        # _before_command judges them on.
        gate = self.state.faults.gates_before.get(command)
        if gate is not None:
            try:
                if gate.passes(address, sender, recipients, earlier, session, b""):
                    return False
            except Exception:  # the step judges again and answers the error
                return False
            self.rules_may_apply = False
        if command == "DATA":
            reply, wire = _DATA_REPLY, _DATA_REPLY_WIRE
            self._body = _Body(self.data_size_limit)
            self._line_start = True
        else:
            reply, wire = "250 OK", _OK_WIRE
            if command == "MAIL":
                envelope.smtp_utf8 = False
                envelope.mail_from = address
                if option is not None:
                    envelope.mail_options.append(option)
            else:
                envelope.rcpt_tos.append(address)  # type: ignore[arg-type]
        # Recorded as _before_command and _write_replies record.
        self._command, self._argument = command, argument
        peer: Any = session.peer
        now, record = time.time(), self.state.transcript.append
        record((now, peer, ">>", f"{command} {argument}" if argument else command))
        record((now, peer, "<<", reply))
        # _reset_timeout() without its checks: the timer is armed, for an
        # earlier deadline, and checks this one when it fires.
        self._deadline = self.loop.time() + self._timeout_duration
        self.transport.write(wire)  # type: ignore[union-attr]
        return True

    def _lean_end_of_data(self) -> Coroutine[Any, Any, None] | None:
        """Store the message just received and answer, as the fast path's
        step does; the step to run instead when the message was refused, a
        rule may apply to it, or storing it failed."""
        body, envelope = self._body, self.envelope
        assert body is not None and envelope is not None
        if body.state != _NOMINAL:
            return self._end_of_data()
        content = body.content()
        gate = self.state.faults.gates.get(END_OF_DATA)
        if gate is not None:
            try:
                if gate.passes(
                    None,
                    envelope.mail_from,
                    envelope.rcpt_tos,
                    0,
                    self.session,
                    content,
                ):
                    return self._end_of_data()
            except Exception:  # the step judges again and answers the error
                return self._end_of_data()
        self._body = None
        envelope.content = envelope.original_content = content
        self._command, self._argument = END_OF_DATA, ""
        self._record(">>", f"[message data, {len(content)} bytes]")
        try:
            self.event_handler.store(self, self.session, envelope, content)
        except Exception as error:
            return self._fast_exception(error)
        self._set_post_data_state()
        self._record("<<", ACCEPTED_REPLY)
        self.transport.write(_ACCEPTED_WIRE)  # type: ignore[union-attr]
        return None

    def _write_replies(self, *statuses: str) -> None:
        for status in statuses:
            self._note_reply(status)
        if self.transport is not None:
            self.transport.write(_wire(statuses))  # type: ignore[attr-defined]

    def _write_prepared(self, lines: tuple[str, ...], data: bytes) -> None:
        """Send positive replies made in advance (the greeting, EHLO's)."""
        peer, record, now = self._peer, self.state.transcript.append, time.time()
        for line in lines:
            record((now, peer, "<<", line))
        if self.transport is not None:
            self.transport.write(data)  # type: ignore[attr-defined]

    def _hook(self, command: str, *arguments: Any) -> Awaitable[Any]:
        # aiosmtpd's _call_handler_hook, one coroutine fewer.
        hook = self._handle_hooks.get(command)
        if hook is None:
            return _missing()
        return hook(self, self.session, self.envelope, *arguments)  # type: ignore[no-any-return]

    async def _fast_exception(self, error: Exception) -> None:
        # As aiosmtpd's command loop answers an exception in a command.
        try:
            status = await self.handle_exception(error)
        except Exception as inner_error:
            status = f"500 Error: ({inner_error.__class__.__name__}) {inner_error}"
        self._write_replies(status)

    # Each _prepare_* method checks, without side effects, that aiosmtpd's
    # smtp_* method would take the successful path; it returns the step that
    # does what that path does (same hooks, same order), or None.

    def _prepare_EHLO(self, hostname: str | None) -> Coroutine[Any, Any, None] | None:
        return self._ehlo(hostname) if hostname else None

    async def _ehlo(self, hostname: str) -> None:
        try:
            await self._before_command("EHLO", hostname)
            assert self.session is not None
            self._set_rset_state()
            self.session.extended_smtp = True
            # The fast path runs without TLS: the reply is the one made for
            # these options when the session was made.
            if self.data_size_limit:
                self.command_size_limits["MAIL"] += 26
            if self.enable_SMTPUTF8:
                self.command_size_limits["MAIL"] += 10
            self.session.host_name = hostname
            self._write_prepared(self._ehlo_reply, self._ehlo_bytes)
        except Exception as error:
            await self._fast_exception(error)

    def _prepare_HELO(self, hostname: str | None) -> Coroutine[Any, Any, None] | None:
        return self._helo(hostname) if hostname else None

    async def _helo(self, hostname: str) -> None:
        try:
            await self._before_command("HELO", hostname)
            assert self.session is not None
            self._set_rset_state()
            self.session.extended_smtp = False
            self.session.host_name = hostname
            self._write_replies(f"250 {self.hostname}")
        except Exception as error:
            await self._fast_exception(error)

    def _prepare_NOOP(self, argument: str | None) -> Coroutine[Any, Any, None] | None:
        return self._simple("NOOP", argument, "250 OK")

    def _prepare_RSET(self, argument: str | None) -> Coroutine[Any, Any, None] | None:
        return None if argument else self._simple("RSET", argument, "250 OK")

    def _prepare_QUIT(self, argument: str | None) -> Coroutine[Any, Any, None] | None:
        return None if argument else self._simple("QUIT", argument, "221 Bye")

    async def _simple(self, command: str, argument: str | None, reply: str) -> None:
        try:
            await self._before_command(command, argument)
            if command == "RSET":
                self._set_rset_state()
            self._write_replies(reply)
            if command == "QUIT":
                assert self._handler_coroutine is not None
                self._handler_coroutine.cancel()
                if self.transport is not None:
                    self.transport.close()
        except Exception as error:
            await self._fast_exception(error)

    def _prepare_MAIL(self, argument: str | None) -> Coroutine[Any, Any, None] | None:
        session, envelope = self.session, self.envelope
        assert session is not None and envelope is not None
        if not session.host_name or self._auth_required or argument is None:
            return None
        text = self._strip_command_keyword("FROM:", argument)
        if text is None:
            return None
        address, parameters = self._getaddr(text)
        if not address or (parameters and not session.extended_smtp):
            return None
        if envelope.mail_from:
            return None
        assert parameters is not None
        options = parameters.upper().split()
        params = self._getparams(options)
        if params is None or params.pop("BODY", "7BIT") not in ("7BIT", "8BITMIME"):
            return None
        smtputf8 = params.pop("SMTPUTF8", False)
        size = params.pop("SIZE", None)
        if not isinstance(smtputf8, bool) or params:
            return None
        if size and (
            isinstance(size, bool)
            or not size.isdigit()
            or (self.data_size_limit and int(size) > self.data_size_limit)
        ):
            return None
        return self._mail(argument, address, options, smtputf8)

    async def _mail(
        self, argument: str, address: str, options: list[str], smtputf8: bool
    ) -> None:
        try:
            await self._before_command("MAIL", argument, address)
            assert self.envelope is not None
            self.envelope.smtp_utf8 = smtputf8
            status = await self._hook("MAIL", address, options)
            if status is MISSING:
                self.envelope.mail_from = address
                self.envelope.mail_options.extend(options)
                status = "250 OK"
            self._write_replies(status)
        except Exception as error:
            await self._fast_exception(error)

    def _prepare_RCPT(self, argument: str | None) -> Coroutine[Any, Any, None] | None:
        session, envelope = self.session, self.envelope
        assert session is not None and envelope is not None
        if not session.host_name or self._auth_required or not envelope.mail_from:
            return None
        if argument is None:
            return None
        text = self._strip_command_keyword("TO:", argument)
        if text is None:
            return None
        address, parameters = self._getaddr(text)
        if not address or (parameters and not session.extended_smtp):
            return None
        assert parameters is not None
        options = parameters.upper().split()
        if self._getparams(options) != {}:
            return None
        return self._rcpt(argument, address, options)

    async def _rcpt(self, argument: str, address: str, options: list[str]) -> None:
        try:
            await self._before_command("RCPT", argument, address)
            assert self.envelope is not None
            status = await self._hook("RCPT", address, options)
            if status is MISSING:
                self.envelope.rcpt_tos.append(address)
                self.envelope.rcpt_options.extend(options)
                status = "250 OK"
            self._write_replies(status)
        except Exception as error:
            await self._fast_exception(error)

    def _prepare_DATA(self, argument: str | None) -> Coroutine[Any, Any, None] | None:
        session, envelope = self.session, self.envelope
        assert session is not None and envelope is not None
        if not session.host_name or self._auth_required or not envelope.rcpt_tos:
            return None
        return None if argument else self._data(argument)

    async def _data(self, argument: str | None) -> None:
        try:
            await self._before_command("DATA", argument)
            self._write_replies(_DATA_REPLY)
            self._body = _Body(self.data_size_limit)
            self._line_start = True
        except Exception as error:
            await self._fast_exception(error)

    def _receive_body(self, buffer: bytes, position: int) -> int | None:
        """Take message data from ``buffer[position:]``; the position after
        the terminating ``.<CR><LF>``, or None when all of it was taken."""
        body = self._body
        assert body is not None
        if self._line_start and buffer.startswith(b".\r\n", position):
            return position + 3
        # One scan in the usual case: the first line that starts with a dot
        # ends the message, and no line before it needs unstuffing.
        dot = buffer.find(b"\r\n.", position)
        if dot >= 0 and buffer.startswith(b"\r\n.\r\n", dot):
            body.add(buffer[position : dot + 2], stuffed=False)
            return dot + 5
        end = buffer.find(b"\r\n.\r\n", dot + 1) if dot >= 0 else -1
        if end >= 0:
            body.add(buffer[position : end + 2])
            return end + 5
        last = buffer.rfind(b"\r\n", position)
        if last >= 0:
            body.add(buffer[position : last + 2])
            position, self._line_start = last + 2, True
        rest = buffer[position:]
        if len(rest) > SMTP.line_length_limit + 1:
            body.overlong_partial_line()  # aiosmtpd's readuntil would overrun
        if body.state != _NOMINAL and len(rest) > 2:
            # Only the end of a line matters now: keep a CR that a LF may follow.
            rest, self._line_start = rest[-1:] if rest.endswith(b"\r") else b"", False
        self._pending = rest
        return None

    async def _end_of_data(self) -> None:
        body, self._body = self._body, None
        assert body is not None and self.envelope is not None
        try:
            if body.state != _NOMINAL:
                self._write_replies(
                    _TOO_LONG_REPLY if body.state == _TOO_LONG else _TOO_MUCH_REPLY
                )
                self._set_post_data_state()
                return
            content = body.content()
            self.envelope.content = content
            self.envelope.original_content = content
            status = await self._hook("DATA")
            self._set_post_data_state()
            self._write_replies("250 OK" if status is MISSING else status)
        except Exception as error:
            await self._fast_exception(error)


# Tests send to the same few addresses again and again: each stored message
# then shares one string per address instead of holding its own copy.
_ADDRESSES: dict[str, str] = {}
_ADDRESSES_KEPT = 10_000


def _shared_address(address: str) -> str:
    shared = _ADDRESSES.get(address)
    if shared is not None:
        return shared
    if len(_ADDRESSES) >= _ADDRESSES_KEPT:
        _ADDRESSES.clear()
    _ADDRESSES[address] = address
    return address


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN = rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_PLAIN_ADDRESS = re.compile(rf"\s*<({_PLAIN})>\s*(.*)\Z", re.S)
_LEAN_ADDRESS = re.compile(
    rf"(?i:MAIL FROM|RCPT TO):<({_PLAIN})>(?i: SIZE=([0-9]+))?\r\Z", re.ASCII
)
_OK_WIRE = b"250 OK\r\n"
_DATA_REPLY = "354 End data with <CR><LF>.<CR><LF>"
_DATA_REPLY_WIRE = _DATA_REPLY.encode() + b"\r\n"
_ACCEPTED_WIRE = ACCEPTED_REPLY.encode() + b"\r\n"


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


_LEAN_HOOKS = {
    "MAIL": MockHandler.handle_MAIL,
    "RCPT": MockHandler.handle_RCPT,
    "DATA": MockHandler.handle_DATA,
}
"""The hooks whose work the lean path does itself, as they were defined."""


# The fast path: plain commands answered inside data_received.
#
# aiosmtpd runs one coroutine per session that reads a line, awaits the
# command's method, pushes and drains each reply, and reads DATA line by line.
# While that coroutine waits idle for the next command (nothing buffered), the
# session answers the plain commands itself, synchronously, as they arrive:
# EHLO, HELO, MAIL, RCPT, DATA, RSET, NOOP and QUIT, in exactly the cases
# where aiosmtpd would accept them. Any other line (AUTH, STARTTLS, HELP,
# VRFY, errors of any kind, over-long lines) and everything after it is
# handed to aiosmtpd's reader, and aiosmtpd answers as always; once its
# coroutine is idle again, the fast path takes over again. Both paths call
# the same hooks (_before_command, the handler's handle_MAIL/RCPT/DATA, push
# recording), so faults, the transcript and rejections are the same.
# utest/test_differential.py proves that both give the same replies and
# store the same messages for any byte stream.
#
# Hooks for new behaviour (fault rules and the like) belong in those same
# places, never in the fast path itself. A hook may await (a delay): the
# command then finishes in a task and later input waits for it.
#
# Within the fast path, the lean path answers the commands of a plain
# message (MAIL FROM:<a@b> with at most SIZE=, RCPT TO:<c@d>, DATA, in any
# case, and the end of data) without a step: with the library's own handler,
# and while the fault rules' gates say that no rule can apply, the hooks
# would do nothing but what it does.
# It judges the same gates; whenever one passes, the step runs as before.
# A new hook in the handler must be mirrored there, or turn it off
# (_lean_path_allowed); the differential test covers both.

COMMAND_LINE_LIMIT = SMTP.line_length_limit + 1  # what readuntil(b"\n") accepts
DATA_LINE_LIMIT = SMTP.line_length_limit  # a DATA line with its CRLF
READ_CAP_PER_TURN = 64 * 1024  # bytes one session may take per loop turn
ASYNCIO_READ_SIZE = 64 * 1024  # instead of 256 KiB: no fresh mmap per recv()
_TOO_LONG_REPLY = "500 Line too long (see RFC5321 4.5.3.1.6)"
_TOO_MUCH_REPLY = "552 Error: Too much mail data"
_NOMINAL, _TOO_LONG, _TOO_MUCH = 0, 1, 2


def _nothing() -> None:
    pass


class _IdleAwareReader(asyncio.StreamReader):
    """aiosmtpd's stream reader, telling the session when aiosmtpd's command
    loop waits for a new command with nothing buffered: the only moment the
    fast path may take over. DATA (``readuntil(b"\\r\\n")``), AUTH challenges
    (``readline()``) and the rest of an over-long command line are not it."""

    def __init__(self, on_idle: Callable[[], None], **options: Any):
        super().__init__(**options)
        self._on_idle = on_idle
        self._in_readline = False
        self._draining = False

    def forget_idle_callback(self) -> None:
        self._on_idle = _nothing

    async def readline(self) -> bytes:
        self._in_readline = True
        try:
            return await super().readline()
        finally:
            self._in_readline = False

    async def readuntil(self, separator: Any = b"\n") -> bytes:
        command_loop = separator == b"\n" and not self._in_readline
        if command_loop and not self._draining and not self._buffer:  # type: ignore[attr-defined]
            self._on_idle()
        try:
            line = await super().readuntil(separator)
        except asyncio.LimitOverrunError:
            if command_loop:
                self._draining = True  # aiosmtpd now reads the rest of the line
            raise
        if command_loop:
            self._draining = False
        return line


class _Resumed:
    """Awaits a coroutine that was started by hand and is suspended on
    ``future``, so that a task can finish it (a fault rule's delay)."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any], future: Any):
        self.coroutine, self.future = coroutine, future

    def __await__(self) -> Generator[Any, Any, Any]:
        waiting_on = self.future
        while True:
            try:
                value = yield waiting_on
            except BaseException as error:  # thrown in by the task: cancelled
                try:
                    waiting_on = self.coroutine.throw(error)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting_on = self.coroutine.send(value)
                except StopIteration as done:
                    return done.value


class _Body:
    """A message body arriving in pieces: checked against aiosmtpd's line
    length and size limits, dot-unstuffed, and stored without a copy per line.

    ``add()`` takes whole lines (a region that starts at a line start and ends
    with CRLF). The result is one bytes object built in one buffer, so that
    receiving a big message costs little more memory than the message."""

    __slots__ = ("first", "limit", "num_bytes", "state", "stream")

    def __init__(self, limit: int | None):
        self.limit = limit
        self.num_bytes = 0
        self.state = _NOMINAL
        self.first: bytes | None = None
        self.stream: io.BytesIO | None = None

    def add(self, region: bytes, stuffed: bool = True) -> None:
        """Take ``region``; ``stuffed=False`` when no line in it but the
        first can start with a dot."""
        if self.state != _NOMINAL:  # only the terminator matters now
            self.num_bytes += len(region)
            return
        if (
            self.limit and self.num_bytes + len(region) > self.limit
        ) or _has_overlong_line(region):
            self._check_each(region.split(b"\r\n")[:-1])
        self.num_bytes += len(region)
        if self.state != _NOMINAL:
            return
        if region[:1] == b".":
            region = region[1:]
        if stuffed and region.find(b"\r\n.") >= 0:
            region = region.replace(b"\r\n.", b"\r\n")
        if self.first is None:
            self.first = region
            return
        if self.stream is None:
            self.stream = io.BytesIO()
            self.stream.write(self.first)
            self.first = b""
        self.stream.write(region)

    def _check_each(self, lines: list[bytes]) -> None:
        """aiosmtpd's order of checks, line by line (the rare case)."""
        num_bytes = self.num_bytes
        for content in lines:
            length = len(content) + 2
            if length - 2 > SMTP.line_length_limit:  # readuntil's limit overrun
                self._fail(_TOO_LONG)
                return
            num_bytes += length
            if self.limit and num_bytes > self.limit:
                self._fail(_TOO_MUCH)
                return
            if length > DATA_LINE_LIMIT:
                self._fail(_TOO_LONG)
                return

    def overlong_partial_line(self) -> None:
        """The current line has grown past the limit without its CRLF."""
        if self.state == _NOMINAL:
            self._fail(_TOO_LONG)

    def _fail(self, state: int) -> None:
        self.state = state
        self.first, self.stream = None, None  # discard at once, as aiosmtpd does

    def content(self) -> bytes:
        if self.stream is not None:
            return self.stream.getvalue()  # no copy: BytesIO hands over its buffer
        return self.first or b""


def _has_overlong_line(region: bytes) -> bool:
    """Whether a line of ``region`` (whole lines, each with its CRLF) is
    longer than a DATA line may be; without splitting it into lines: each
    step looks for the last CRLF within one line's length."""
    span, start, size = DATA_LINE_LIMIT, 0, len(region)
    while size - start > span:
        end = region.rfind(b"\r\n", start, start + span)
        if end < 0:
            return True
        start = end + 2
    return False


class SessionFactory:
    """Makes sessions as aiosmtpd's ``SMTP.__init__`` would, without its
    per-session introspection (``inspect.getmembers``, ``dir``: 90 % of the
    cost of a new connection).

    One prototype session is built the full aiosmtpd way; each new session
    gets a fresh stream reader and protocol state, the prototype's
    configuration (containers copied), and its method tables bound to itself.
    The fast path's state is the prototype's, which never had a connection.
    ``utest/test_differential.py`` checks that the result equals a session
    built by ``SMTP.__init__``.
    """

    def __init__(self, handler: MockHandler, **options: Any):
        prototype = MockSMTP(handler, **options)
        self.loop = prototype.loop
        connection_state = set(
            vars(
                asyncio.StreamReaderProtocol(
                    asyncio.StreamReader(loop=self.loop),
                    client_connected_cb=lambda reader, writer: None,
                    loop=self.loop,
                )
            )
        )
        self._shared: dict[str, Any] = {}
        self._copied: dict[str, Any] = {}
        self._rebound: dict[str, Callable[[object], Any]] = {}
        for name, value in vars(prototype).items():
            if name in connection_state:
                continue
            if _bound_to(value, prototype) or (
                isinstance(value, dict)
                and any(_bound_to(_method_of(v), prototype) for v in value.values())
            ):  # a method, or a table of them (_smtp_methods, _auth_methods)
                self._rebound[name] = _rebinder(value, prototype)
            elif isinstance(value, (dict, list, set)):
                self._copied[name] = value
            else:
                self._shared[name] = value
        prototype._release()  # it holds the server's state, as a session does

    def __call__(self) -> MockSMTP:
        session = MockSMTP.__new__(MockSMTP)
        session._attach_reader(self.loop)
        attributes = vars(session)
        attributes.update(self._shared)
        for name, value in self._copied.items():
            attributes[name] = value.copy()
        for name, rebind in self._rebound.items():
            attributes[name] = rebind(session)
        MockSMTP.command_size_limits.clear()  # as every SMTP.__init__ does
        return session


class _BoundTable(Mapping[str, Any]):
    """One of aiosmtpd's tables of a session's methods (its smtp_* commands,
    its AUTH mechanisms), each entry bound to the session when looked up:
    most sessions never look one up."""

    __slots__ = ("_makers", "_owner")

    def __init__(self, owner: object, makers: dict[str, Callable[[object], Any]]):
        self._owner, self._makers = owner, makers

    def __getitem__(self, key: str) -> Any:
        return self._makers[key](self._owner)

    def __contains__(self, key: object) -> bool:
        return key in self._makers

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)


def _method_of(value: Any) -> Any:
    # aiosmtpd's _auth_methods holds (method, is_builtin) named tuples.
    return value[0] if isinstance(value, tuple) and value else value


def _bound_to(value: Any, owner: object) -> bool:
    return getattr(value, "__self__", None) is owner


def _rebinder(value: Any, prototype: object) -> Callable[[object], Any]:
    """A function giving ``value`` as it is for another session: methods of
    the prototype bound to that session instead."""
    if isinstance(value, dict):
        makers = {key: _rebinder(item, prototype) for key, item in value.items()}
        return lambda owner: _BoundTable(owner, makers)
    if isinstance(value, tuple) and value and _bound_to(value[0], prototype):
        kind, name, rest = type(value), value[0].__func__.__name__, value[1:]
        return lambda owner: kind(getattr(owner, name), *rest)
    if _bound_to(value, prototype):
        method_name = value.__func__.__name__
        return lambda owner: getattr(owner, method_name)
    return lambda owner: value


def _wire(replies: Sequence[str]) -> bytes:
    """Reply lines as sent: each with its CRLF, in UTF-8."""
    if len(replies) == 1:
        return (replies[0] + "\r\n").encode()
    return "".join([reply + "\r\n" for reply in replies]).encode()


async def _missing() -> Any:
    return MISSING


class _NoTask:
    """Stands for aiosmtpd's session task when there is none: until it is
    needed (aiosmtpd cancels its task when the connection ends, and there is
    none to cancel), and once the session ended (the ended task would keep
    the session alive through the traceback of its cancellation)."""

    def cancel(self) -> bool:
        return False


_NOT_STARTED = _NoTask()
_ENDED = _NoTask()


_FAST_COMMANDS: dict[
    bytes, tuple[str, Callable[..., Coroutine[Any, Any, None] | None]]
] = {
    name.encode(): (name, getattr(MockSMTP, f"_prepare_{name}"))
    for name in ("EHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT")
}
