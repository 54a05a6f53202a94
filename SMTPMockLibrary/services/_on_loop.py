"""What the IMAP and POP3 services share: serving on the SMTP server's own loop."""

from __future__ import annotations

import asyncio
import socket
import ssl

from ._maildrops import Maildrops

START_TIMEOUT = 5.0


class ServiceOnLoop:
    """A protocol server over ``maildrops``, run on ``loop`` (the SMTP server's).

    Its listening ``sockets`` are bound by the caller, so a port in use is a
    clear error before anything starts. Subclasses write ``_start`` and
    ``_stop``, which run on the loop.
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
        self.maildrops = maildrops
        self.loop = loop
        self.tls = tls
        self.ssl_context = ssl_context
        self._sockets = sockets
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        return int(self._sockets[0].getsockname()[1])

    def start(self) -> int:
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(START_TIMEOUT)
        return self.port

    def stop(self) -> None:
        if not self.loop.is_closed() and self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(
                START_TIMEOUT
            )
        for sock in self._sockets:
            sock.close()

    async def _start(self) -> None:
        raise NotImplementedError

    async def _stop(self) -> None:
        raise NotImplementedError
