"""POP3 (RFC 1939, with CAPA, UIDL, TOP, AUTH PLAIN and STLS) over the maildrops.

Hand-written: no maintained POP3 server library runs on asyncio (Twisted's
has no STLS and needs its own reactor). It is small because POP3 is: one
line in, one reply out. The logins and per-user maildrops are those of the
IMAP service (:mod:`._maildrops`). As Dovecot does, ``RETR`` marks a message
``\\Seen``; ``DELE`` and ``QUIT`` remove it from that user's maildrop only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import socket
import ssl
import sys
from typing import Any

from ..errors import ConfigurationError
from ..message import ReceivedMessage
from ._maildrops import POP3_DELETED, SEEN, Maildrops
from ._on_loop import ServiceOnLoop

ORIGIN = "pop3"
MAX_LINE = 1024  # RFC 1939 allows 255 octets per command, RFC 5034 more for AUTH
IDLE_TIMEOUT = 600.0  # RFC 1939's minimum autologout timer
_DOT_AT_LINE_START = re.compile(rb"(^|\n)\.")


class Pop3Service(ServiceOnLoop):
    """A POP3 server over ``maildrops``, run on ``loop`` (the SMTP server's)."""

    def __init__(
        self,
        maildrops: Maildrops,
        loop: asyncio.AbstractEventLoop,
        sockets: list[socket.socket],
        *,
        tls: str = "none",
        ssl_context: ssl.SSLContext | None = None,
    ):
        if tls == "starttls" and sys.version_info < (3, 11):
            raise ConfigurationError(
                "POP3 STLS needs Python 3.11 or newer; use tls=implicit or none."
            )
        super().__init__(maildrops, loop, sockets, tls=tls, ssl_context=ssl_context)

    async def _start(self) -> None:
        ssl_context = self.ssl_context if self.tls == "implicit" else None
        for sock in self._sockets:
            self._servers.append(
                await asyncio.start_server(
                    self._serve, sock=sock, ssl=ssl_context, limit=MAX_LINE
                )
            )

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
        for writer in list(self._connections):
            writer.transport.abort()
        for server in self._servers:
            await server.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._connections.add(writer)
        try:
            await _Session(self, reader, writer).run()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away
        finally:
            self._connections.discard(writer)
            writer.transport.abort()


class _Session:
    """One POP3 conversation: AUTHORIZATION, then TRANSACTION, then UPDATE."""

    def __init__(
        self,
        service: Pop3Service,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ):
        self.service = service
        self.maildrops = service.maildrops
        self.reader, self.writer = reader, writer
        self.tls_active = service.tls == "implicit"
        self.user: str | None = None
        self.login: str | None = None
        self.messages: list[ReceivedMessage] = []
        self.deleted: set[int] = set()

    async def run(self) -> None:
        await self.reply("+OK SMTPMockLibrary POP3 server ready")
        while True:
            line = await self.read_line()
            if not line:
                return
            command, _, argument = (
                line.decode("utf-8", "replace").strip().partition(" ")
            )
            if not await self.dispatch(command.upper(), argument.strip()):
                return

    async def dispatch(self, command: str, argument: str) -> bool:
        """Answer one command; ``False`` ends the session."""
        if command == "QUIT":
            await self.quit()
            return False
        if command == "CAPA":
            return await self.capa()
        handler = (
            self.transaction_commands
            if self.login is not None
            else self.authorization_commands
        ).get(command)
        if handler is None:
            known = command in self.transaction_commands or command in (
                self.authorization_commands
            )
            reason = "not allowed now" if known else "unknown command"
            await self.reply(f"-ERR {command[:20] or 'Empty line'}: {reason}.")
            return True
        return await handler(self, argument)

    async def read_line(self) -> bytes:
        """The client's next line; ``b""`` when the session is over."""
        try:
            return await asyncio.wait_for(self.reader.readline(), IDLE_TIMEOUT)
        except ValueError:  # longer than MAX_LINE
            await self.reply("-ERR Line too long; closing.")
            return b""

    async def reply(self, line: str) -> None:
        self.writer.write(line.encode("utf-8", "replace") + b"\r\n")
        await self.writer.drain()

    async def multiline(self, first: str, body: bytes) -> None:
        stuffed = _DOT_AT_LINE_START.sub(rb"\1..", body)
        end = b".\r\n" if stuffed.endswith(b"\r\n") or not stuffed else b"\r\n.\r\n"
        self.writer.write(first.encode() + b"\r\n" + stuffed + end)
        await self.writer.drain()

    # AUTHORIZATION state.

    async def capa(self) -> bool:
        capabilities = ["TOP", "UIDL", "USER", "RESP-CODES", "AUTH-RESP-CODE"]
        capabilities += ["SASL PLAIN", "PIPELINING", "IMPLEMENTATION SMTPMockLibrary"]
        if self.service.tls == "starttls" and not self.tls_active:
            capabilities.append("STLS")
        await self.multiline("+OK Capability list follows", _lines(capabilities))
        return True

    async def stls(self, argument: str) -> bool:
        if self.service.tls != "starttls" or self.tls_active:
            await self.reply("-ERR STLS is not available.")
            return True
        await self.reply("+OK Begin TLS negotiation")
        assert self.service.ssl_context is not None
        start_tls: Any = self.writer.start_tls  # type: ignore[attr-defined]
        try:
            await start_tls(self.service.ssl_context)
        except (ssl.SSLError, OSError):
            return False
        self.tls_active = True
        return True

    async def user_command(self, argument: str) -> bool:
        if not argument:
            await self.reply("-ERR USER needs a name.")
            return True
        self.user = argument
        await self.reply("+OK Send your password")
        return True

    async def pass_command(self, argument: str) -> bool:
        if self.user is None:
            await self.reply("-ERR Send USER first.")
            return True
        user, self.user = self.user, None
        return await self.log_in(user, argument)

    async def auth(self, argument: str) -> bool:
        mechanism, _, initial = argument.partition(" ")
        if not mechanism:
            await self.multiline("+OK SASL mechanisms follow", _lines(["PLAIN"]))
            return True
        if mechanism.upper() != "PLAIN":
            await self.reply(f"-ERR Unsupported SASL mechanism '{mechanism[:20]}'.")
            return True
        if not initial:
            await self.reply("+ ")
            line = await self.read_line()
            if not line:
                return False
            initial = line.decode("ascii", "replace").strip()
            if initial == "*":
                await self.reply("-ERR AUTH cancelled.")
                return True
        try:
            _authzid, user, password = (
                base64.b64decode(initial, validate=True).decode("utf-8").split("\0")
            )
        except (binascii.Error, UnicodeDecodeError, ValueError):
            await self.reply("-ERR Malformed AUTH PLAIN response.")
            return True
        return await self.log_in(user, password)

    async def log_in(self, user: str, password: str) -> bool:
        login = self.maildrops.login(user, password)
        if login is None:
            await self.reply("-ERR [AUTH] Invalid login or password.")
            return True
        self.login = login
        self.messages = self.maildrops.messages(login)
        await self.reply(f"+OK {len(self.messages)} message(s) in the maildrop")
        return True

    # TRANSACTION state.

    def message(self, number: str) -> ReceivedMessage | None:
        index = int(number) - 1 if number.isdigit() else -1
        if 0 <= index < len(self.messages) and index not in self.deleted:
            return self.messages[index]
        return None

    async def no_such_message(self, number: str) -> bool:
        await self.reply(f"-ERR No such message: '{number[:20]}'.")
        return True

    def live(self) -> list[tuple[int, ReceivedMessage]]:
        return [
            (i + 1, m) for i, m in enumerate(self.messages) if i not in self.deleted
        ]

    async def stat(self, argument: str) -> bool:
        live = self.live()
        await self.reply(f"+OK {len(live)} {sum(m.size for _, m in live)}")
        return True

    async def list_command(self, argument: str) -> bool:
        if argument:
            message = self.message(argument)
            if message is None:
                return await self.no_such_message(argument)
            await self.reply(f"+OK {argument} {message.size}")
            return True
        lines = [f"{n} {m.size}" for n, m in self.live()]
        await self.multiline(f"+OK {len(lines)} messages", _lines(lines))
        return True

    async def uidl(self, argument: str) -> bool:
        if argument:
            message = self.message(argument)
            if message is None:
                return await self.no_such_message(argument)
            await self.reply(f"+OK {argument} {self.unique_id(message)}")
            return True
        lines = [f"{n} {self.unique_id(m)}" for n, m in self.live()]
        await self.multiline("+OK Unique ids follow", _lines(lines))
        return True

    def unique_id(self, message: ReceivedMessage) -> str:
        return f"{self.maildrops.uidl_prefix}.{message.sequence}"

    async def retr(self, argument: str) -> bool:
        message = self.message(argument)
        if message is None:
            return await self.no_such_message(argument)
        assert self.login is not None
        # Marked before sending, so that a client that has the message also
        # finds it \Seen.
        self.maildrops.add_flag(self.login, message, SEEN, ORIGIN)
        await self.multiline(f"+OK {message.size} octets", message.raw)
        return True

    async def top(self, argument: str) -> bool:
        number, _, count = argument.partition(" ")
        message = self.message(number)
        if message is None:
            return await self.no_such_message(number)
        if not count.strip().isdigit():
            await self.reply("-ERR TOP needs a message number and a line count.")
            return True
        await self.multiline(
            "+OK Top of message follows", _top(message.raw, int(count))
        )
        return True

    async def dele(self, argument: str) -> bool:
        if self.message(argument) is None:
            return await self.no_such_message(argument)
        self.deleted.add(int(argument) - 1)
        await self.reply(f"+OK Message {argument} deleted")
        return True

    async def rset(self, argument: str) -> bool:
        self.deleted.clear()
        await self.reply(f"+OK {len(self.messages)} message(s)")
        return True

    async def noop(self, argument: str) -> bool:
        await self.reply("+OK")
        return True

    async def quit(self) -> None:
        """UPDATE state: remove what was deleted, from this user's view only."""
        if self.login is not None:
            for index in sorted(self.deleted):
                self.maildrops.remove(
                    self.login, self.messages[index], POP3_DELETED, ORIGIN
                )
        await self.reply(f"+OK Bye ({len(self.deleted)} message(s) deleted)")

    authorization_commands = {
        "USER": user_command,
        "PASS": pass_command,
        "AUTH": auth,
        "STLS": stls,
    }
    transaction_commands = {
        "STAT": stat,
        "LIST": list_command,
        "UIDL": uidl,
        "RETR": retr,
        "TOP": top,
        "DELE": dele,
        "RSET": rset,
        "NOOP": noop,
    }


def _lines(lines: list[str]) -> bytes:
    return "".join(f"{line}\r\n" for line in lines).encode()


def _top(raw: bytes, count: int) -> bytes:
    """The header, the blank line and the first ``count`` lines of the body."""
    match = re.search(rb"\r?\n\r?\n", raw)
    if match is None:
        return raw
    body_lines = raw[match.end() :].splitlines(keepends=True)
    return raw[: match.end()] + b"".join(body_lines[:count])
