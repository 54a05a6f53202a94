"""Listening sockets and event loops for the server: what binding a port takes.

Sockets are bound in the caller's thread, so that a port in use is a clear
error from ``start()``, before any thread starts.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

from .errors import ConfigurationError, ServerError

EVENT_LOOPS = ("asyncio", "uvloop")


class ServerGroup:
    """Several asyncio servers closed as one."""

    def __init__(self, servers: list[Any]):
        self.servers = servers

    @property
    def sockets(self) -> list[Any]:
        return [sock for server in self.servers for sock in server.sockets]

    def close(self) -> None:
        for server in self.servers:
            server.close()

    async def wait_closed(self) -> None:
        for server in self.servers:
            await server.wait_closed()


def validate_port(port: int | str) -> int:
    try:
        number = int(port)
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= 65535:
        raise ConfigurationError(
            f"Port must be a number from 0 to 65535 (0 picks a free port), got '{port}'."
        )
    return number


def bind_sockets(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for every address of ``host``, all on the same port."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as error:
        raise ServerError(
            f"Cannot start the mock SMTP server: unknown host '{host}' ({error.strerror})."
        ) from None
    addresses = list(dict.fromkeys((int(info[0]), str(info[4][0])) for info in infos))
    for _attempt in range(10):
        sockets: list[socket.socket] = []
        try:
            for family, address in addresses:
                bound_port = sockets[0].getsockname()[1] if sockets else port
                sockets.append(_bind(family, address, bound_port))
            return sockets
        except OSError as error:
            for sock in sockets:
                sock.close()
            # With port 0, the port picked on the first address may be taken on
            # another one: pick again.
            if not (port == 0 and sockets and error.errno == errno.EADDRINUSE):
                raise _bind_error(error, sockets, addresses, port) from None
    raise ServerError(f"Cannot find a port free on every address of '{host}'.")


def _bind(family: int, address: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that
    # say they are TCP, and without it Nagle's algorithm stalls every reply.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_error(
    error: OSError,
    bound: list[socket.socket],
    addresses: list[tuple[int, str]],
    port: int,
) -> ServerError:
    address = addresses[len(bound)][1]
    shown = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    if error.errno == errno.EADDRINUSE:
        reason = (
            "the port is already in use. Stop the other server, or use port=0 "
            "for a free port"
        )
    elif error.errno == errno.EACCES:
        reason = "permission denied (ports below 1024 need privileges)"
    elif error.errno == errno.EADDRNOTAVAIL:
        reason = "this machine has no such address"
    else:
        reason = error.strerror or str(error)
    return ServerError(f"Cannot start the mock SMTP server on {shown}: {reason}.")


def validate_event_loop(event_loop: str) -> str:
    if event_loop not in EVENT_LOOPS:
        raise ConfigurationError(
            f"Unknown event loop '{event_loop}'. Allowed: {', '.join(EVENT_LOOPS)}."
        )
    return event_loop


def default_event_loop() -> str:
    """uvloop when installed (``pip install robotframework-smtpmocklibrary[fast]``),
    else asyncio: benchmarks/README.md shows what uvloop gains."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:
            raise ServerError(
                "event_loop=uvloop needs uvloop: pip install SMTPMockLibrary[fast]"
            ) from None
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()
