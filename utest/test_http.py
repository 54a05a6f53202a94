"""The HTTP API over real sockets: Mailpit's endpoints, search, state, faults, errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.server
import json
import smtplib
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import aiohttp
import pytest
from corpus import CSV_TEXT, PNG_PIXEL, rich_message
from helpers import compose, send

from SMTPMockLibrary import MockSMTPServer
from SMTPMockLibrary.errors import ConfigurationError, ServerError
from SMTPMockLibrary.version import __version__


class Client:
    """A tiny HTTP client on urllib: every answer, errors included, as data."""

    def __init__(self, base: str, auth: tuple[str, str] | None = None):
        self.base = base
        self.auth = auth

    def request(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None
    ) -> tuple[int, dict, bytes]:
        data = raw if raw is not None else None
        if body is not None:
            data = json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if self.auth:
            token = base64.b64encode(":".join(self.auth).encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        code, headers, content = self.request(method, path, body)
        assert code == status, (code, content)
        assert headers["Content-Type"].startswith("application/json"), headers
        return json.loads(content)

    def text(self, method: str, path: str, body: Any = None) -> str:
        code, _, content = self.request(method, path, body)
        assert code == 200, (code, content)
        return content.decode()

    def get(self, path: str) -> Any:
        return self.json("GET", path)


@pytest.fixture
def server() -> Iterator[MockSMTPServer]:
    with MockSMTPServer() as running:
        running.start_http()
        yield running


@pytest.fixture
def api(server: MockSMTPServer) -> Client:
    return Client(f"http://127.0.0.1:{server.http_port}")


def deliver_three(server: MockSMTPServer) -> None:
    send(
        server.port,
        compose("Welcome Alice", "Hi Alice, welcome", to="alice@example.com"),
    )
    send(
        server.port,
        compose("Reset your password", "Use code 123456", to="bob@example.com"),
        recipients=["bob@example.com"],
    )
    send(server.port, rich_message(), recipients=["zoe@example.com"])


def test_messages_newest_first_with_mailpit_totals_and_paging(server, api):
    deliver_three(server)
    listing = api.get("/api/v1/messages")
    assert [m["ID"] for m in listing["messages"]] == ["3", "2", "1"]
    assert listing["total"] == listing["messages_count"] == listing["unread"] == 3
    assert listing["start"] == 0 and listing["count"] == 3
    first = listing["messages"][2]
    assert set(first) == {
        "ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject",
        "Created", "Username", "Tags", "Size", "Attachments", "Snippet",
    }  # fmt: skip
    assert first["From"] == {"Name": "", "Address": "app@example.com"}
    assert first["To"] == [{"Name": "", "Address": "alice@example.com"}]
    assert first["Subject"] == "Welcome Alice"
    assert first["Snippet"] == "Hi Alice, welcome"
    assert listing["messages"][0]["Attachments"] == 2
    page = api.get("/api/v1/messages?start=1&limit=1")
    assert [m["ID"] for m in page["messages"]] == ["2"]
    assert page["start"] == 1 and page["messages_count"] == 3


def test_message_by_id_and_latest_marks_it_read(server, api):
    deliver_three(server)
    message = api.get("/api/v1/message/latest")
    assert message["ID"] == "3"
    assert message["MessageID"] == "rich-1@example.com"
    assert message["From"] == {"Name": "Jörg Müller", "Address": "joerg@example.com"}
    assert message["Subject"] == "Ihre Rechnung für März – 日本語"
    assert "Ihre Rechnung" in message["Text"] and "<b>Zoë</b>" in message["HTML"]
    assert [a["FileName"] for a in message["Attachments"]] == [
        "report.csv",
        "Rechnung-März.pdf",
    ]
    assert [a["ContentType"] for a in message["Inline"]] == ["image/png"]
    assert api.get("/api/v1/message/2")["Subject"] == "Reset your password"
    listing = api.get("/api/v1/messages")
    assert [m["Read"] for m in listing["messages"]] == [True, True, False]
    assert listing["unread"] == 1


def test_ids_are_stable_and_never_reused_after_a_reset(server, api):
    send(server.port)
    assert api.get("/api/v1/messages")["messages"][0]["ID"] == "1"
    server.reset()
    send(server.port)
    assert [m["ID"] for m in api.get("/api/v1/messages")["messages"]] == ["2"]
    api.json("GET", "/api/v1/message/1", status=404)


def test_headers_as_received_with_go_canonical_names_sorted(server, api):
    send(server.port, compose("Hi", "x", Message_ID="<a@b>", X_Tags="one"))
    headers = api.get("/api/v1/message/latest/headers")
    assert list(headers) == sorted(headers)
    assert headers["Message-Id"] == ["<a@b>"]
    assert headers["Mime-Version"] == ["1.0"]
    assert headers["X-Tags"] == ["one"]


def test_attachment_parts_download_with_their_checksums(server, api):
    send(server.port, rich_message())
    message = api.get("/api/v1/message/1")
    csv = message["Attachments"][0]
    assert csv["Checksums"]["SHA256"] == hashlib.sha256(CSV_TEXT.encode()).hexdigest()
    status, headers, content = api.request(
        "GET", f"/api/v1/message/1/part/{csv['PartID']}"
    )
    assert status == 200 and content.decode().replace("\r\n", "\n") == CSV_TEXT
    assert headers["Content-Type"] == "text/csv"
    assert 'filename="report.csv"' in headers["Content-Disposition"]
    png = message["Inline"][0]
    status, _, content = api.request("GET", f"/api/v1/message/1/part/{png['PartID']}")
    assert content == PNG_PIXEL
    api.json("GET", "/api/v1/message/1/part/9.9", status=404)


def test_raw_source_and_views(server, api):
    send(server.port, rich_message())
    raw = api.text("GET", "/api/v1/message/1/raw")
    assert raw == server.messages[0].raw.decode()
    assert api.text("GET", "/view/1.raw") == raw
    _, headers, _ = api.request("GET", "/api/v1/message/1/raw?dl=1")
    assert headers["Content-Disposition"] == 'attachment; filename="1.eml"'
    assert api.text("GET", "/view/1.txt") == server.messages[0].text
    status, headers, html = api.request("GET", "/view/1.html")
    assert status == 200 and b"<b>Zo\xc3\xab</b>" in html
    assert b"cid:" not in html and b"data:image/png;base64," in html  # inline image
    assert "script-src" not in headers["Content-Security-Policy"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "sandbox" in headers["Content-Security-Policy"]
    send(server.port, compose())
    api.json("GET", "/view/2.html", status=404)  # no HTML body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("to:bob", ["3", "2"]),  # the third is to Zoë and bob
        ("to:BOB@example.com", ["3", "2"]),
        ("to:zoë", ["3"]),
        ("from:joerg", ["3"]),
        ("from:Müller", ["3"]),
        ('subject:"your password"', ["2"]),
        ('"welcome alice"', ["1"]),
        ("welcome", ["1"]),
        ("code 123456", ["2"]),
        ("-to:bob", ["1"]),
        ("!subject:welcome to:alice", []),
        ("has:attachment", ["3"]),
        ("is:unread", ["3", "2"]),
        ("is:read", ["1"]),
        ("report.csv", ["3"]),
        ("larger:1kB", ["3"]),
        ("smaller:1kB", ["2", "1"]),
        ("after:2000-01-01", ["3", "2", "1"]),
        ("before:2000-01-01", []),
        ("message-id:rich-1", ["3"]),
        ("cc:carol", ["3"]),
        ("addressed:carol", ["3"]),
    ],
)
def test_search_speaks_mailpit_syntax(server, api, query, expected):
    deliver_three(server)
    api.get("/api/v1/message/1")  # read
    found = api.get(f"/api/v1/search?query={urllib.request.quote(query)}")
    assert [m["ID"] for m in found["messages"]] == expected
    assert found["messages_count"] == len(expected)
    assert found["total"] == 3


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("", "no search query"),
        ('subject:"open', "Unbalanced double quote"),
        ("before:yesterday", "Invalid date"),
        ("larger:lots", "Invalid size"),
    ],
)
def test_bad_search_queries_get_400_and_a_json_error(api, query, error):
    answer = api.json(
        "GET", f"/api/v1/search?query={urllib.request.quote(query)}", status=400
    )
    assert error in answer["Error"]


def test_tags_from_x_tags_and_set_renamed_deleted_over_the_api(server, api):
    send(server.port, compose("One", X_Tags="billing, Urgent"))
    send(server.port, compose("Two"))
    assert api.get("/api/v1/tags") == ["billing", "Urgent"]
    assert api.get("/api/v1/search?query=tag:billing")["messages_count"] == 1
    assert (
        api.text("PUT", "/api/v1/tags", {"IDs": ["2"], "Tags": ["new<>tag", "x"]})
        == "ok"
    )
    assert api.get("/api/v1/message/2")["Tags"] == ["newtag", "x"]
    api.text("PUT", "/api/v1/tags/x", {"Name": "renamed"})
    api.text("DELETE", "/api/v1/tags/billing")
    assert api.get("/api/v1/tags") == ["newtag", "renamed", "Urgent"]
    assert api.get("/api/v1/info")["Tags"] == {"newtag": 1, "renamed": 1, "Urgent": 1}


def test_read_status_by_ids_by_search_and_all(server, api):
    deliver_three(server)
    api.text("PUT", "/api/v1/messages", {"IDs": ["1", "2"], "Read": True})
    assert api.get("/api/v1/messages")["unread"] == 1
    api.text("PUT", "/api/v1/messages", {"Search": "to:bob", "Read": False})
    assert api.get("/api/v1/search?query=is:unread")["messages_count"] == 2
    api.text("PUT", "/api/v1/messages", {"Read": True})
    assert api.get("/api/v1/messages")["unread"] == 0
    error = api.json(
        "PUT", "/api/v1/messages", {"IDs": ["1"], "Search": "x"}, status=400
    )
    assert "either IDs or a search" in error["Error"]


def test_deleting_some_hides_them_and_deleting_all_empties_the_mailbox(server, api):
    deliver_three(server)
    api.text("DELETE", "/api/v1/messages", {"IDs": ["1"]})
    assert [m["ID"] for m in api.get("/api/v1/messages")["messages"]] == ["3", "2"]
    api.json("GET", "/api/v1/message/1", status=404)
    assert len(server.messages) == 3  # nothing answered 250 is lost before a reset
    api.text("DELETE", "/api/v1/search?query=subject:reset")
    assert [m["ID"] for m in api.get("/api/v1/messages")["messages"]] == ["3"]
    api.text("DELETE", "/api/v1/messages")
    assert api.get("/api/v1/messages")["total"] == 0
    assert len(server.messages) == 0


def test_send_puts_a_message_into_the_mailbox(server, api):
    answer = api.json(
        "POST",
        "/api/v1/send",
        {
            "From": {"Email": "shop@example.com", "Name": "Shop"},
            "To": [{"Email": "carol@example.com", "Name": "Carol"}],
            "Bcc": ["audit@example.com"],
            "Subject": "Your receipt",
            "Text": "Thanks!",
            "HTML": "<p>Thanks!</p>",
            "Tags": ["receipt"],
            "Headers": {"X-Order": "42"},
            "Attachments": [
                {"Filename": "r.csv", "Content": base64.b64encode(b"a,b\n").decode()}
            ],
        },
    )
    message = server.wait_for_message(recipient="audit@example.com", timeout=2)
    assert answer == {"ID": str(message.sequence)}
    assert message.sender == "shop@example.com"
    assert message.recipients == ["carol@example.com", "audit@example.com"]
    assert (
        message.subject == "Your receipt" and message.html.strip() == "<p>Thanks!</p>"
    )
    assert message.headers["X-Order"] == "42"
    assert [a.filename for a in message.attachments] == ["r.csv"]
    assert api.get(f"/api/v1/message/{answer['ID']}")["Tags"] == ["receipt"]
    # Stored with CRLF line endings, as SMTP stores mail and IMAP/POP3 serve it.
    assert message.raw.count(b"\n") == message.raw.count(b"\r\n") > 10


@pytest.mark.parametrize(
    ("request_body", "error"),
    [
        ({"To": [{"Email": "a@b.c"}]}, "needs From.Email"),
        ({"From": {"Email": "a@b.c"}}, "at least one To"),
        ({"From": {"Email": "a@b.c"}, "To": [{"Email": "nope"}]}, "invalid To address"),
        (
            {
                "From": {"Email": "a@b.c"},
                "To": [{"Email": "x@y.z"}],
                "Headers": {"Subject": "x"},
            },
            "cannot overwrite header",
        ),
        (["not", "an", "object"], "must be a JSON object"),
    ],
)
def test_bad_send_requests_get_400(server, api, request_body, error):
    assert error in api.json("POST", "/api/v1/send", request_body, status=400)["Error"]
    assert len(server.messages) == 0


def test_chaos_maps_onto_deterministic_faults(server, api):
    assert api.get("/api/v1/chaos")["Recipient"] == {"ErrorCode": 451, "Probability": 0}
    config = api.json(
        "PUT", "/api/v1/chaos", {"Recipient": {"ErrorCode": 550, "Probability": 100}}
    )
    assert config["Recipient"] == {"ErrorCode": 550, "Probability": 100}
    for _ in range(3):  # every time, not by chance
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(server.port)
        assert refused.value.recipients["alice@example.com"][0] == 550
    api.json("PUT", "/api/v1/chaos", {})
    send(server.port)
    assert len(server.messages) == 1
    error = api.json(
        "PUT", "/api/v1/chaos", {"Sender": {"Probability": 101}}, status=400
    )
    assert error["Error"] == "probability must be between 0 and 100"


def sender_failures(server: MockSMTPServer, attempts: int) -> list[bool]:
    failed = []
    for _ in range(attempts):
        try:
            send(server.port)
            failed.append(False)
        except smtplib.SMTPSenderRefused:
            failed.append(True)
    return failed


def test_chaos_between_0_and_100_is_seeded_so_every_run_fails_alike(server, api):
    chaos = {"Sender": {"ErrorCode": 421, "Probability": 50}, "Seed": 7}
    api.json("PUT", "/api/v1/chaos", chaos)
    first = sender_failures(server, 12)
    api.json("PUT", "/api/v1/chaos", chaos)
    assert sender_failures(server, 12) == first
    assert True in first and False in first
    server.faults.clear()  # a keyword's Clear Faults: chaos shows it is off
    assert api.get("/api/v1/chaos")["Sender"] == {"ErrorCode": 421, "Probability": 0}


def test_fault_rules_extension(server, api):
    rule = api.json(
        "POST",
        "/api/smtpmock/faults",
        {"Action": "reply", "Command": "DATA", "Reply": "452 Mailbox full", "Times": 1},
    )
    assert rule == {"Rule": "Fault rule: end of data -> 452 Mailbox full (not stored), 1 time.", "Fired": 0}  # fmt: skip
    with pytest.raises(smtplib.SMTPDataError) as failed:
        send(server.port)
    assert failed.value.smtp_code == 452
    send(server.port)  # Times 1: fired once
    api.json(
        "POST",
        "/api/smtpmock/faults",
        {"Action": "reply", "Command": "RCPT", "Address": "bob@", "Reply": "550 No"},
    )
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(server.port, recipients=["bob@example.com"])
    assert api.get("/api/smtpmock/faults") == [
        {
            "Rule": "Fault rule: RCPT for addresses matching 'bob@' -> 550 No, "
            "until cleared.",
            "Fired": 1,
        }
    ]
    api.text("DELETE", "/api/smtpmock/faults")
    send(server.port, recipients=["bob@example.com"])
    assert len(server.messages) == 2
    error = api.json("POST", "/api/smtpmock/faults", {"Action": "explode"}, status=400)
    assert "Action must be" in error["Error"]
    error = api.json(
        "POST",
        "/api/smtpmock/faults",
        {"Action": "reply", "Command": "DATA", "Reply": "hello"},
        status=400,
    )
    assert "Invalid SMTP reply" in error["Error"]


def test_verification_code_extension(server, api):
    send(server.port, compose("Your sign-in code", "Your verification code is 482913."))
    answer = api.get("/api/smtpmock/message/latest/verification-code")
    assert answer == {"ID": "1", "Code": "482913"}
    send(server.port, compose("Hello", "No code in here."))
    assert api.get("/api/smtpmock/message/2/verification-code")["Code"] is None


class _Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/ok" else 404
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def pages() -> Iterator[str]:
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{site.server_address[1]}"
    site.shutdown()
    site.server_close()


def test_link_check_requests_every_link(server, api, pages):
    send(server.port, compose("Links", f"Open {pages}/ok and {pages}/missing now."))
    report = api.get("/api/v1/message/latest/link-check")
    assert report == {
        "Errors": 1,
        "Links": [
            {"URL": f"{pages}/ok", "StatusCode": 200, "Status": "OK"},
            {"URL": f"{pages}/missing", "StatusCode": 404, "Status": "Not Found"},
        ],
    }


def test_info_and_webui(server, api):
    deliver_three(server)
    info = api.get("/api/v1/info")
    assert info["Messages"] == 3 and info["Unread"] == 3
    assert info["RuntimeStats"]["SMTPAccepted"] == 3
    assert info["Version"].startswith("smtpmock ")
    assert api.get("/api/v1/webui")["ChaosEnabled"] is True
    assert api.text("GET", "/livez") == api.text("GET", "/readyz") == "ok"


def test_events_websocket_announces_new_mail(server):
    async def listen() -> list[dict]:
        url = f"http://127.0.0.1:{server.http_port}/api/events"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            await asyncio.to_thread(send, server.port, compose("Live"))
            events = [
                await ws.receive_json(timeout=5),
                await ws.receive_json(timeout=5),
            ]
        return events

    new, stats = asyncio.run(listen())
    assert new["Type"] == "new"
    assert new["Data"]["ID"] == "1" and new["Data"]["Subject"] == "Live"
    assert stats["Type"] == "stats"
    assert stats["Data"] == {
        "Total": 1,
        "Unread": 1,
        "Version": f"smtpmock {__version__}",
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/api/v1/message/12345", 404, "Message '12345' not found."),
        ("GET", "/api/v1/message/../../etc", 404, None),
        ("GET", "/api/v1/message/abc/headers", 404, "Message 'abc' not found."),
        ("GET", "/api/v1/messages?limit=100000000", 400, "'limit' must be a whole"),
        ("GET", "/api/v1/messages?limit=-1", 400, "'limit' must be a whole"),
        ("GET", "/api/v1/messages?start=x", 400, "'start' must be a whole"),
        ("PATCH", "/api/v1/messages", 405, "Method PATCH is not allowed"),
        ("POST", "/api/v1/info", 405, "use GET"),
        ("GET", "/no/such/page", 404, "No such endpoint"),
        ("GET", "/static/../http.py", 404, None),
        ("GET", "/static/app.py", 404, "No such file"),
    ],
)
def test_bad_requests_get_a_status_and_a_json_error(
    server, api, method, path, status, error
):
    send(server.port)
    code, headers, content = api.request(method, path)
    assert code == status, content
    assert headers["Content-Type"].startswith("application/json")
    if error:
        assert error in json.loads(content)["Error"]
    assert api.get("/api/v1/messages")["total"] == 1  # still serving


def test_invalid_json_bodies_get_400_and_delete_nothing(server, api):
    send(server.port)
    code, _, content = api.request("DELETE", "/api/v1/messages", raw=b"{not json")
    assert code == 400 and "not valid JSON" in json.loads(content)["Error"]
    assert len(server.messages) == 1
    code, _, content = api.request("PUT", "/api/v1/tags", raw=b"[1, 2]")
    assert code == 400 and "must be a JSON object" in json.loads(content)["Error"]


def test_oversized_request_gets_413(api):
    code, _, content = api.request(
        "POST", "/api/v1/send", raw=b"x" * (65 * 1024 * 1024)
    )
    assert code == 413 and "larger than" in json.loads(content)["Error"]


def test_basic_auth_guards_every_endpoint_page_and_socket():
    with MockSMTPServer() as server:
        port = server.start_http(auth="tester:s3cret")
        base = f"http://127.0.0.1:{port}"
        for path in ("/", "/static/app.js", "/api/v1/messages", "/view/1.raw"):
            code, headers, content = Client(base).request("GET", path)
            assert code == 401, path
            assert headers["WWW-Authenticate"].startswith("Basic realm=")
            assert "Authentication required" in json.loads(content)["Error"]
        code, _, _ = Client(base, ("tester", "wrong")).request(
            "GET", "/api/v1/messages"
        )
        assert code == 401
        assert Client(base, ("tester", "s3cret")).get("/api/v1/messages")["total"] == 0

        async def open_socket(headers: dict) -> int:
            async with aiohttp.ClientSession(headers=headers) as session:
                try:
                    async with session.ws_connect(f"{base}/api/events"):
                        return 101
                except aiohttp.WSServerHandshakeError as error:
                    return error.status

        assert asyncio.run(open_socket({})) == 401
        token = base64.b64encode(b"tester:s3cret").decode()
        assert asyncio.run(open_socket({"Authorization": f"Basic {token}"})) == 101
        server.start_http(auth=("other", "pw"))  # a pair works too, and replaces it
        code, _, _ = Client(
            f"http://127.0.0.1:{server.http_port}", ("other", "pw")
        ).request("GET", "/api/v1/info")
        assert code == 200


@pytest.mark.parametrize("auth", ["nocolon", ":pw", "user:", ("a",), 42])
def test_bad_auth_settings_are_a_clear_error(auth):
    with MockSMTPServer() as server, pytest.raises(ConfigurationError) as error:
        server.start_http(auth=auth)
    assert "HTTP auth must be 'user:password'" in str(error.value)


def test_binds_loopback_and_stops_with_the_server():
    server = MockSMTPServer()
    port = server.start_http()
    service = server._services["http"]
    assert service.host == "127.0.0.1"
    Client(f"http://127.0.0.1:{port}").get("/api/v1/info")
    server.stop()
    assert server.http_port is None
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/info", timeout=2)


def test_port_in_use_is_a_clear_error(server):
    with pytest.raises(ServerError) as error:
        server.start_http(server.port)
    assert "Cannot start the HTTP API" in str(error.value)
    assert "already in use" in str(error.value)


def test_needs_a_running_server():
    server = MockSMTPServer(autostart=False)
    with pytest.raises(ServerError, match="Start the mock SMTP server before its HTTP"):
        server.start_http()


def test_page_and_data_responses_carry_strict_policies(api):
    code, headers, page = api.request("GET", "/")
    assert code == 200 and b'id="messages"' in page
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    _, headers, _ = api.request("GET", "/api/v1/messages")
    assert headers["Content-Security-Policy"].startswith("default-src 'none'; sandbox")


def test_an_html_attachment_opened_from_the_api_runs_nothing(server, api):
    message = compose("Page attached")
    message.add_attachment(
        "<script>alert(1)</script>", subtype="html", filename="page.html"
    )
    send(server.port, message)
    part = api.get("/api/v1/message/1")["Attachments"][0]["PartID"]
    status, headers, content = api.request("GET", f"/api/v1/message/1/part/{part}")
    assert status == 200 and b"<script>" in content
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Content-Security-Policy"].startswith("default-src 'none'; sandbox")
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_missing_extra_is_a_one_line_error_naming_it():
    code = (
        "import sys; sys.modules['aiohttp'] = None\n"
        "from SMTPMockLibrary import MockSMTPServer\n"
        "with MockSMTPServer() as server:\n"
        "    try:\n"
        "        server.start_http()\n"
        "    except Exception as error:\n"
        "        print(type(error).__name__, error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == (
        "ServerError The HTTP API needs aiohttp: "
        "pip install robotframework-smtpmocklibrary[http]"
    )


def _message_with_cid() -> EmailMessage:
    message = compose("Pic", "see picture")
    message.add_alternative('<img src="cid:pic@x">', subtype="html")
    message.get_payload()[1].add_related(
        PNG_PIXEL, "image", "png", cid="<pic@x>", filename="p.png"
    )
    return message


def test_inline_parts_are_listed_as_inline(server, api):
    send(server.port, _message_with_cid())
    message = api.get("/api/v1/message/1")
    assert message["Attachments"] == []
    assert [(i["FileName"], i["ContentID"]) for i in message["Inline"]] == [
        ("p.png", "pic@x")
    ]
    assert api.get("/api/v1/search?query=has:inline")["messages_count"] == 1


def _nested(depth: int) -> bytes:
    head = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: deep\r\n"
    parts = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    ends = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return head + parts + b"Content-Type: text/plain\r\n\r\ninnermost" + ends


MALFORMED = {
    "undecodable header bytes": b"From: \xff\xfe <x@\xff.com>\r\nSubject: caf\xe9 \xff\r\n"
    b"To: b@example.com\r\n\r\nbody \xff\r\n",
    "no headers": b"\r\njust a body\r\n",
    "broken boundary": b"Subject: parts\r\nContent-Type: multipart/mixed; "
    b'boundary="nope"\r\n\r\n--other\r\nContent-Type: text/html\r\n\r\n<b>x\r\n',
    "bad date and addresses": b'Date: yesterday-ish\r\nTo: ,,,<<>>, "\r\n'
    b"From: <>\r\nSubject: =?utf-8?B?!!!?=\r\n\r\nx\r\n",
    "garbage base64 attachment": b"Subject: att\r\nContent-Type: multipart/mixed; "
    b'boundary="b"\r\n\r\n--b\r\nContent-Type: application/pdf\r\n'
    b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; "
    b'filename="x.pdf"\r\n\r\n!!!not base64***\r\n--b--\r\n',
    "nested 3000 deep": _nested(3000),
}


def test_malformed_mail_never_breaks_the_api(server, api):
    for raw in MALFORMED.values():
        server.deliver(raw, "b@example.com")
    listing = api.get("/api/v1/messages")
    assert listing["total"] == len(MALFORMED)
    for summary in listing["messages"]:
        message_id = summary["ID"]
        message = api.get(f"/api/v1/message/{message_id}")
        api.get(f"/api/v1/message/{message_id}/headers")
        assert api.request("GET", f"/api/v1/message/{message_id}/raw")[0] == 200
        for path in (f"/view/{message_id}.html", f"/view/{message_id}.txt"):
            assert api.request("GET", path)[0] in (200, 404), path
        for part in message["Attachments"] + message["Inline"]:
            path = f"/api/v1/message/{message_id}/part/{part['PartID']}"
            assert api.request("GET", path)[0] == 200, path
    assert api.get("/api/v1/search?query=body")["messages_count"] >= 1
    assert api.get("/api/v1/search?query=subject:deep")["messages_count"] == 1
    assert server._services["http"].errors == []


def test_api_under_concurrent_reads_while_mail_arrives(server, api):
    """Bounded: 4 readers x 40 requests while 60 messages are sent."""
    failures: list[object] = []

    def read() -> None:
        for _ in range(40):
            code, _, content = api.request("GET", "/api/v1/messages?limit=5")
            if code != 200:
                failures.append((code, content))
            code, _, _ = api.request("GET", "/api/v1/search?query=subject:load")
            if code != 200:
                failures.append(code)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    for number in range(60):
        send(server.port, compose(f"load {number}"))
    for reader in readers:
        reader.join(60)
    assert failures == []
    assert api.get("/api/v1/search?query=subject:load")["messages_count"] == 60
    assert len(server.messages) == 60


def test_inboxes_extension_and_inbox_search(server, api):
    server.create_inbox("signup", recipient="glob:*@signup.test")
    send(server.port, compose("Welcome"), recipients=["new@signup.test"])
    send(server.port, compose("Invoice"), recipients=["carol@example.com"])
    assert api.get("/api/smtpmock/inboxes") == {"signup": 1, "unrouted": 1}
    found = api.get("/api/v1/search?query=inbox:signup")
    assert [m["Subject"] for m in found["messages"]] == ["Welcome"]
    assert api.get("/api/v1/search?query=-inbox:signup")["messages_count"] == 1
    server.reset(inbox="signup")  # the inbox's view is emptied, the mailbox kept
    assert api.get("/api/v1/search?query=inbox:signup")["messages_count"] == 0
    error = api.json("GET", "/api/v1/search?query=inbox:nope", status=400)
    assert error["Error"].startswith("No inbox called 'nope'.")
