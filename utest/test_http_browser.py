"""The web viewer in headless Chromium (Debian's, driven by npm playwright-core).

utest/http_clients/viewer_check.mjs does the browsing; this test serves the
mailbox, sends mail when the page is ready for it, runs a tracking server on
another origin that counts every request a hostile message makes it, and
checks what the script measured.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from corpus import PNG_PIXEL
from helpers import compose, send

from SMTPMockLibrary import MockSMTPServer

CLIENTS = Path(__file__).parent / "http_clients"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


class Tracker(http.server.ThreadingHTTPServer):
    """A server on another origin: every request it gets is a leak."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Counting)
        self.hits: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Counting(http.server.BaseHTTPRequestHandler):
    server: Tracker

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.wfile.write(PNG_PIXEL)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tracker() -> Iterator[Tracker]:
    server = Tracker()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def hostile_message(tracker: str) -> EmailMessage:
    message = compose(
        "<img src=x onerror=alert(1)> Hello",
        '<script>alert("text")</script> Plain text with markup.',
    )
    message.add_alternative(
        f"""<html><head>
<meta http-equiv="refresh" content="0;url={tracker}/refresh">
<link rel="stylesheet" href="{tracker}/style.css">
<style>@import url("{tracker}/import.css"); body {{ background: url({tracker}/bg.png) }}</style>
<base href="{tracker}/base/">
</head><body onload="fetch('{tracker}/onload')">
<script>fetch("{tracker}/script"); parent.pwned = 1; alert("html");</script>
<img src="{tracker}/pixel.png" alt="remote">
<img src="x" onerror="new Image().src='{tracker}/onerror'">
<svg onload="fetch('{tracker}/svg')"><image href="{tracker}/svg-image.png"/></svg>
<iframe src="{tracker}/frame"></iframe>
<object data="{tracker}/object"></object><embed src="{tracker}/embed">
<video poster="{tracker}/poster.png" src="{tracker}/video.mp4" autoplay></video>
<form action="{tracker}/form" method="post"><input autofocus onfocus="this.form.submit()"></form>
<a href="{tracker}/link" id="link">A link</a>
<p style="background-image: url('{tracker}/inline-style.png')">Hostile HTML body</p>
</body></html>""",
        subtype="html",
    )
    message.add_attachment(b"a,b\n", "text", "csv", filename="data.csv")
    return message


@pytest.mark.parametrize("auth", [None, "viewer:s3cret"], ids=["open", "basic-auth"])
def test_viewer_in_headless_chromium(tracker, tmp_path, capsys, auth):
    node = shutil.which("node")
    assert node, "Node.js is needed: .ci/run installs it (Debian nodejs)"
    assert Path(CHROMIUM).exists(), (
        "Chromium is needed: .ci/run installs it (Debian chromium)"
    )
    assert (CLIENTS / "node_modules" / "playwright-core").is_dir(), (
        "Run `npm ci` in utest/http_clients (.ci/run does)"
    )
    with MockSMTPServer() as server:
        port = server.start_http(auth=auth)
        send(server.port, compose("Welcome", "Hello there"))
        send(server.port, hostile_message(tracker.url))
        hostile_id = str(server.messages[-1].sequence)
        steps = []
        with subprocess.Popen(
            [
                node,
                "viewer_check.mjs",
                f"http://127.0.0.1:{port}",
                hostile_id,
                *([auth] if auth else []),
            ],
            cwd=CLIENTS,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CHROMIUM": CHROMIUM, "SCREENSHOTS": str(tmp_path)},
        ) as browser:
            assert browser.stdin and browser.stdout and browser.stderr
            for line in browser.stdout:
                step = json.loads(line)
                steps.append(step)
                if step["step"] == "send-new":
                    send(server.port, compose(f"Live {step['theme']}", "new"))
                    browser.stdin.write("sent\n")
                    browser.stdin.flush()
                step["trackerHits"] = len(tracker.hits)
            error = browser.stderr.read()
            assert browser.wait(timeout=120) == 0, f"{steps}\n{error}"
    with capsys.disabled():
        for step in steps:
            if step["step"] in ("hostile", "contrast", "remote-images"):
                print(json.dumps(step))
    by_step = {(s["step"], s.get("theme")): s for s in steps}
    for theme in ("light", "dark"):
        assert ("elements", theme) in by_step and ("live", theme) in by_step
        assert ("search", theme) in by_step
        hostile = by_step["hostile", theme]
        assert hostile["requestsLeaving"] == 0 and hostile["dialogs"] == 0
        # Between opening the hostile message and asking for remote images,
        # the tracking server heard nothing.
        assert hostile["trackerHits"] == by_step["search", theme]["trackerHits"]
        contrast = by_step["contrast", theme]
        assert contrast["checked"] > 20
        assert contrast["minimum"] >= 4.5, contrast["worst"]
        # The counter counts: asked for, remote images do leave the page.
        assert by_step["remote-images", theme]["requestsLeaving"] > 0
    assert steps[-1]["step"] == "done"
    assert tracker.hits  # asked for, remote images were fetched
    # Even then only images: no script, style sheet, frame, form or refresh.
    images = {"/pixel.png", "/base/x", "/svg-image.png", "/poster.png", "/bg.png"}
    assert set(tracker.hits) <= images | {"/inline-style.png"}, tracker.hits
