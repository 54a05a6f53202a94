"""IMAP over the server's mailbox, on pymap (an asyncio IMAP4rev1 server).

pymap parses and answers every IMAP command (FETCH, SEARCH, STORE, UID,
EXPUNGE, IDLE, STARTTLS, ...) on the mock SMTP server's own event loop.
What this module adds is the backend: a login for every recipient and the
catch-all ``*`` (see :mod:`._maildrops`), each with an INBOX filled from the
server's mailbox and kept current by a mailbox listener, so that a client in
IDLE hears of a message as soon as it is stored. Flag changes and expunges
are written through to the maildrops, where the suite reads them.

A reset (``MockSMTPServer.reset()``, or the HTTP API emptying the mailbox)
reaches open sessions as if another client had expunged what it removed: they
get ``* n EXPUNGE`` at their next command, or at once in IDLE (a mailbox
reset listener). UIDVALIDITY stays and UIDs are never reused: mail stored
after the reset gets UIDs above the old ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
from argparse import Namespace
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager, closing
from datetime import timezone
from typing import Any

from ..errors import ServerError
from ..mailbox import Mailbox
from ..message import ReceivedMessage
from ._maildrops import EXPUNGED, Maildrops, normalize_login
from ._on_loop import ServiceOnLoop

try:
    from proxyprotocol.noop import ProxyProtocolNoop
    from proxyprotocol.reader import ProxyProtocolReader
    from pymap.backend.dict import Config as _DictConfig
    from pymap.backend.dict import Session as _DictSession
    from pymap.backend.dict.filter import FilterSet
    from pymap.backend.dict.mailbox import MailboxData, MailboxSet, Message
    from pymap.concurrent import Event, Subsystem
    from pymap.config import BackendCapability
    from pymap.context import connection_exit
    from pymap.exceptions import AuthorizationFailure, InvalidAuth, NotAllowedError
    from pymap.flags import FlagOp
    from pymap.imap import IMAPConnection, IMAPServer
    from pymap.imap.state import ConnectionState
    from pymap.interfaces.login import IdentityInterface, LoginInterface
    from pymap.interfaces.message import CachedMessage
    from pymap.mailbox import MailboxSnapshot
    from pymap.parsing.command import Command
    from pymap.parsing.message import AppendMessage
    from pymap.parsing.response import ResponseBad, ResponseBye, ResponseCode
    from pymap.parsing.specials.flag import Flag
    from pymap.selected import SelectedMailbox
    from pymap.token import AllTokens
    from pymap.user import UserMetadata
    from pysasl.creds.server import ServerCredentials
except ImportError:  # pragma: no cover - depends on the installed extras
    raise ServerError(
        "The mock IMAP server needs pymap (Python 3.11 or newer): "
        "pip install robotframework-smtpmocklibrary[imap]"
    ) from None

ORIGIN = "imap"
RESET = None  # in the queue of arrivals: the mailbox was emptied
_log = logging.getLogger(__name__)


def _not_client_input(record: logging.LogRecord) -> bool:
    # pymap's debug log shows every line a client sends, LOGIN passwords and
    # AUTHENTICATE secrets included: those lines are never logged here.
    return "-->|" not in str(record.msg)


logging.getLogger("pymap.imap").addFilter(_not_client_input)


class ImapService(ServiceOnLoop):
    """An IMAP server over ``maildrops``, run on ``loop`` (the SMTP server's).

    ``tls`` is ``none``, ``starttls`` or ``implicit``; ``ssl_context`` is
    needed for the last two.
    """

    def __init__(
        self,
        maildrops: Maildrops,
        loop: asyncio.AbstractEventLoop,
        sockets: list[socket.socket],
        *,
        tls: str = "none",
        ssl_context: ssl.SSLContext | None = None,
    ):
        super().__init__(maildrops, loop, sockets, tls=tls, ssl_context=ssl_context)
        self._config = _config(ssl_context if tls == "starttls" else None)
        self._users: dict[str, _UserMailboxes] = {}
        self._arrivals: asyncio.Queue[ReceivedMessage | None] = asyncio.Queue()
        self._creating = asyncio.Lock()
        self._tasks: list[asyncio.Task[Any]] = []
        # Made once, so that adding and removing them gets the same objects.
        self._stored_listener = self._on_stored
        self._reset_listener = self._on_reset
        self._change_observer = self._on_changed

    # On the event loop.

    async def _start(self) -> None:
        self._tasks.append(asyncio.create_task(self._deliver_arrivals()))
        self.maildrops.mailbox.add_listener(self._stored_listener)
        self.maildrops.mailbox.add_reset_listener(self._reset_listener)
        self.maildrops.add_observer(self._change_observer)
        login = _Login(self._config, self)
        imap_server = _IMAPServer(login, self._config)

        async def serve(reader: Any, writer: Any, sock_info: Any) -> None:
            self._connections.add(writer)
            try:
                await imap_server(reader, writer, sock_info)
            except Exception as error:  # a broken client must not stop the rest
                _log.debug("IMAP connection ended: %r", error)
            finally:
                self._connections.discard(writer)

        callback = ProxyProtocolReader(ProxyProtocolNoop()).get_callback(serve)
        ssl_context = self.ssl_context if self.tls == "implicit" else None
        for sock in self._sockets:
            self._servers.append(
                await asyncio.start_server(callback, sock=sock, ssl=ssl_context)
            )

    async def _stop(self) -> None:
        self.maildrops.mailbox.remove_listener(self._stored_listener)
        self.maildrops.mailbox.remove_reset_listener(self._reset_listener)
        self.maildrops.remove_observer(self._change_observer)
        for server in self._servers:
            server.close()
        for writer in list(self._connections):
            writer.transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()

    def _on_stored(self, message: ReceivedMessage) -> None:
        # Called on the storing thread: the SMTP loop, or a test's deliver().
        # Never let the IMAP service fail the storing of a message.
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self.loop.call_soon_threadsafe(self._arrivals.put_nowait, message)

    def _on_reset(self) -> None:
        # Called on the resetting thread, in order with the arrivals.
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self.loop.call_soon_threadsafe(self._arrivals.put_nowait, RESET)

    async def _deliver_arrivals(self) -> None:
        while True:
            message = await self._arrivals.get()
            try:
                for login, mailboxes in list(self._users.items()):
                    if message is RESET:
                        await mailboxes.inbox.forget_cleared()
                    elif self.maildrops.receives(login, message):
                        await mailboxes.inbox.add_received(message)
            except Exception as error:  # pymap parses anything seen so far
                what = "a reset" if message is RESET else f"message #{message.sequence}"
                _log.warning("IMAP could not take in %s: %r", what, error)
            finally:
                self._arrivals.task_done()  # logins wait for this

    def _on_changed(self, login: str, message: ReceivedMessage, origin: str) -> None:
        # POP3 read or deleted a message: show it in this user's INBOX too.
        mailboxes = self._users.get(login)
        if origin != ORIGIN and mailboxes is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(self._follow, mailboxes.inbox, message)

    def _follow(self, inbox: _Inbox, message: ReceivedMessage) -> None:
        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(asyncio.create_task(inbox.follow(message)))

    async def mailboxes_of(self, login: str) -> _UserMailboxes:
        """The mailboxes of ``login``, its INBOX in step with the maildrop."""
        await self._arrivals.join()  # what was stored is in every INBOX
        async with self._creating:
            # Registered first, so that a message stored meanwhile is added too
            # (adding is idempotent).
            mailboxes = self._users.get(login)
            if mailboxes is None:
                mailboxes = self._users[login] = _UserMailboxes(login, self.maildrops)
            await mailboxes.inbox.forget_cleared()
            for message in self.maildrops.messages(login):
                await mailboxes.inbox.add_received(message)
        return mailboxes


# What the literals of one command may add up to: before login a user name and
# a password (pymap refuses a synchronizing literal over 4 KiB in any command
# but APPEND); after it, an APPEND up to APPENDLIMIT and any other command 64 KiB.
_LITERALS_BEFORE_LOGIN = 8 * 1024
_LITERALS_IN_A_COMMAND = 64 * 1024
_APPEND = re.compile(rb"\S+ APPEND ", re.IGNORECASE)
_TAG = re.compile(rb"[\x21-\x7e]{1,64}(?= )")


class _IMAPServer(IMAPServer):
    """pymap's server, its connections :class:`_Connection`."""

    async def __call__(self, reader: Any, writer: Any, sock_info: Any) -> None:
        conn = _Connection(self.commands, self._config, reader, writer, sock_info)
        state = ConnectionState(self._login, self._config)
        async with AsyncExitStack() as stack:
            connection_exit.set(stack)
            stack.enter_context(closing(conn))
            await conn.run(state)


class _Connection(IMAPConnection):
    """pymap's connection, with the literals of a command bounded.

    pymap reads a non-synchronizing literal (``{N+}``, LITERAL+) whole before
    parsing the command, whatever N is: a client could make the server buffer
    gigabytes, before login. Here a literal that takes its command over the
    bound is answered ``BAD [TOOBIG]`` and ``BYE``, and the connection closed
    with the literal unread (RFC 7888 leaves a server that or reading it all).
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._starts_command = True
        self._logged_in = False
        self._tag = b"*"
        self._left = _LITERALS_BEFORE_LOGIN

    async def read_command(self, state: ConnectionState) -> Command:
        self._starts_command = True
        self._logged_in = hasattr(state, "session")  # pymap raises before login
        return await super().read_command(state)

    async def readline(self) -> memoryview:
        # pymap's readline, with each literal taken from the command's allowance.
        buf = bytearray(await self.reader.readline())
        if self._starts_command:
            self._starts_command = False
            self._start_command(buf)
        while True:
            if not buf.endswith(b"\n"):
                raise EOFError()
            elif buf.endswith((b"+}\n", b"+}\r\n")):
                lit_plus = self._literal_plus.search(buf)
            else:
                lit_plus = None
            if not lit_plus:
                self._print("%s -->| %s", buf)  # type: ignore[arg-type]
                return memoryview(buf)
            literal_length = int(lit_plus.group(1))
            await self._take(literal_length)
            buf += await self.reader.readexactly(literal_length)
            buf += await self.reader.readline()

    async def read_continuation(self, literal_length: int) -> memoryview:
        await self._take(literal_length)
        return await super().read_continuation(literal_length)

    def _start_command(self, line: bytearray) -> None:
        tag = _TAG.match(line)
        self._tag = tag.group() if tag else b"*"
        if not self._logged_in:
            self._left = _LITERALS_BEFORE_LOGIN
        elif _APPEND.match(line):
            self._left = self.params.max_append_len or _LITERALS_IN_A_COMMAND
        else:
            self._left = _LITERALS_IN_A_COMMAND

    async def _take(self, literal_length: int) -> None:
        if literal_length <= self._left:
            self._left -= literal_length
            return
        text = b"Literal of %d bytes is too big: this command may send %d more." % (
            literal_length,
            self._left,
        )
        await self.write_response(
            ResponseBad(self._tag, text, ResponseCode.of(b"TOOBIG"))
        )
        await self.write_response(ResponseBye(b"The literal is not read: goodbye."))
        raise EOFError()  # pymap's end of the connection


def _oldest_stored(mailbox: Mailbox) -> int | None:
    """The sequence number of the oldest message in ``mailbox``, if any.

    Sequence numbers only grow and only a reset takes messages out, all of
    them: a message once stored is still there exactly when its number is
    not below this one.
    """
    try:
        return mailbox[0].sequence  # one read of the list: no lock needed
    except IndexError:
        return None


class _Inbox(MailboxData):
    """A user's INBOX: pymap's in-memory mailbox, writing through to the maildrops."""

    def __init__(self, login: str, maildrops: Maildrops, *caches: Any):
        super().__init__(*caches)
        self.login = login
        self.maildrops = maildrops
        self._received: dict[int, ReceivedMessage] = {}  # by UID
        self._uids: dict[int, int] = {}  # UID by server sequence number
        # No higher than the sequence number of any message in _received:
        # when the mailbox's oldest is above it, a reset may have removed some.
        self._oldest_received: int | None = None

    def _still_stored(self, sequence: int) -> bool:
        oldest = _oldest_stored(self.maildrops.mailbox)
        return oldest is not None and oldest <= sequence

    async def add_received(self, message: ReceivedMessage) -> None:
        if message.sequence in self._uids or not self._still_stored(message.sequence):
            return  # already here, or a reset took it out before it arrived
        flags = frozenset(
            Flag(f.encode())
            for f in self.maildrops.flags(self.login, message)
            if f.startswith("\\") or f.isalnum()
        )
        when = message.received_at.astimezone(timezone.utc)
        stored = await self.append(AppendMessage(message.raw, when, flags))
        self._received[stored.uid] = message
        self._uids[message.sequence] = stored.uid
        if self._oldest_received is None or message.sequence < self._oldest_received:
            self._oldest_received = message.sequence

    async def update(
        self,
        uid: int,
        cached_msg: CachedMessage,
        flag_set: frozenset[Flag],
        mode: FlagOp,
    ) -> Message:
        updated = await super().update(uid, cached_msg, flag_set, mode)
        message = self._received.get(uid)
        if message is not None:
            flags = [str(flag) for flag in updated.permanent_flags]
            self.maildrops.set_flags(self.login, message, flags, ORIGIN)
        return updated

    async def delete(self, uids: Iterable[int]) -> None:
        uids = list(uids)
        await super().delete(uids)
        for uid in uids:
            message = self._received.pop(uid, None)
            if message is not None:
                self.maildrops.remove(self.login, message, EXPUNGED, ORIGIN)

    async def forget_cleared(self) -> None:
        """Drop the messages that a reset took out of the server's mailbox.

        Open sessions see them expunged, as if by another client. Only what
        this INBOX still holds is dropped: a message the user expunged, or
        one that never got here, is not reported again.
        """
        gone = [
            uid
            for uid, m in self._received.items()
            if not self._still_stored(m.sequence)
        ]
        for uid in gone:
            self._uids.pop(self._received.pop(uid).sequence, None)
        self._oldest_received = min(
            (m.sequence for m in self._received.values()), default=None
        )
        if gone:
            await MailboxData.delete(self, gone)  # not the user's expunge

    async def _notice_reset(self) -> None:
        oldest = self._oldest_received
        if oldest is not None and not self._still_stored(oldest):
            await self.forget_cleared()

    # pymap reads the mailbox's state through these two: each first takes in
    # a reset the queue of arrivals has not brought yet, so that a command
    # right after it (NOOP, FETCH, SELECT, STATUS...) sees the emptied
    # mailbox. In IDLE, the reset in the queue drops the messages, which
    # wakes the session as new mail does.

    async def snapshot(self) -> MailboxSnapshot:
        await self._notice_reset()
        return await super().snapshot()

    async def update_selected(
        self, selected: SelectedMailbox, *, wait_on: Event | None = None
    ) -> SelectedMailbox:
        await self._notice_reset()
        seen = selected.mod_sequence
        if seen is not None and seen != self._mod_sequences.highest:
            # Changed between IDLE's reply and this wait (mail, or a reset):
            # waiting would miss it, as only later changes wake the wait.
            wait_on = None
        return await super().update_selected(selected, wait_on=wait_on)

    async def follow(self, message: ReceivedMessage) -> None:
        """Take over what another protocol did to ``message``."""
        uid = self._uids.get(message.sequence)
        if uid is None or uid not in self._received:
            return
        if message not in self.maildrops.messages(self.login):
            self._received.pop(uid, None)
            await MailboxData.delete(self, [uid])
            return
        flags = frozenset(
            Flag(f.encode()) for f in self.maildrops.flags(self.login, message)
        )
        stored = self._messages.get(uid)
        if stored is not None:
            await MailboxData.update(self, uid, stored, flags, FlagOp.REPLACE)


class _UserMailboxes(MailboxSet):
    def __init__(self, login: str, maildrops: Maildrops):
        super().__init__()
        self.inbox = _Inbox(login, maildrops, self._content_cache, self._thread_cache)
        self._inbox = self.inbox


class _Config(_DictConfig):
    @property
    def backend_capability(self) -> BackendCapability:
        return BackendCapability(idle=True, object_id=True, multi_append=True)

    @property
    def greeting(self) -> bytes:
        # pymap's default looks up this host's FQDN, which can take seconds.
        return b"SMTPMockLibrary IMAP4rev1 ready"


def _config(starttls_context: ssl.SSLContext | None) -> _Config:
    args = Namespace(passlib_cfg=None, proxy_protocol=None, debug=False)
    return _Config(
        args,
        host=None,
        port=0,
        demo_data=False,
        demo_user="",
        demo_password="",
        ssl_context=starttls_context,
        tls_enabled=starttls_context is not None,
        # Logins are checked in memory: no password hashing thread pool.
        cpu_subsystem=Subsystem.for_asyncio(),
        invalid_user_sleep=0,
        reject_dnsbl=False,
        max_append_len=32 * 1024 * 1024,
    )


class _Secret:
    """What pysasl checks a login's credentials against: the maildrops."""

    def __init__(self, authcid: str, maildrops: Maildrops):
        self.authcid = authcid
        self._maildrops = maildrops

    def compare_authcid(self, authcid: str) -> bool:
        return authcid == self.authcid

    def compare_secret(self, secret: str) -> bool:
        return self._maildrops.login(self.authcid, secret) is not None

    def get_clear_secret(self) -> None:
        return None


class _Login(LoginInterface):
    def __init__(self, config: _Config, service: ImapService):
        self.config = config
        self.service = service
        self._tokens = AllTokens(config)

    @property
    def tokens(self) -> AllTokens:
        return self._tokens

    async def authenticate(self, credentials: ServerCredentials) -> _Identity:
        user = credentials.authcid
        if not credentials.verify(_Secret(user, self.service.maildrops)):
            raise InvalidAuth()
        return _Identity(normalize_login(user), self)

    async def authorize(
        self, authenticated: IdentityInterface, authzid: str
    ) -> _Identity:
        assert isinstance(authenticated, _Identity)
        if authzid and normalize_login(authzid) != authenticated.name:
            raise AuthorizationFailure()
        return authenticated


class _Identity(IdentityInterface):
    def __init__(self, login: str, owner: _Login):
        self._login = login
        self._owner = owner

    @property
    def name(self) -> str:
        return self._login

    @property
    def roles(self) -> frozenset[str]:
        return frozenset()

    async def new_token(self, *, expiration: Any = None) -> None:
        return None

    @asynccontextmanager
    async def new_session(self) -> AsyncIterator[_DictSession]:
        mailboxes = await self._owner.service.mailboxes_of(self._login)
        yield _DictSession(self._login, self._owner.config, mailboxes, FilterSet())

    async def get(self) -> UserMetadata:
        return UserMetadata(self._owner.config, self._login)

    async def set(self, metadata: UserMetadata) -> int:
        raise NotAllowedError("Users of the mock IMAP server cannot be changed.")

    async def delete(self) -> None:
        raise NotAllowedError("Users of the mock IMAP server cannot be deleted.")
