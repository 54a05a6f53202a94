"""The fast path: plain SMTP commands answered inside ``data_received``.

aiosmtpd runs one coroutine per session that reads a line, awaits the
command's method, pushes and drains each reply, and reads DATA line by line.
While that coroutine waits idle for the next command (nothing buffered), the
session answers the plain commands itself, synchronously, as they arrive:
EHLO, HELO, MAIL, RCPT, DATA, RSET, NOOP and QUIT, in exactly the cases
where aiosmtpd would accept them. Any other line (AUTH, STARTTLS, HELP,
VRFY, errors of any kind, over-long lines) and everything after it is
handed to aiosmtpd's reader, and aiosmtpd answers as always; once its
coroutine is idle again, the fast path takes over again. Both paths call
the same hooks (``_before_command``, the handler's ``handle_MAIL/RCPT/DATA``,
push recording), so faults, the transcript and rejections are the same.
``utest/test_differential.py`` proves that both give the same replies and
store the same messages for any byte stream.

Hooks for new behaviour (fault rules and the like) belong in those same
places, never in the fast path itself. A hook may await (a delay): the
command then finishes in a task and later input waits for it.

Within the fast path, the lean path answers the commands of a plain
message (``MAIL FROM:<a@b>`` with at most ``SIZE=``, ``RCPT TO:<c@d>``,
``DATA``, in any case, and the end of data) without a step: with the
handler's own hooks (its ``lean_hooks``), and while the fault rules' gates
say that no rule can apply, the hooks would do nothing but what it does. It
judges the same gates (a session that has stored a message remembers what
each one let through last, and judges again only what changed); whenever
one passes, the step runs as before. A new hook in the handler must be
mirrored there, or turn it off (``_lean_path_allowed``); the differential
test covers both.

``FastPath`` is the part of the session class (``protocol.MockSMTP``) that
does this; everything here runs on the server's event loop thread.
"""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import ALLOWED_BEFORE_STARTTLS, MISSING, SMTP

from .faults import END_OF_DATA

if TYPE_CHECKING:
    from .protocol import ServerState

ACCEPTED_REPLY = "250 OK: message accepted"

COMMAND_LINE_LIMIT = SMTP.line_length_limit + 1  # what readuntil(b"\n") accepts
DATA_LINE_LIMIT = SMTP.line_length_limit  # a DATA line with its CRLF
READ_CAP_PER_TURN = 64 * 1024  # bytes one session may take per loop turn
_TOO_LONG_REPLY = "500 Line too long (see RFC5321 4.5.3.1.6)"
_TOO_MUCH_REPLY = "552 Error: Too much mail data"
_NOMINAL, _TOO_LONG, _TOO_MUCH = 0, 1, 2

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
_LEAN_HOOK_NAMES = ("MAIL", "RCPT", "DATA")  # the hooks the lean path stands in for
# What a session's gates have let through when it starts to remember: nothing.
_NOTHING_CLEARED = dict.fromkeys(("MAIL", "RCPT", "DATA", END_OF_DATA))
_OK_WIRE = b"250 OK\r\n"
_DATA_REPLY = "354 End data with <CR><LF>.<CR><LF>"
_DATA_REPLY_WIRE = _DATA_REPLY.encode() + b"\r\n"
_ACCEPTED_WIRE = ACCEPTED_REPLY.encode() + b"\r\n"


class FastPath(SMTP):
    """The fast and lean paths of a session (see the module): ``MockSMTP``
    builds on them, and supplies the recording and fault hooks they call."""

    fast_path = True
    """Answer plain commands in ``data_received``; False leaves every command
    to aiosmtpd's own loop."""

    if TYPE_CHECKING:  # given by MockSMTP: keep these in step with it
        state: ServerState
        rules_may_apply: bool

        async def _before_command(
            self, command: str, argument: str | None, address: str | None = None
        ) -> None: ...

        def _record(self, direction: str, line: str) -> None: ...

        def _note_reply(self, status: str) -> None: ...

        def _aiosmtpd_ended(self, task: asyncio.Task[None]) -> None: ...

        @property
        def _peer(self) -> tuple[str, int] | None: ...

    def _attach_reader(self, loop: asyncio.AbstractEventLoop) -> None:
        # The stream protocol's own state, with a reader that reports when
        # aiosmtpd's command loop is idle.
        asyncio.StreamReaderProtocol.__init__(
            self,
            IdleAwareReader(self._on_idle, limit=self.line_length_limit, loop=loop),
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
        # Per command, the facts its gate last let through: a gate's verdict
        # depends on them alone (and on the rate limits, see Gate.reads_rates),
        # so a session sending the same envelope again is not judged again.
        # None until the session has stored a message: most sessions send
        # one, and remembering for them would cost what it never saves.
        # aiosmtpd's commands may change the session (AUTH): forgotten then.
        self._cleared: dict[str, tuple[object, ...] | None] | None = None
        self._fast_allowed = self._fast_path_allowed()
        self._lean_allowed = self._fast_allowed and self._lean_path_allowed()
        self._ehlo_reply = self._ehlo_lines()
        self._ehlo_bytes = _wire(self._ehlo_reply)
        self._greeting_reply = (self._greeting(),)
        self._greeting_bytes = _wire(self._greeting_reply)

    def _fast_path_allowed(self) -> bool:
        """Whether these options let the fast path answer (see the module)."""
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
        """Whether the lean path (see the module) may answer besides: the
        handler's own hooks, as it declares them in ``lean_hooks`` (not
        replaced, say by a test), and no option it does not check."""
        hooks = self._handle_hooks
        lean_hooks = getattr(type(self.event_handler), "lean_hooks", None)
        return bool(
            isinstance(lean_hooks, dict)
            and all(
                name in lean_hooks
                and getattr(hooks.get(name), "__func__", None) is lean_hooks[name]
                for name in _LEAN_HOOK_NAMES
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
        self._handler_coroutine = NOT_STARTED  # type: ignore[assignment]
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

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd parses every address with the full RFC 5322 header parser,
        # the costliest step of a message. Plain <local@domain> addresses give
        # the same result from a regular expression; anything else goes the
        # full way.
        match = _PLAIN_ADDRESS.match(arg)
        if match and not self.local_part_limit:
            return _shared_address(match.group(1)), match.group(2)
        return super()._getaddr(arg)

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
        self._cleared = None
        if self._handler_coroutine is NOT_STARTED:
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
        # _before_command judges them on; not again for the same facts.
        faults = self.state.faults
        gate = faults.gates_before.get(command)
        if gate is not None:
            kept = self._cleared
            if (
                kept is None
                # With the command, all the gate judges:
                or kept[command] != (gate, address, sender, earlier)
                or (gate.reads_rates and faults.headroom <= 0)
            ):
                try:
                    if gate.passes(address, sender, recipients, earlier, session, b""):
                        return False
                except Exception:  # the step judges again and answers the error
                    return False
                # DATA's verdict is on all the recipients: not kept.
                if kept is not None and command != "DATA":
                    kept[command] = (gate, address, sender, earlier)
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
            sender, recipients = envelope.mail_from, envelope.rcpt_tos
            kept = self._cleared
            try:
                if kept is None or kept[END_OF_DATA] != (gate, sender, recipients):
                    if gate.passes(None, sender, recipients, 0, self.session, content):
                        return self._end_of_data()
                    if kept is not None:
                        kept[END_OF_DATA] = (gate, sender, list(recipients))
                elif gate.headers:  # what else passes() looks at: the headers
                    end = content.find(b"\r\n\r\n")
                    block = (content if end < 0 else content[:end]).lower()
                    for name in gate.headers:
                        if block.find(name) >= 0:
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
        if self._cleared is None:  # a session that may send more: remember
            self._cleared = _NOTHING_CLEARED.copy()
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


def _nothing() -> None:
    pass


class IdleAwareReader(asyncio.StreamReader):
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


NOT_STARTED = _NoTask()
ENDED = _NoTask()


_FAST_COMMANDS: dict[
    bytes, tuple[str, Callable[..., Coroutine[Any, Any, None] | None]]
] = {
    name.encode(): (name, getattr(FastPath, f"_prepare_{name}"))
    for name in ("EHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT")
}
