"""Clients no one here wrote, against ``smtpmock --http`` in another process.

The npm ``mailpit-api`` client (Mailpit's TypeScript client) runs from a Node
script, utest/http_clients/mailpit_client.mjs; curl runs from here. Both need
the tools .ci/run installs (Node, ``npm ci`` in utest/http_clients, curl): a
missing one fails these tests, it never skips them.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from helpers import compose, send

CLIENTS = Path(__file__).parent / "http_clients"


class Smtpmock:
    """``smtpmock --http 0`` running in its own process."""

    def __init__(self, *options: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "SMTPMockLibrary", "--port", "0", "--http", "0",
             "--json", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        started = json.loads(self.process.stdout.readline() or "{}")
        assert started.get("event") == "started", self.process.stderr.read()  # type: ignore[union-attr]
        self.port = started["port"]
        self.http_port = started["http_port"]
        self.url = f"http://127.0.0.1:{self.http_port}"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.communicate(timeout=15)
        self.process.__exit__(None, None, None)  # closes the pipes


@pytest.fixture
def smtpmock() -> Iterator[Smtpmock]:
    running = Smtpmock()
    yield running
    running.stop()


@pytest.fixture
def smtpmock_with_auth() -> Iterator[Smtpmock]:
    running = Smtpmock("--http-auth", "tester:pa:ss")
    yield running
    running.stop()


def invoice() -> EmailMessage:
    message = compose("Invoice 42", "See the attachment.", sender="billing@shop.example",
                      to="bob@example.com", X_Tags="billing")  # fmt: skip
    message.add_alternative("<h1>Invoice 42</h1><p>Total 42</p>", subtype="html")
    message.add_attachment(
        b"item,amount\nwidget,42\n", "text", "csv", filename="invoice.csv"
    )
    return message


def send_two(port: int) -> None:
    send(port, compose("Welcome Alice", "Hello Alice"))
    send(port, invoice(), recipients=["bob@example.com"])


def run_mailpit_client(server: Smtpmock, *arguments: str) -> list[dict]:
    node = shutil.which("node")
    assert node, "Node.js is needed: .ci/run installs it (Debian nodejs)"
    assert (CLIENTS / "node_modules" / "mailpit-api").is_dir(), (
        "Run `npm ci` in utest/http_clients (.ci/run does)"
    )
    steps = []
    with subprocess.Popen(
        [node, "mailpit_client.mjs", server.url, *arguments],
        cwd=CLIENTS,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as client:
        assert client.stdout is not None and client.stderr is not None
        for line in client.stdout:
            steps.append(json.loads(line))
            if steps[-1]["step"] == "waiting":
                send(server.port, compose("Late arrival", "finally"))
        error = client.stderr.read()
        assert client.wait(timeout=60) == 0, f"{steps}\n{error}"
    return steps


def test_mailpit_api_client_against_smtpmock(smtpmock):
    send_two(smtpmock.port)
    steps = [step["step"] for step in run_mailpit_client(smtpmock)]
    assert steps == [
        "getInfo", "getConfiguration", "listMessages", "searchMessages",
        "getMessageSummary", "readByGetMessageSummary", "getMessageAttachment",
        "getMessageSource", "getMessageHeaders", "renderMessage", "tags",
        "setReadStatus", "chaos", "sendMessage", "waiting", "waitForMessage",
        "unknownId", "deleteMessages", "done",
    ]  # fmt: skip


def test_mailpit_api_client_with_basic_auth(smtpmock_with_auth):
    send_two(smtpmock_with_auth.port)
    steps = run_mailpit_client(smtpmock_with_auth, "tester:pa:ss")
    assert steps[-1] == {"step": "done"}


def curl(*arguments: str) -> subprocess.CompletedProcess:
    tool = shutil.which("curl")
    assert tool, "curl is needed: .ci/run installs it (Debian curl)"
    return subprocess.run(
        [tool, "--silent", "--show-error", *arguments],
        capture_output=True,
        timeout=30,
        check=False,
    )


def curl_json(*arguments: str) -> tuple[int, object]:
    """Status and JSON body of a curl request."""
    result = curl("--write-out", "\n%{http_code}", *arguments)
    assert result.returncode == 0, result.stderr
    body, _, status = result.stdout.decode().rpartition("\n")
    return int(status), json.loads(body) if body else None


def test_curl_reads_searches_downloads_and_deletes(smtpmock, tmp_path):
    send_two(smtpmock.port)
    api = f"{smtpmock.url}/api/v1"
    status, listing = curl_json(f"{api}/messages")
    assert status == 200 and listing["total"] == 2  # type: ignore[index]
    status, found = curl_json("--get", "--data-urlencode", "query=has:attachment",
                              f"{api}/search")  # fmt: skip
    assert [m["Subject"] for m in found["messages"]] == ["Invoice 42"]  # type: ignore[index]
    status, message = curl_json(f"{api}/message/latest")
    part = message["Attachments"][0]["PartID"]  # type: ignore[index]
    saved = tmp_path / "invoice.csv"
    assert (
        curl("--fail", "-o", str(saved), f"{api}/message/2/part/{part}").returncode == 0
    )
    assert saved.read_bytes().replace(b"\r\n", b"\n") == b"item,amount\nwidget,42\n"
    raw = curl("--fail", f"{smtpmock.url}/view/1.raw").stdout
    assert b"Subject: Welcome Alice" in raw
    sent = curl_json("-X", "POST", "-H", "Content-Type: application/json", "--data",
                     json.dumps({"From": {"Email": "a@b.example"},
                                 "To": [{"Email": "c@d.example"}], "Subject": "curl"}),
                     f"{api}/send")  # fmt: skip
    assert sent == (200, {"ID": "3"})
    assert curl("--fail", "-X", "DELETE", f"{api}/messages").stdout == b"ok"
    assert curl_json(f"{api}/messages")[1]["total"] == 0  # type: ignore[index]


@pytest.mark.parametrize(
    ("arguments", "status", "error"),
    [
        (["/api/v1/message/999"], 404, "Message '999' not found."),
        (["/api/v1/messages?limit=99999999"], 400, "'limit' must be a whole number"),
        (["-X", "PATCH", "/api/v1/messages"], 405, "Method PATCH is not allowed"),
        (["/api/v1/search?query=%22"], 400, "Unbalanced double quote"),
        (["-X", "PUT", "--data", "{", "/api/v1/chaos"], 400, "not valid JSON"),
    ],
)
def test_curl_bad_requests_get_json_errors(smtpmock, arguments, status, error):
    *options, path = arguments
    answered, body = curl_json(*options, smtpmock.url + path)
    assert answered == status
    assert error in body["Error"]  # type: ignore[index]
    assert curl_json(f"{smtpmock.url}/api/v1/info")[0] == 200  # still serving


def test_curl_needs_the_password_when_auth_is_set(smtpmock_with_auth):
    url = f"{smtpmock_with_auth.url}/api/v1/messages"
    status, body = curl_json(url)
    assert status == 401 and "Authentication required" in body["Error"]  # type: ignore[index]
    assert curl_json("-u", "tester:wrong", url)[0] == 401
    status, body = curl_json("-u", "tester:pa:ss", url)
    assert status == 200 and body["total"] == 0  # type: ignore[index]
    page = curl("-u", "tester:pa:ss", "--fail", f"{smtpmock_with_auth.url}/")
    assert b'<ul id="messages"' in page.stdout


def test_smtpmock_prints_the_viewer_address():
    with subprocess.Popen(
        [sys.executable, "-m", "SMTPMockLibrary", "--port", "0", "--http", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    address = lines[1].removeprefix("HTTP API and web viewer: ").strip()
    assert address.startswith("http://127.0.0.1:"), lines


def test_smtpmock_without_the_extra_says_which_to_install():
    code = (
        "import sys; sys.modules['aiohttp'] = None\n"
        "from SMTPMockLibrary.cli import main\n"
        "sys.exit(main(['--port', '0', '--http', '0']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr == (
        "smtpmock: The HTTP API needs aiohttp: "
        "pip install robotframework-smtpmocklibrary[http]\n"
    )
