"""Mailpit's ``/api/events`` WebSocket: the live updates of the API and the viewer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

# A client that cannot take an event within this many seconds is dropped, so
# that one stuck reader never holds up the others.
SEND_TIMEOUT = 5.0


class Events:
    """Mailpit's ``/api/events`` WebSocket: ``{"Type": ..., "Data": ...}`` to every client."""

    def __init__(self) -> None:
        self.clients: set[web.WebSocketResponse] = set()

    async def broadcast(self, kind: str, data: Any) -> None:
        if self.clients:
            text = json.dumps({"Type": kind, "Data": data})
            await asyncio.gather(*(self._send(c, text) for c in list(self.clients)))

    async def _send(self, client: web.WebSocketResponse, text: str) -> None:
        try:
            await asyncio.wait_for(client.send_str(text), SEND_TIMEOUT)
        except (ConnectionError, RuntimeError, asyncio.TimeoutError):
            self.clients.discard(client)  # its heartbeat ends the connection

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(heartbeat=30)
        await socket.prepare(request)
        self.clients.add(socket)
        try:
            async for _ in socket:  # clients only listen; ignore what they send
                pass
        finally:
            self.clients.discard(socket)
        return socket

    async def close_all(self) -> None:
        for client in list(self.clients):
            await client.close(code=1001, message=b"Server stopping")
