"""A small web site whose pages answer the way real ones fail, for the link checks.

    python codes_links_http.py [--lifetime SECONDS]

Binds 127.0.0.1 on a free port, prints ``PORT <n>`` on one line, and stops by
itself after ``--lifetime`` seconds (default 300), or when terminated.

Paths: ``/ok``, ``/image.png``, ``/redirect`` (301 to /ok), ``/redirect-308``,
``/temporary`` (302 to /ok), ``/missing`` (404), ``/error`` (500),
``/slow?seconds=N`` (answers after N seconds, at most 10), ``/loop`` (redirects
to itself), ``/confirm?token=T`` (302 to ``/confirmed?token=T`` setting a
session cookie), ``/confirmed`` (200 only with that cookie, else 403),
``/to-mailto`` (a redirect to a mailto: address), ``/no-location`` (a 302
without Location), ``/not-modified`` (304). ``/requests`` lists the
paths requested so far, one per line.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
    b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
MAX_SLOW_SECONDS = 10.0


class LinkSiteHandler(BaseHTTPRequestHandler):
    server: LinkSite

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.server.requested.append(self.path)
        self._answer(url.path, query)

    def _answer(self, path: str, query: dict[str, list[str]]) -> None:
        route = {
            "/ok": lambda: self._send(200, "It works."),
            "/image.png": lambda: self._send(200, PNG, "image/png"),
            "/redirect": lambda: self._redirect(301, "/ok"),
            "/redirect-308": lambda: self._redirect(308, "/ok"),
            "/temporary": lambda: self._redirect(302, "/ok"),
            "/missing": lambda: self._send(404, "No such page."),
            "/error": lambda: self._send(500, "Internal error."),
            "/loop": lambda: self._redirect(302, "/loop"),
            "/no-location": lambda: self._send(302, ""),
            "/not-modified": lambda: self._send(304, b""),
            "/to-mailto": lambda: self._redirect(302, "mailto:help@example.com"),
            "/requests": lambda: self._send(200, "\n".join(self.server.requested)),
        }.get(path)
        if route is not None:
            route()
        elif path == "/slow":
            seconds = min(float(query.get("seconds", ["1"])[0]), MAX_SLOW_SECONDS)
            # Counted until the answer starts: a client may ask again as soon
            # as it has the headers, before this thread has sent the body.
            with self.server.lock:
                self.server.in_flight += 1
                self.server.max_in_flight = max(
                    self.server.max_in_flight, self.server.in_flight
                )
            try:
                time.sleep(seconds)
            finally:
                with self.server.lock:
                    self.server.in_flight -= 1
            self._send(200, f"Slept {seconds:g} s.")
        elif path == "/confirm":
            token = query.get("token", [""])[0]
            self.send_response(302)
            self.send_header("Location", f"/confirmed?token={token}")
            self.send_header("Set-Cookie", f"session=s-{token}; Path=/; HttpOnly")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/confirmed":
            token = query.get("token", [""])[0]
            if f"session=s-{token}" in (self.headers.get("Cookie") or ""):
                self._send(200, f"Thank you, address confirmed (token {token}).")
            else:
                self._send(403, "No session cookie.")
        else:
            self._send(404, "No such page.")

    def _send(
        self, status: int, body: str | bytes, content_type: str = "text/plain"
    ) -> None:
        content = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        charset = "; charset=utf-8" if content_type.startswith("text/") else ""
        self.send_header("Content-Type", content_type + charset)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("X-Link-Site", "yes")
        self.end_headers()
        self.wfile.write(content)

    def _redirect(self, status: int, location: str) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # the acceptance logs stay readable


class LinkSite(ThreadingHTTPServer):
    daemon_threads = True  # a slow answer never holds up stopping

    def __init__(self, port: int = 0):
        super().__init__(("127.0.0.1", port), LinkSiteHandler)
        self.requested: list[str] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0  # how many /slow answers it prepared at the same time

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client gave up
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> LinkSite:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lifetime", type=float, default=300)
    args = parser.parse_args()
    site = LinkSite().start()
    print(f"PORT {site.port}", flush=True)
    threading.Event().wait(args.lifetime)
    site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
