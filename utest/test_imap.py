"""The IMAP read-back service, driven by real clients: Python's imaplib, raw
sockets for what imaplib cannot say, and Node's imapflow in IDLE."""

from __future__ import annotations

import contextlib
import imaplib
import json
import logging
import re
import smtplib
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from helpers import compose, send

from SMTPMockLibrary import MockSMTPServer
from SMTPMockLibrary.errors import ServerError

NODE_CLIENT = Path(__file__).parent.parent / "atest/resources/imap_node/idle.mjs"
PYMAP_REASON = (
    "pymap, the IMAP server, needs Python 3.11+; on 3.10 "
    "test_missing_extra_is_a_one_line_error_naming_it checks the error instead"
)
NEEDS_PYMAP = pytest.mark.skipif(sys.version_info < (3, 11), reason=PYMAP_REASON)


_clients: list[Any] = []  # closed after each test: IMAP4 clients, sockets, files


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while _clients:
        client = _clients.pop()
        with contextlib.suppress(OSError):
            (client.shutdown if isinstance(client, imaplib.IMAP4) else client.close)()


@pytest.fixture
def server() -> Iterator[MockSMTPServer]:
    if sys.version_info < (3, 11):
        pytest.skip(PYMAP_REASON)
    with MockSMTPServer(users={"alice@example.com": "s3cret"}) as running:
        running.start_imap()
        yield running


def connect(server: MockSMTPServer, user: str, password: str = "any") -> imaplib.IMAP4:
    assert server.imap_port
    client = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    _clients.append(client)
    client.login(user, password)
    return client


def alice(server: MockSMTPServer) -> imaplib.IMAP4:
    return connect(server, "alice@example.com", "s3cret")


def fetch(client: imaplib.IMAP4, what: str, message_set: str = "1") -> bytes:
    status, data = client.fetch(message_set, what)
    assert status == "OK", data
    return b"".join(
        part[0] + part[1] if isinstance(part, tuple) else part for part in data
    )


def literal(client: imaplib.IMAP4, what: str, message_set: str = "1") -> bytes:
    status, data = client.fetch(message_set, what)
    assert status == "OK" and isinstance(data[0], tuple), data
    return data[0][1]


def uids(client: imaplib.IMAP4) -> list[int]:
    status, data = client.uid("SEARCH", "ALL")
    assert status == "OK"
    return [int(uid) for uid in data[0].split()]


def test_each_recipient_has_an_inbox_and_the_catch_all_sees_every_message_once(
    server,
):
    send(
        server.port,
        compose(subject="One", to="alice@example.com"),
        recipients=["alice@example.com", "bob@example.com"],
    )  # Bob is Bcc
    send(
        server.port,
        compose(subject="Two", to="carol@example.com"),
        recipients=["carol@example.com"],
    )
    counts = {}
    # imaplib sends user names as they are: '*' must be quoted for IMAP.
    for user in ("alice@example.com", "bob@example.com", "carol@example.com", '"*"'):
        client = connect(server, user, "s3cret")
        status, data = client.select("INBOX", readonly=True)
        assert status == "OK"
        counts[user] = int(data[0])
        client.logout()
    assert counts == {
        "alice@example.com": 1,
        "bob@example.com": 1,
        "carol@example.com": 1,
        '"*"': 2,
    }


def test_list_shows_inbox(server):
    client = alice(server)
    status, data = client.list()
    assert status == "OK"
    assert any(b"INBOX" in line for line in data)


def test_body_and_sizes_are_the_received_bytes_exactly(server):
    raw = (
        b"From: app@example.com\r\nTo: alice@example.com\r\nSubject: exact\r\n"
        b"X-Odd:   spaces kept  \r\n\r\n.leading dot\r\nbare\nLF line\r\n\r\n"
    )
    send(server.port, raw)
    client = alice(server)
    client.select("INBOX")
    assert literal(client, "(BODY.PEEK[])") == raw
    assert literal(client, "(RFC822)") == raw
    assert (
        re.search(rb"RFC822.SIZE (\d+)", fetch(client, "(RFC822.SIZE)")).group(1)
        == str(len(raw)).encode()
    )
    assert b"Received:" not in raw and b"Return-Path" not in raw


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"no header at all",
        b"\x00\xff binary \x80\r\n\r\n\x00",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nunterminated",
        b"Subject: \xff\xfe\r\n\r\nundecodable header",
        b"A: b\nC: d\n\nLF line endings only\n",
    ],
    ids=["empty", "no-header", "binary", "broken-mime", "bad-header", "lf-only"],
)
def test_odd_messages_are_served_exactly(server, raw):
    server.deliver(raw, "alice@example.com")
    client = alice(server)
    client.select("INBOX")
    assert literal(client, "(BODY.PEEK[])") == raw
    assert fetch(client, "(BODYSTRUCTURE ENVELOPE FLAGS)").startswith(b"1 (")


def test_uids_are_stable_across_sessions_and_ascending(server):
    for number in range(3):
        send(server.port, compose(subject=f"m{number}"))
    first = alice(server)
    first.select("INBOX")
    before = uids(first)
    first.logout()
    send(server.port, compose(subject="m3"))
    second = alice(server)
    second.select("INBOX")
    after = uids(second)
    assert after[:3] == before and len(after) == 4
    assert after == sorted(set(after))


def test_bodystructure_envelope_and_parts(server):
    message = compose(subject="Parts", text="plain part")
    message.add_alternative("<p>html part</p>", subtype="html")
    send(server.port, message)
    client = alice(server)
    client.select("INBOX")
    structure = fetch(client, "(BODYSTRUCTURE)")
    assert b'"text" "plain"' in structure.lower()
    assert b'"alternative"' in structure.lower()
    envelope = fetch(client, "(ENVELOPE)")
    assert b'"Parts"' in envelope and b'NIL "alice" "example.com"' in envelope
    assert literal(client, "(BODY.PEEK[1])").strip() == b"plain part"
    assert b"<p>html part</p>" in literal(client, "(BODY.PEEK[2])")
    assert b"Subject: Parts" in literal(client, "(BODY.PEEK[HEADER])")


def test_peek_leaves_unseen_and_body_marks_seen(server):
    send(server.port)
    client = alice(server)
    client.select("INBOX")
    literal(client, "(BODY.PEEK[])")
    assert b"\\Seen" not in fetch(client, "(FLAGS)")
    literal(client, "(BODY[])")
    assert b"\\Seen" in fetch(client, "(FLAGS)")
    assert server.message_flags(server.messages[0], "alice@example.com") == ["\\Seen"]


def test_search(server):
    send(
        server.port,
        compose(subject="Invoice 42", text="pay now", sender="shop@example.com"),
    )
    send(
        server.port, compose(subject="Welcome", text="hello", sender="team@example.com")
    )
    client = alice(server)
    client.select("INBOX")

    def search(*criteria: str) -> list[bytes]:
        status, data = client.search(None, *criteria)
        assert status == "OK"
        return data[0].split()

    assert search("UNSEEN") == [b"1", b"2"]
    assert search("FROM", '"shop@example.com"') == [b"1"]
    assert search("SUBJECT", '"Welcome"') == [b"2"]
    assert search("TEXT", '"pay now"') == [b"1"]
    assert search("SINCE", date.today().strftime("%d-%b-%Y")) == [b"1", b"2"]
    literal(client, "(BODY[])", "2")
    assert search("UNSEEN") == [b"1"]
    status, data = client.uid("SEARCH", "SUBJECT", '"Welcome"')
    assert status == "OK" and data[0].split() == [str(uids(client)[1]).encode()]


def test_uid_fetch_and_store(server):
    send(server.port)
    client = alice(server)
    client.select("INBOX")
    uid = uids(client)[0]
    status, data = client.uid("FETCH", str(uid), "(UID FLAGS)")
    assert status == "OK" and f"UID {uid}".encode() in data[0]
    status, _ = client.uid("STORE", str(uid), "+FLAGS", "(\\Flagged)")
    assert status == "OK"
    assert server.message_flags(server.messages[0], "alice@example.com") == [
        "\\Flagged"
    ]


def test_flags_are_per_user(server):
    send(server.port, recipients=["alice@example.com", "bob@example.com"])
    client = alice(server)
    client.select("INBOX")
    client.store("1", "+FLAGS", "(\\Seen \\Answered)")
    bob = connect(server, "bob@example.com")
    bob.select("INBOX")
    assert b"\\Seen" not in fetch(bob, "(FLAGS)")
    message = server.messages[0]
    assert server.message_flags(message, "alice@example.com") == [
        "\\Answered",
        "\\Seen",
    ]
    assert server.message_flags(message, "bob@example.com") == []


def test_expunge_removes_from_that_users_view_only(server):
    send(server.port, recipients=["alice@example.com", "bob@example.com"])
    client = alice(server)
    client.select("INBOX")
    client.store("1", "+FLAGS", "(\\Deleted)")
    status, data = client.expunge()
    assert status == "OK" and data == [b"1"]
    client.logout()

    again = alice(server)
    assert again.select("INBOX")[1] == [b"0"]
    bob = connect(server, "bob@example.com")
    assert bob.select("INBOX")[1] == [b"1"]
    assert len(server.messages) == 1  # nothing the server accepted is lost
    assert server.message_flags(server.messages[0], "alice@example.com") == [
        "\\Deleted",
        "expunged",
    ]


def test_a_reset_empties_the_inboxes_for_the_next_login(server):
    send(server.port, compose(subject="before"))
    client = alice(server)
    assert client.select("INBOX")[1] == [b"1"]
    client.logout()
    server.reset()
    send(server.port, compose(subject="after"))
    again = alice(server)
    assert again.select("INBOX")[1] == [b"1"]
    assert b"Subject: after" in literal(again, "(BODY.PEEK[HEADER])")


def noop_until(client: imaplib.IMAP4, kind: str) -> dict[str, list[bytes]]:
    """NOOP until the server reports ``kind`` (EXISTS or EXPUNGE): what the
    NOOPs reported, by kind. Delivered mail reaches the INBOX on the server's
    loop, a moment after ``deliver()`` returns."""
    client.untagged_responses.clear()  # imaplib keeps SELECT's EXISTS
    seen: dict[str, list[bytes]] = {}
    deadline = time.monotonic() + 5
    while kind not in seen and time.monotonic() < deadline:
        assert client.noop()[0] == "OK"
        for name in ("EXPUNGE", "EXISTS"):
            data = client.response(name)[1]
            if data != [None]:
                seen.setdefault(name, []).extend(data)
    assert kind in seen, f"no {kind} within 5 s: {seen}"
    return seen


def test_a_reset_reaches_a_logged_in_session_as_expunges(server):
    server.deliver(b"Subject: old\r\n\r\nx\r\n", "alice@example.com")
    client = alice(server)
    assert client.select("INBOX")[1] == [b"1"]
    [old_uid] = uids(client)
    _, uidvalidity = client.status("INBOX", "(UIDVALIDITY)")
    server.reset()
    server.deliver(b"Subject: new\r\n\r\nx\r\n", "alice@example.com")
    seen = noop_until(client, "EXISTS")
    assert seen == {"EXPUNGE": [b"1"], "EXISTS": [b"1"]}
    [new_uid] = uids(client)
    assert new_uid > old_uid  # never reused
    subjects = fetch(client, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])", "1:*")
    assert b"Subject: new" in subjects and b"Subject: old" not in subjects
    assert client.status("INBOX", "(UIDVALIDITY)")[1] == uidvalidity


def test_a_reset_expunges_only_what_the_session_still_sees(server):
    for subject in ("expunged by alice", "still seen"):
        server.deliver(f"Subject: {subject}\r\n\r\nx\r\n".encode(), "alice@example.com")
    client = alice(server)
    assert client.select("INBOX")[1] == [b"2"]
    client.store("1", "+FLAGS", "(\\Deleted)")
    assert client.expunge()[1] == [b"1"]
    # In the INBOX (another login waits for that), not yet told to this session.
    server.deliver(b"Subject: never seen\r\n\r\nx\r\n", "alice@example.com")
    alice(server).logout()
    server.reset()
    assert noop_until(client, "EXPUNGE") == {"EXPUNGE": [b"1"]}
    assert client.noop()[0] == "OK"
    assert client.response("EXPUNGE")[1] == [None]
    assert uids(client) == []


def test_a_session_in_idle_hears_of_a_reset_at_once(server):
    send(server.port)
    sock, until = raw_session(server)
    sock.sendall(b"a1 LOGIN alice@example.com s3cret\r\na2 SELECT INBOX\r\n")
    assert b"* 1 EXISTS\r\n" in until(b"a2 OK")
    sock.sendall(b"a3 IDLE\r\n")
    until(b"+ ")
    sock.settimeout(2)
    started = time.monotonic()
    server.reset()
    assert until(b"* 1 EXPUNGE")
    assert time.monotonic() - started < 1
    send(server.port)  # new mail after the reset still wakes IDLE
    assert until(b"* 1 EXISTS")
    sock.sendall(b"DONE\r\n")
    assert until(b"a3 ")[-1].startswith(b"a3 OK")


def test_emptying_the_mailbox_over_http_reaches_open_sessions(server):
    server.start_http()
    send(server.port)
    client = alice(server)
    assert client.select("INBOX")[1] == [b"1"]
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.http_port}/api/v1/messages", method="DELETE"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert noop_until(client, "EXPUNGE") == {"EXPUNGE": [b"1"]}
    assert uids(client) == []


def test_wrong_password_is_refused_and_the_server_keeps_serving(server):
    client = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    _clients.append(client)
    with pytest.raises(imaplib.IMAP4.error, match=r"(?i)invalid|fail"):
        client.login("alice@example.com", "wrong")
    assert client.login("alice@example.com", "s3cret")[0] == "OK"
    # A login not in users= takes any password, documented.
    assert connect(server, "dave@example.com", "whatever").select()[0] == "OK"


def test_passwords_are_never_logged(server, caplog):
    caplog.set_level(logging.DEBUG)
    alice(server).logout()
    with pytest.raises(imaplib.IMAP4.error):
        connect(server, "alice@example.com", "wrong-pass-9")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "s3cret" not in logged and "wrong-pass-9" not in logged


def raw_session(
    server: MockSMTPServer,
) -> tuple[socket.socket, Callable[[bytes], list[bytes]]]:
    sock = socket.create_connection(("127.0.0.1", server.imap_port), timeout=10)
    _clients.append(sock)
    reader = sock.makefile("rb")
    _clients.append(reader)

    def until(tag: bytes) -> list[bytes]:
        lines = []
        while True:
            line = reader.readline()
            assert line, "connection closed"
            lines.append(line)
            if line.startswith(tag):
                return lines

    until(b"* OK")
    return sock, until


def test_bad_input_gets_imap_errors_and_the_server_keeps_serving(server):
    send(server.port)
    sock, until = raw_session(server)
    sock.sendall(b"a1 FROBNICATE\r\n")
    assert until(b"a1 ")[-1].startswith(b"a1 BAD")
    sock.sendall(b'a2 LOGIN alice@example.com "s3cret"\r\na3 SELECT INBOX\r\n')
    assert until(b"a3 ")[-1].startswith(b"a3 OK")
    sock.sendall(b"a4 FETCH 1:x (FLAGS)\r\n")
    assert until(b"a4 ")[-1].startswith(b"a4 BAD")
    sock.sendall(b"a5 APPEND INBOX {999999999}\r\n")
    assert re.match(rb"a5 (NO|BAD)", until(b"a5 ")[-1])
    sock.close()
    # A client that vanishes in the middle of a command harms no one.
    vanishing, _ = raw_session(server)
    vanishing.sendall(b"b1 LOGIN alice@example.com {6}\r\n")
    vanishing.close()
    client = alice(server)
    assert client.select("INBOX")[1] == [b"1"]
    assert server.errors == []


def test_a_huge_non_synchronizing_literal_is_refused_before_it_is_read(server):
    sock, until = raw_session(server)
    sock.sendall(b"x1 LOGIN {3000000000+}\r\n")
    sent, chunk = 0, b"x" * 65536
    with contextlib.suppress(OSError):  # the server hung up: it read no more
        while sent < 20 * 1024 * 1024:
            sent += sock.send(chunk)
    assert sent < 20 * 1024 * 1024
    # Declared but not sent: the refusal can be read before the hang-up.
    for login, command in (
        (False, b"a2 LOGIN {9000+}"),  # 8 KiB before login
        (True, b"a2 SEARCH TEXT {70000+}"),  # 64 KiB in a command after it
        (True, b"a2 APPEND INBOX {40000000+}"),  # APPENDLIMIT, 32 MiB
    ):
        sock, until = raw_session(server)
        if login:
            sock.sendall(b'a1 LOGIN alice@example.com "s3cret"\r\n')
            assert until(b"a1 ")[-1].startswith(b"a1 OK")
        sock.sendall(command + b"\r\n")
        assert until(b"a2 ")[-1].startswith(b"a2 BAD [TOOBIG]")
        assert until(b"* BYE")
        assert sock.recv(10) == b""
    # Literals of a normal size still work, and the server keeps serving.
    sock, until = raw_session(server)
    sock.sendall(b"a1 LOGIN {17+}\r\nalice@example.com {6+}\r\ns3cret\r\n")
    assert until(b"a1 ")[-1].startswith(b"a1 OK")
    message = compose(subject="appended", text="x" * 100_000).as_bytes()
    sock.sendall(b"a2 APPEND INBOX {%d+}\r\n%b\r\n" % (len(message), message))
    assert until(b"a2 ")[-1].startswith(b"a2 OK")
    assert alice(server).select("INBOX")[0] == "OK"
    assert server.errors == []


def test_idle_is_woken_when_a_message_is_stored(server):
    sock, until = raw_session(server)
    sock.sendall(b"a1 LOGIN alice@example.com s3cret\r\na2 SELECT INBOX\r\n")
    until(b"a2 OK")
    sock.sendall(b"a3 IDLE\r\n")
    until(b"+ ")
    sock.settimeout(5)
    send(server.port)
    assert until(b"* 1 EXISTS")
    sock.sendall(b"DONE\r\n")
    assert until(b"a3 ")[-1].startswith(b"a3 OK")


def test_delivered_message_is_served_at_once(server):
    raw = b"Subject: delivered\r\n\r\nwritten by the suite\r\n"
    message = server.deliver(raw, "alice@example.com")
    client = alice(server)
    client.select("INBOX")
    assert literal(client, "(BODY.PEEK[])") == raw
    assert server.get_messages(subject="delivered") == [message]


@NEEDS_PYMAP
def test_starttls_with_the_servers_throw_away_ca():
    with MockSMTPServer(tls="starttls") as server:
        smtp_ca = server.ca_file
        server.start_imap(tls="starttls")
        assert server.ca_file == smtp_ca  # one authority for every protocol
        client = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
        _clients.append(client)
        assert "STARTTLS" in client.capabilities
        client.starttls(ssl.create_default_context(cafile=server.ca_file))
        assert client.login("alice@example.com", "x")[0] == "OK"


@NEEDS_PYMAP
def test_implicit_tls_when_smtp_has_no_tls():
    with MockSMTPServer() as server:
        assert server.ca_file is None
        server.start_imap(tls="implicit")
        assert server.ca_file is not None
        context = ssl.create_default_context(cafile=server.ca_file)
        client = imaplib.IMAP4_SSL("127.0.0.1", server.imap_port, ssl_context=context)
        _clients.append(client)
        assert client.login("alice@example.com", "x")[0] == "OK"
        with pytest.raises(ssl.SSLError):
            imaplib.IMAP4_SSL(
                "127.0.0.1", server.imap_port, ssl_context=ssl.create_default_context()
            )


@NEEDS_PYMAP
def test_stops_with_the_server_and_restarts_on_a_new_port():
    server = MockSMTPServer()
    port = server.start_imap()
    assert server.imap_port == port
    second = server.start_imap()  # replaces the first
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    server.stop()
    assert server.imap_port is None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", second), timeout=2)


@NEEDS_PYMAP
def test_a_stopped_imap_service_leaves_the_mailbox_alone():
    server = MockSMTPServer()
    server.start_imap()
    server.start_imap()  # the first one stops
    server.stop()
    server.start()  # a new event loop; the old services must not be called
    try:
        send(server.port)
        assert len(server.messages) == 1
        assert server.errors == []
    finally:
        server.stop()


@NEEDS_PYMAP
def test_needs_a_running_server_and_a_free_port():
    server = MockSMTPServer(autostart=False)
    with pytest.raises(ServerError, match="Start the mock SMTP server before its IMAP"):
        server.start_imap()
    with MockSMTPServer() as running:
        port = running.start_imap()
        with pytest.raises(ServerError, match=r"mock POP3 server .* already in use"):
            running.start_pop3(port)


def test_imapflow_in_idle_wakes_within_100_ms_of_the_250(server):
    assert (NODE_CLIENT.parent / "node_modules/imapflow").is_dir(), (
        "Run .ci/run (npm ci in atest/resources/imap_node) first."
    )
    rounds = 10
    node = subprocess.Popen(
        [
            "node",
            str(NODE_CLIENT),
            str(server.imap_port),
            "alice@example.com",
            "s3cret",
            str(rounds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert json.loads(node.stdout.readline()) == {
            "event": "ready",
            "exists": 0,
            "idling": True,
        }
        latencies = []
        with smtplib.SMTP("127.0.0.1", server.port) as smtp:
            for number in range(rounds):
                smtp.sendmail(
                    "app@example.com",
                    ["alice@example.com"],
                    f"Subject: m{number}\r\n\r\nbody\r\n",
                )
                answered = time.perf_counter()  # the 250 has been read
                event = json.loads(node.stdout.readline())
                latencies.append(time.perf_counter() - answered)
                assert event == {"event": "exists", "count": number + 1}
        done = json.loads(node.stdout.readline())
        assert done["subjects"] == [f"m{n}" for n in range(rounds)]
        assert done["sizes"] == [m.size for m in server.messages]
        assert node.wait(10) == 0
    finally:
        node.kill()
        node.stdout.close()
    print(
        f"IDLE wake-up after the 250: median {statistics.median(latencies) * 1000:.1f} ms,"
        f" max {max(latencies) * 1000:.1f} ms over {rounds} messages"
    )
    # Woken on store, not on a tick: a polling server answers in whole seconds.
    # The median is held to 100 ms, the worst case (a loaded CI machine) to 1 s.
    assert statistics.median(latencies) < 0.1
    assert max(latencies) < 1.0


def test_missing_extra_is_a_one_line_error_naming_it():
    code = (
        "import sys; sys.modules['pymap'] = None\n"
        "from SMTPMockLibrary import MockSMTPServer\n"
        "with MockSMTPServer() as server:\n"
        "    try:\n"
        "        server.start_imap()\n"
        "    except Exception as error:\n"
        "        print(type(error).__name__, error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == (
        "ServerError The mock IMAP server needs pymap (Python 3.11 or newer): "
        "pip install robotframework-smtpmocklibrary[imap]"
    )
