"""A real SMTP server on its own event loop thread, driven from synchronous code."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import socket
import threading
import weakref
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from .binding import (
    ServerGroup,
    bind_sockets,
    default_event_loop,
    new_event_loop,
    validate_event_loop,
    validate_port,
)
from .errors import ConfigurationError, MessageFileNotFoundError, ServerError
from .faults import END_OF_DATA, FaultRule, FaultRules, normalize_command
from .filters import compile_regex
from .inbox import Inbox, Inboxes
from .mailbox import Mailbox, Rejection
from .message import ReceivedMessage
from .protocol import (
    MockHandler,
    MockSMTP,
    ServerState,
    TranscriptLine,
    abort_transport,
)
from .queries import MessageQueries
from .sessions import SessionFactory
from .tls import ServerTLS, server_tls, validate_tls_mode

DEFAULT_MAX_MESSAGE_SIZE = 32 * 1024 * 1024
STOP_TIMEOUT = 5.0
_HEADER_START = re.compile(r"[A-Za-z0-9-]+:")


class MockSMTPServer(MessageQueries):
    """An SMTP server that stores every message it accepts, for tests to check.

    Constructing it starts it (pass ``autostart=False`` to start it later)::

        server = MockSMTPServer()               # 127.0.0.1, a free port
        smtplib.SMTP("127.0.0.1", server.port).sendmail(...)
        message = server.wait_for_message(recipient="alice@example.com")
        server.stop()

    ``with MockSMTPServer() as server:`` stops it at the end of the block.
    A server dropped without ``stop()`` is stopped when it is garbage
    collected, but only then, and a running read-back service (IMAP, POP3,
    HTTP) keeps it alive: call ``stop()`` or use ``with`` to free the port
    at a known moment.
    """

    fast_path = True
    """Answer plain SMTP commands in the session's fast path (see fastpath.py);
    False leaves every command to aiosmtpd's own loop (for comparisons)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: str = "none",
        require_tls: bool = False,
        certfile: str | None = None,
        keyfile: str | None = None,
        auth_required: bool = False,
        users: Mapping[str, str] | str | None = None,
        auth_require_tls: bool | None = None,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        hostname: str | None = None,
        event_loop: str | None = None,
        autostart: bool = True,
    ):
        self.host = host
        self._requested_port = validate_port(port)
        self.tls = validate_tls_mode(tls)
        if require_tls and self.tls != "starttls":
            raise ConfigurationError("require_tls needs tls=starttls.")
        self.require_tls = require_tls
        self.certfile, self.keyfile = certfile, keyfile
        self.auth_require_tls = (
            self.tls != "none" if auth_require_tls is None else auth_require_tls
        )
        if max_message_size is not None and max_message_size < 0:
            raise ConfigurationError(
                f"max_message_size must be a positive number of bytes, or 0 for "
                f"no limit, got {max_message_size}."
            )
        self.max_message_size = max_message_size or None
        self.hostname = hostname or socket.gethostname()
        self.event_loop = (
            validate_event_loop(event_loop) if event_loop else default_event_loop()
        )
        self.messages = Mailbox()
        self.inboxes = Inboxes(self.messages)
        self.faults = FaultRules(self.inboxes)
        self._state = ServerState(
            self.messages, self.faults, parse_users(users), auth_required
        )
        self._port: int | None = None
        self._serving: _Serving | None = None
        self._finalizer: weakref.finalize[[], MockSMTPServer] | None = None
        self._services: dict[str, Service] = {}
        if autostart:
            self.start()

    # Life cycle.

    @property
    def running(self) -> bool:
        return self._serving is not None and self._serving.running

    @property
    def port(self) -> int:
        """The port really bound (the requested one when stopped)."""
        return self._port if self._port is not None else self._requested_port

    @property
    def ca_file(self) -> str | None:
        """PEM file of the throw-away authority that signed the server certificate."""
        tls = self._serving.tls if self._serving else None
        return tls.ca_file if tls else None

    def start(self, port: int | None = None) -> int:
        """Bind the port and serve on a background thread; return the bound port.

        ``port`` binds that port this time instead of the one the server was
        made with: a server made with ``port=0`` starts again on the port it
        had with ``server.start(port=old_port)``.
        """
        if self.running:
            raise ServerError(
                f"The mock SMTP server is already running on {self.address}."
            )
        wanted = self._requested_port if port is None else validate_port(port)
        sockets = bind_sockets(self.host, wanted)
        self._state.closing = False
        tls, serving = None, None
        try:
            port = sockets[0].getsockname()[1]
            if self.tls != "none":
                tls = server_tls(self.host, self.certfile, self.keyfile)
            loop = new_event_loop(self.event_loop)
            serving = _Serving(loop, self._state, tls, self._session_options(tls))
            serving.listen(
                sockets, tls.context if self.tls == "implicit" and tls else None
            )
        except BaseException:
            for sock in sockets:
                sock.close()
            if serving is not None:
                serving.stop()
            elif tls is not None:
                tls.cleanup()
            raise
        serving.serve(f"MockSMTPServer-{port}")
        self._serving, self._port = serving, port
        self._finalizer = weakref.finalize(self, serving.stop)
        return port

    def _session_options(self, tls: ServerTLS | None) -> dict[str, Any]:
        """What each SMTP session of this server is made with (SessionFactory)."""
        return {
            "data_size_limit": self.max_message_size,
            "enable_SMTPUTF8": True,
            "hostname": self.hostname,
            "ident": "SMTPMockLibrary",
            "tls_context": tls.context if self.tls == "starttls" and tls else None,
            "require_starttls": self.require_tls,
            "auth_require_tls": self.auth_require_tls and self.tls == "starttls",
            "authenticator": self._state.authenticate,
            "fast_path": self.fast_path,
        }

    def stop(self) -> None:
        """Close the port and every open session, and end the server thread."""
        if self._serving is None:
            return
        self.messages.interrupt_waits(f"the mock SMTP server at {self.address} stopped")
        self._stop_services()
        self._serving, self._port = None, None
        if self._finalizer is not None:
            self._finalizer()  # _Serving.stop(), once

    def __enter__(self) -> MockSMTPServer:
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running on {self.address}" if self.running else "stopped"
        return f"<MockSMTPServer {state}, {len(self.messages)} message(s)>"

    @property
    def address(self) -> str:
        """``host:port``, as error messages and logs show it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    # Mailbox, users and faults.

    def reset(self, inbox: str | None = None) -> None:
        """Empty the mailbox and forget rejections, transcript and fault rules.

        Inbox definitions stay (a suite defines them once); each inbox
        forgets what its waits returned. With ``inbox``, only that inbox is
        emptied, and nothing else changes.
        """
        if inbox is not None:
            self.inboxes.get(inbox).clear()
            return
        self.messages.clear()
        self.faults.clear()
        self._state.transcript.clear()
        for each in self.inboxes.all():
            each.forget_waits()

    def add_user(self, user: str, password: str) -> None:
        """Accept ``user`` with ``password`` for AUTH (replacing its old password)."""
        with self._state.users_lock:
            self._state.users[user] = password

    def set_users(self, users: Mapping[str, str] | str | None) -> dict[str, str]:
        """Accept only ``users`` for AUTH (as ``users`` of the constructor takes
        them); return the old ones, user to password, to set them back later."""
        new = parse_users(users)
        with self._state.users_lock:
            old, self._state.users = self._state.users, new
        return old

    @property
    def users(self) -> list[str]:
        with self._state.users_lock:
            return list(self._state.users)

    @property
    def transcript(self) -> list[TranscriptLine]:
        """The recent lines of the SMTP conversations, oldest first (at most 2000)."""
        return [
            TranscriptLine(datetime.fromtimestamp(at), peer, direction, line)
            for at, peer, direction, line in list(self._state.transcript)
        ]

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised on the server thread (each also answered with 451),
        and by read-back services told of a stored message."""
        return [*self._state.errors, *self.messages.listener_errors]

    @property
    def open_sessions(self) -> int:
        return len(self._state.sessions)

    # Inboxes: named views of the mailbox, chosen by routing rules. The
    # queries, waits and checks above come from MessageQueries.

    def create_inbox(self, name: str, **rules: str) -> Inbox:
        """Define the inbox ``name`` (replacing one of that name) and return it.

        Rules: ``recipient``, ``sender``, ``auth_user``, ``header`` (``Name:
        text``) and ``tag`` (the plus-address tag: ``reset`` for
        ``alice+reset@example.com``), with the filters' ``regexp:`` and
        ``glob:`` prefixes; all of them must hold. Mail that no inbox routes
        is in the inbox ``unrouted``.
        """
        return self.inboxes.create(name, rules)

    def inbox(self, name: str) -> Inbox:
        """The inbox called ``name``; a clear error lists the existing ones."""
        return self.inboxes.get(name)

    def remove_inbox(self, name: str) -> None:
        """Remove the inbox ``name``; its messages stay in the mailbox."""
        self.inboxes.remove(name)

    def get_inboxes(self) -> dict[str, int]:
        """The inboxes by name, each with its number of messages, ``unrouted``
        (the mail no inbox routes) last."""
        return self.inboxes.counts()

    # Fault injection. Each method returns the rule it set; ``conditions``
    # are sender=, recipient=, header=, auth_user=, peer=, inbox= (filter
    # vocabulary), and probability= with seed= for seeded random faults.

    def reply_to_recipient(
        self, address: str, reply: str, times: int | None = None, **conditions: Any
    ) -> FaultRule:
        """Answer ``RCPT TO`` for addresses matching the regular expression
        ``address`` with ``reply``, ``times`` times (None: until cleared).

        ``address`` also takes the prefixes of filters: ``regexp:^nobody@``,
        or ``glob:*@full.example`` (a glob matches the whole address)."""
        return self.faults.reply_to_address("RCPT", address, reply, times, **conditions)

    def reply_to_sender(
        self, address: str, reply: str, times: int | None = None, **conditions: Any
    ) -> FaultRule:
        """Answer ``MAIL FROM`` for matching addresses with ``reply``."""
        return self.faults.reply_to_address("MAIL", address, reply, times, **conditions)

    def reply_to_data(
        self, reply: str, times: int | None = None, **conditions: Any
    ) -> FaultRule:
        """Answer the end of the next ``times`` messages with ``reply``; they are
        not stored."""
        return self.faults.reply_to_data(reply, times, **conditions)

    def reply_to_auth(
        self,
        reply: str,
        user: str | None = None,
        times: int | None = None,
        **conditions: Any,
    ) -> FaultRule:
        """Answer ``AUTH`` of ``user`` (every user when None) with ``reply``,
        even when the password is right."""
        return self.faults.reply_to_auth(reply, user, times, **conditions)

    def disconnect_on(
        self, command: str, times: int | None = None, **conditions: Any
    ) -> FaultRule:
        """Drop the connection without a reply when ``command`` arrives."""
        return self.faults.disconnect_on(command, times, **conditions)

    def delay_reply(
        self,
        command: str,
        seconds: float,
        times: int | None = None,
        **conditions: Any,
    ) -> FaultRule:
        """Wait ``seconds`` before handling ``command``: a slow server."""
        return self.faults.delay_reply(command, seconds, times, **conditions)

    def limit_message_rate(
        self,
        count: int,
        per: float,
        by: str = "all",
        reply: str = "421 4.7.0 Too many messages, slow down",
        close: bool = False,
        times: int | None = None,
        **conditions: Any,
    ) -> FaultRule:
        """Refuse mail beyond ``count`` accepted messages in any ``per`` seconds
        (a sliding window over ``received_at``, from when the limit is set),
        counted by ``sender``, ``peer``, ``recipient`` or
        ``all``; ``close`` drops the connection after the reply. ``times``
        counts refusals (None: until cleared)."""
        return self.faults.limit_message_rate(
            count, per, by, reply, close, times, **conditions
        )

    def limit_recipients(
        self,
        count: int,
        reply: str = "452 4.5.3 Too many recipients",
        times: int | None = None,
        **conditions: Any,
    ) -> FaultRule:
        """Answer every ``RCPT TO`` beyond the first ``count`` of a message with
        ``reply``, ``times`` times (None: until cleared)."""
        return self.faults.limit_recipients(count, reply, times, **conditions)

    def throttle_data(
        self, rate: str | float, times: int | None = None, **conditions: Any
    ) -> FaultRule:
        """Answer the end of a message only after its size divided by ``rate``
        (``10 kB/s``, or bytes per second): a server reading DATA slowly.
        ``times`` counts throttled messages (None: until cleared)."""
        return self.faults.throttle_data(rate, times, **conditions)

    @property
    def fault_rules(self) -> list[FaultRule]:
        """The active fault rules, each saying how often it fired."""
        return self.faults.rules

    def clear_faults(self) -> None:
        """Remove every fault rule: normal service again."""
        self.faults.clear()

    def rejected_commands(self, command: str | None = None) -> list[Rejection]:
        """The commands answered with 4xx or 5xx (or dropped), oldest first.

        ``command`` keeps those of one command (``RCPT``, ``mail from``...).
        ``DATA`` also keeps the rejected messages (``END OF DATA``: the reply
        after the message data, which SMTP counts as the reply to ``DATA``);
        ``END OF DATA`` keeps only those.
        """
        rejections = self.messages.rejections
        if command:
            wanted = normalize_command(command)
            kept = {wanted, END_OF_DATA} if wanted == "DATA" else {wanted}
            rejections = [r for r in rejections if r.command in kept]
        return rejections

    def deliver(
        self,
        source: bytes | str | os.PathLike[str],
        recipients: str | list[str],
        sender: str = "",
    ) -> ReceivedMessage:
        """Store a message without SMTP, as if it had been received, and return it.

        ``source`` is the message as bytes, as text, or the path of an ``.eml``
        file. It is stored exactly as given (text with ``\\r\\n`` line
        endings), visible to every query and wait and to the read-back
        services (IMAP, POP3, HTTP), for applications that fetch mail a test
        wrote.

        Text of one line is a path when it names an existing file, or when
        it looks like one: it ends in ``.eml`` or contains a path separator,
        and does not start like a header (``Subject: hi`` is a message). A
        path naming no file raises ``MessageFileNotFoundError`` (a
        ``FileNotFoundError``).
        """
        if isinstance(source, os.PathLike) or (
            isinstance(source, str) and _names_a_file(source)
        ):
            raw = _read_message_file(source)
        elif isinstance(source, str):
            raw = re.sub(r"\r?\n", "\r\n", source).encode("utf-8")
        else:
            raw = bytes(source)
        if isinstance(recipients, str):
            recipients = [r for r in re.split(r"[,\s]+", recipients) if r]
        if not recipients:
            raise ConfigurationError("Deliver a message to at least one recipient.")
        return self.messages.add(ReceivedMessage(raw, sender, list(recipients)))

    # Read-back services (IMAP, POP3, HTTP) serve this server's mailbox and
    # stop with it. Each is a module of SMTPMockLibrary.services.

    def _start_service(self, name: str, service: Service) -> int:
        """Start ``service`` under ``name`` (replacing a running one) and return its port."""
        if not self.running:
            raise ServerError(
                f"Start the mock SMTP server before its {name.upper()} service."
            )
        self.stop_service(name)
        port = service.start()
        self._services[name] = service
        return port

    def start_imap(self, port: int = 0, *, tls: str = "none") -> int:
        """Serve this server's mailbox over IMAP4rev1 and return the port.

        Every recipient logs in with its address (the password from
        ``users`` when it is there, any password otherwise) and finds its
        messages in INBOX; ``*`` sees every message. ``tls`` is ``none``,
        ``starttls`` or ``implicit``, with a certificate from the same
        throw-away CA as SMTP (``ca_file``). Needs the ``[imap]`` extra.
        """
        from .services.imap import ImapService

        return self._start_read_back("imap", ImapService, port, tls)

    def start_pop3(self, port: int = 0, *, tls: str = "none") -> int:
        """Serve this server's mailbox over POP3 and return the port.

        The same per-recipient maildrops and logins as :meth:`start_imap`.
        """
        from .services.pop3 import Pop3Service

        return self._start_read_back("pop3", Pop3Service, port, tls)

    @property
    def imap_port(self) -> int | None:
        return self._service_port("imap")

    @property
    def pop3_port(self) -> int | None:
        return self._service_port("pop3")

    def message_flags(
        self, message: ReceivedMessage, user: str | None = None
    ) -> list[str]:
        """What ``user`` did to ``message`` over IMAP or POP3: its flags
        (``\\Seen``, ``\\Deleted``, ...), and ``expunged`` or ``pop3-deleted``
        once removed from that user's view. ``user`` may be left out when the
        message has one recipient."""
        return self._maildrops.status(message, user)

    @functools.cached_property
    def _maildrops(self) -> Any:
        """The per-user views that the IMAP and POP3 services share."""
        from .services._maildrops import Maildrops

        return Maildrops(self.messages, self._password_of)

    def _password_of(self, user: str) -> str | None:
        with self._state.users_lock:
            return self._state.users.get(user)

    def _start_read_back(self, name: str, factory: Any, port: int, tls: str) -> int:
        mode = validate_tls_mode(tls)
        serving = self._serving
        if not self.running or serving is None:
            raise ServerError(
                f"Start the mock SMTP server before its {name.upper()} service."
            )
        if mode != "none" and serving.tls is None:
            serving.tls = server_tls(self.host, self.certfile, self.keyfile)
        context = serving.tls.context if mode != "none" and serving.tls else None
        port = validate_port(port)
        self.stop_service(name)  # replaced, and its port free to bind again
        try:
            sockets = bind_sockets(self.host, port)
        except ServerError as error:
            raise ServerError(
                str(error).replace("SMTP server", f"{name.upper()} server")
            ) from None
        try:
            service = factory(
                self._maildrops, serving.loop, sockets, tls=mode, ssl_context=context
            )
            return self._start_service(name, service)
        except BaseException:
            for sock in sockets:
                sock.close()
            raise

    def _service_port(self, name: str) -> int | None:
        service = self._services.get(name)
        return getattr(service, "port", None) if service else None

    def start_http(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        auth: tuple[str, str] | str | None = None,
    ) -> int:
        """Serve a Mailpit-compatible HTTP API and web viewer of this mailbox.

        Returns the port (``port=0`` picks a free one). ``auth=("user", "pass")``
        or ``"user:pass"`` requires HTTP Basic authentication everywhere. Needs
        the ``[http]`` extra. See ``SMTPMockLibrary.services.http``.
        """
        from .services.http import HTTPService

        service = HTTPService(self, host, validate_port(port), auth=auth)
        return self._start_service("http", service)

    @property
    def http_port(self) -> int | None:
        """The port of the running HTTP API, or None."""
        service = self._services.get("http")
        return getattr(service, "port", None)

    @property
    def services(self) -> dict[str, int | None]:
        """The read-back services running (``imap``, ``pop3``, ``http``) and their ports."""
        return {name: self._service_port(name) for name in self._services}

    def stop_service(self, name: str) -> None:
        """Stop the read-back service ``name`` (``imap``, ``pop3`` or ``http``),
        if it runs; the SMTP server and the mailbox go on."""
        service = self._services.pop(name, None)
        if service is not None:
            service.stop()

    def _stop_services(self) -> None:
        for name in list(self._services):
            self.stop_service(name)

    # The classic smtpd-recipe API this library replaces.

    def received_message_matching(self, regex: str) -> bool:
        """True if a message's text (``\\n`` line endings) ``re.match``es ``regex``."""
        pattern = compile_regex(regex, "received_message_matching()")
        return any(pattern.match(m.source) for m in self.messages)

    def received_messages_count(self) -> int:
        return len(self.messages)


class _Serving:
    """The event loop thread of one ``start()``, and how to end it.

    It holds the loop, the listening sockets and what the sessions share,
    never the MockSMTPServer: a server dropped without ``stop()`` is
    collected, and its finalizer calls ``stop()`` here.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        state: ServerState,
        tls: ServerTLS | None,
        session_options: dict[str, Any],
    ):
        self.loop = loop
        self.state = state
        self.tls = tls
        self.thread: threading.Thread | None = None
        self._session_options = session_options
        self._sessions: SessionFactory | None = None
        self.listener: Any = None
        loop.set_exception_handler(self._record_loop_error)

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def listen(self, sockets: list[socket.socket], ssl_context: Any) -> None:
        self.listener = self.loop.run_until_complete(self._listen(sockets, ssl_context))

    async def _listen(self, sockets: list[socket.socket], ssl_context: Any) -> Any:
        servers = [
            await self.loop.create_server(self._new_session, sock=sock, ssl=ssl_context)
            for sock in sockets
        ]
        # 'localhost' may mean both ::1 and 127.0.0.1: one asyncio server each.
        return servers[0] if len(servers) == 1 else ServerGroup(servers)

    def serve(self, thread_name: str) -> None:
        self.thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Close the port and every open session, end the thread, close the loop.

        Any thread may call it: on the loop's own (a garbage collection there
        finalizing a dropped server) it only asks the loop to end.
        """
        thread = self.thread
        if thread is None:
            self._close_loop()  # it never served
        elif thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                self.loop.call_soon_threadsafe(self._begin_shutdown)
            if thread is not threading.current_thread():
                self._join(thread)
        if self.tls is not None:
            self.tls.cleanup()
            self.tls = None

    def _join(self, thread: threading.Thread) -> None:
        thread.join(2 * STOP_TIMEOUT)
        if thread.is_alive():  # a handler blocks the loop
            self.state.errors.append(
                ServerError(f"The server thread did not end in {2 * STOP_TIMEOUT:g} s.")
            )

    def _new_session(self) -> MockSMTP:
        # Made on first use, for this loop: a connection accepted while the
        # server stops must still get this loop, never a default one.
        if self._sessions is None:
            self._sessions = SessionFactory(
                MockHandler(self.state), loop=self.loop, **self._session_options
            )
        return self._sessions()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        except BaseException as error:
            self.state.errors.append(error)
        finally:
            self._close_loop()

    def _begin_shutdown(self) -> None:
        self.loop.create_task(self._shutdown_and_stop())

    async def _shutdown_and_stop(self) -> None:
        try:
            await asyncio.wait_for(self._shutdown(), STOP_TIMEOUT)
        except Exception as error:  # a session or the loop is stuck
            self.state.errors.append(error)
        finally:
            self.loop.stop()

    async def _shutdown(self) -> None:
        assert self.listener is not None
        self.state.closing = True
        # Stop accepting first, and let connections already accepted finish
        # their set-up (connection_made() sees `closing` and aborts them).
        # Server.close() right away would make asyncio fail their set-up
        # silently and leave their sockets open, clients waiting forever.
        for sock in self.listener.sockets:
            self.loop.remove_reader(sock.fileno())
        for _ in range(5):
            await asyncio.sleep(0)
        self.listener.close()
        await self._abort_sessions()
        await self.listener.wait_closed()

    async def _abort_sessions(self) -> None:
        for session in list(self.state.sessions):
            abort_transport(session.transport)
        for _ in range(3):  # closing completes in the next loop iterations
            await asyncio.sleep(0)

    def _close_loop(self) -> None:
        loop = self.loop
        if loop.is_closed():
            return
        try:
            loop.run_until_complete(self._finish_tasks())
        except Exception as error:
            self.state.errors.append(error)
        finally:
            loop.close()
        # These hold this object: kept, the loop and it would hold each
        # other (and the mailbox) until a full garbage collection.
        loop.set_exception_handler(None)
        self.listener = self._sessions = None

    async def _finish_tasks(self) -> None:
        """Close what is still open and cancel what still runs, and let it end."""
        # A connection accepted just before the port closed finishes its set-up
        # in these iterations; connection_made() then sees `closing` and aborts.
        # Cancelling that set-up instead would leave its socket open.
        for _ in range(5):
            await asyncio.sleep(0)
        await self._abort_sessions()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks(self.loop) if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.loop.shutdown_asyncgens()
        await self._abort_sessions()

    def _record_loop_error(
        self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]
    ) -> None:
        error = context.get("exception")
        if isinstance(error, (ConnectionError, asyncio.CancelledError)):
            return  # clients hanging up are normal life, not server errors
        self.state.errors.append(error or RuntimeError(context.get("message", "?")))


class Service(Protocol):
    """A read-back service (IMAP, POP3, HTTP) over a server's mailbox."""

    def start(self) -> int:
        """Bind, serve in the background, and return the port."""
        ...

    def stop(self) -> None:
        """Close the port and every open session."""
        ...


def parse_users(users: Mapping[str, str] | str | None) -> dict[str, str]:
    """``{"alice": "s3cret"}`` or ``"alice:s3cret, bob:pw"`` as a dictionary."""
    if users is None or users == "":
        return {}
    if isinstance(users, Mapping):
        return {str(user): str(password) for user, password in users.items()}
    parsed = {}
    for entry in re.split(r"[,\s]+", users.strip()):
        user, separator, password = entry.partition(":")
        if not separator or not user:
            raise ConfigurationError(
                f"Invalid user entry '{entry}': expected 'user:password', several "
                "separated by commas."
            )
        parsed[user] = password
    return parsed


def _names_a_file(text: str) -> bool:
    """Whether ``deliver()`` reads the one-line ``text`` as a path (see there)."""
    if "\n" in text:
        return False
    if os.path.isfile(text):
        return True
    drive, _ = os.path.splitdrive(text)  # C:\mail\x.eml is no header
    if _HEADER_START.match(text) and not drive:
        return False
    separators = {os.sep, os.altsep or os.sep}
    return text.lower().endswith(".eml") or any(s in text for s in separators)


def _read_message_file(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except FileNotFoundError as error:
        message = f"Message file '{os.fspath(path)}' does not exist."
        if isinstance(path, str):
            message += (
                " Text of one line ending in '.eml' or containing a path "
                "separator is read as a path; a message of one line starts "
                "with a header, like 'Subject: hi'."
            )
        raise MessageFileNotFoundError(error.errno, message, os.fspath(path)) from None
