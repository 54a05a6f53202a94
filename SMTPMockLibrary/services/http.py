"""A Mailpit-compatible HTTP API and a web viewer over a server's mailbox.

Start it with ``server.start_http(port=0)`` (keyword ``Start Mock HTTP API``,
CLI ``smtpmock --http 8025``); it stops with the server. It needs the
``[http]`` extra (aiohttp).

It runs on its own thread and event loop, beside the SMTP server's: reading
and parsing messages, encoding JSON and checking links never delay an SMTP
reply, and a stuck HTTP client cannot stall mail delivery. It hears of new
mail through the mailbox's listener hook, handed over with
``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import threading
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, ServerError

try:
    from aiohttp import web
except ImportError:
    raise ServerError(
        "The HTTP API needs aiohttp: pip install robotframework-smtpmocklibrary[http]"
    ) from None

from ..binding import bind_sockets
from ..message import ReceivedMessage
from .http_api import MailpitAPI
from .http_requests import APIError

if TYPE_CHECKING:
    from ..server import MockSMTPServer

STOP_TIMEOUT = 5.0
MAX_REQUEST_SIZE = 64 * 1024 * 1024

# The viewer's own page: its scripts and styles only, live updates from this
# server only, frames only of this server's sandboxed message views.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
# Everything else (JSON, raw sources, attachments): never a page that runs.
DATA_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"
_ASSET_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}


class HTTPService:
    """The HTTP API and web viewer of one :class:`MockSMTPServer`."""

    def __init__(
        self,
        server: MockSMTPServer,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        auth: tuple[str, str] | str | None = None,
    ):
        self.server = server
        self.host = host
        self.requested_port = port
        self.credentials = parse_auth(auth)
        self.port: int | None = None
        self.errors: list[BaseException] = []
        self.api = MailpitAPI(server)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> int:
        try:
            sockets = bind_sockets(self.host, self.requested_port)
        except ServerError as error:
            raise ServerError(
                str(error).replace("mock SMTP server", "HTTP API")
            ) from None
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve(sockets))
        except BaseException:
            for sock in sockets:
                sock.close()
            self._loop.close()
            self._loop = None
            raise
        self.port = sockets[0].getsockname()[1]
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"HTTP-{self.port}", daemon=True
        )
        self._thread.start()
        self.server.messages.add_listener(self._message_stored)
        return self.port

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self.server.messages.remove_listener(self._message_stored)
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(
                STOP_TIMEOUT
            )
        except Exception as error:  # the loop is stuck: stop it anyway
            self.errors.append(error)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_TIMEOUT)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = self._runner = None
        self.port = None

    async def _serve(self, sockets: list[Any]) -> None:
        app = web.Application(
            middlewares=[self._answer_errors, self._require_auth],
            client_max_size=MAX_REQUEST_SIZE,
        )
        app.router.add_routes(self.api.routes())
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._asset)
        app.on_response_prepare.append(_security_headers)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        for sock in sockets:
            await web.SockSite(self._runner, sock).start()

    async def _shutdown(self) -> None:
        await self.api.events.close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    def _message_stored(self, message: ReceivedMessage) -> None:
        # Called on the SMTP thread: only hand over, and only if anyone listens.
        loop = self._loop
        if loop is not None and self.api.events.clients:
            loop.call_soon_threadsafe(self._announce, message)

    def _announce(self, message: ReceivedMessage) -> None:
        task = asyncio.ensure_future(
            self.api.message_stored(self.api.store.view(message))
        )
        task.add_done_callback(self._record_failure)

    def _record_failure(self, task: asyncio.Future) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())  # type: ignore[arg-type]

    # Middlewares: every answer that is not a success is JSON, and with
    # credentials set, nothing is served without them.

    @web.middleware
    async def _answer_errors(self, request: web.Request, handler: Any) -> Any:
        try:
            return await handler(request)
        except APIError as error:
            return json_error(error.status, error.message)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            return json_error(error.status, _describe(error, request), error.headers)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self.errors.append(error)
            return json_error(500, f"Internal error: {type(error).__name__}: {error}")

    @web.middleware
    async def _require_auth(self, request: web.Request, handler: Any) -> Any:
        if self.credentials and not _authorized(request, self.credentials):
            return json_error(
                401,
                "Authentication required: send the user and password with HTTP "
                "Basic authentication.",
                {"WWW-Authenticate": 'Basic realm="smtpmock", charset="UTF-8"'},
            )
        return await handler(request)

    # The web viewer.

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(
            body=_asset_bytes("index.html"),
            content_type="text/html",
            charset="utf-8",
            headers={"Content-Security-Policy": PAGE_POLICY},
        )

    async def _asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        suffix = name[name.rfind(".") :] if "." in name else ""
        if suffix not in _ASSET_TYPES or "/" in name or name.startswith("."):
            raise APIError(404, f"No such file: /static/{name}")
        try:
            body = _asset_bytes(name)
        except FileNotFoundError:
            raise APIError(404, f"No such file: /static/{name}") from None
        return web.Response(body=body, content_type=_ASSET_TYPES[suffix])


def parse_auth(
    auth: tuple[str, str] | list[str] | str | None,
) -> tuple[str, str] | None:
    """``("user", "pass")`` or ``"user:pass"`` as a pair; None or "" for no auth."""
    if auth is None or auth == "":
        return None
    if isinstance(auth, str):
        user, colon, password = auth.partition(":")
    elif isinstance(auth, (tuple, list)) and len(auth) == 2:
        user, colon, password = str(auth[0]), ":", str(auth[1])
    else:
        user = colon = password = ""
    if not colon or not user or not password:
        raise ConfigurationError(
            "HTTP auth must be 'user:password' or a (user, password) pair, "
            f"both not empty, got {auth!r}."
        )
    return user, password


def json_error(status: int, message: str, headers: Any = None) -> web.Response:
    """Mailpit's JSON error shape: ``{"Error": "..."}``."""
    response = web.Response(
        status=status,
        text=json.dumps({"Error": message}),
        content_type="application/json",
    )
    for name in ("Allow", "WWW-Authenticate"):
        if headers and name in headers:
            response.headers[name] = headers[name]
    return response


def _describe(error: web.HTTPException, request: web.Request) -> str:
    if isinstance(error, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(error.allowed_methods))
        return (
            f"Method {request.method} is not allowed on {request.path}; use {allowed}."
        )
    if isinstance(error, web.HTTPNotFound):
        return f"No such endpoint or page: {request.path}"
    if isinstance(error, web.HTTPRequestEntityTooLarge):
        return f"The request body is larger than {MAX_REQUEST_SIZE} bytes."
    return error.reason


def _authorized(request: web.Request, credentials: tuple[str, str]) -> bool:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    expected = f"{credentials[0]}:{credentials[1]}"
    return hmac.compare_digest(given.encode(), expected.encode())


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", DATA_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")


def _asset_bytes(name: str) -> bytes:
    return (resources.files("SMTPMockLibrary.services") / "web" / name).read_bytes()
