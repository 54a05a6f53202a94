"""Mailpit's ``/api/events`` WebSocket: the live updates of the API and the viewer."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class Events:
    """Mailpit's ``/api/events`` WebSocket: ``{"Type": ..., "Data": ...}`` to every client."""

    def __init__(self) -> None:
        self.clients: set[web.WebSocketResponse] = set()

    async def broadcast(self, kind: str, data: Any) -> None:
        text = json.dumps({"Type": kind, "Data": data})
        for client in list(self.clients):
            try:
                await client.send_str(text)
            except (ConnectionError, RuntimeError):
                self.clients.discard(client)

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
