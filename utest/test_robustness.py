"""Load, faults and bad input against the real server: nothing lost, nothing killed."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import send
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from SMTPMockLibrary import ConfigurationError, MockSMTPServer

LOADGEN = Path(__file__).resolve().parent.parent / "benchmarks" / "loadgen.py"


class RawClient:
    """A socket that speaks SMTP by hand, to send what smtplib never would."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.greeting = self.reply()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> bytes:
        """One whole reply (every line of a multi-line one)."""
        lines = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"closed after {lines!r}")
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            lines.append(line)
            if line[3:4] != b"-":
                return b"\r\n".join(lines)

    def command(self, line: bytes) -> bytes:
        self.send(line + b"\r\n")
        return self.reply()

    def close(self) -> None:
        self.sock.close()


def load_ids(server: MockSMTPServer) -> list[str]:
    pattern = re.compile(rb"^X-Load-Id: (\S+)", re.MULTILINE)
    return [pattern.search(m.raw).group(1).decode() for m in server.messages]


def run_load(port: int, connections: int, messages: int, mode: str = "persistent"):
    run = subprocess.run(
        [
            sys.executable,
            str(LOADGEN),
            str(port),
            "--connections",
            str(connections),
            "--messages",
            str(messages),
            "--mode",
            mode,
            "--ids",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return json.loads(run.stdout)


def test_50_connections_of_40_messages_are_all_stored_exactly_once(server):
    result = run_load(server.port, 50, 40)
    assert result["errors"] == []
    ids = load_ids(server)
    assert len(ids) == 2000
    assert set(ids) == {f"m{c}-{m}" for c in range(50) for m in range(40)}
    assert server.errors == []


def test_new_connection_per_message_under_load(server):
    result = run_load(server.port, 20, 10, mode="per-message")
    assert result["errors"] == []
    assert sorted(load_ids(server)) == sorted(
        f"m{c}-{m}" for c in range(20) for m in range(10)
    )


def assert_still_serving(server: MockSMTPServer) -> None:
    before = len(server.messages)
    send(server.port)
    assert len(server.messages) == before + 1
    assert server.errors == []


def test_client_disconnecting_mid_data_stores_nothing_and_harms_nothing(server):
    client = RawClient(server.port)
    client.command(b"EHLO x")
    client.command(b"MAIL FROM:<a@example.com>")
    client.command(b"RCPT TO:<b@example.com>")
    assert client.command(b"DATA").startswith(b"354")
    client.send(b"Subject: half\r\n\r\nhalf a mess")
    client.close()
    assert_still_serving(server)
    assert [m.subject for m in server.messages] == ["Hello"]


def test_client_disconnecting_mid_command_and_without_quit(server):
    client = RawClient(server.port)
    client.send(b"EHLO half-a-comm")
    client.close()
    client = RawClient(server.port)
    client.command(b"EHLO x")
    client.close()
    assert_still_serving(server)


@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize("before_eof", [b"", b"HELO x\r\n", b"HELO x\r\nHELP\r\n"])
def test_the_server_closes_when_the_client_ends_its_output(fast_path, before_eof):
    # With or without aiosmtpd's session task running (it starts when a line
    # such as HELP is handed over to it), the end of input closes the
    # session, also when it comes before aiosmtpd's task ever ran: a client
    # that hangs up at once. Lines arriving with the end of input may go
    # unanswered, as aiosmtpd cancels its task on it.
    server = MockSMTPServer(autostart=False)
    server.fast_path = fast_path
    with server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(before_eof)
            sock.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := sock.recv(4096):  # ends when the server closes
                received += chunk
        assert received == b"" or received.startswith(b"220 ")
        deadline = time.monotonic() + 5
        while server.open_sessions and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.open_sessions == 0
        assert server.errors == []


def test_open_sessions_are_closed_when_they_end(server):
    clients = [RawClient(server.port) for _ in range(10)]
    for client in clients:
        client.command(b"QUIT")
        client.close()
    deadline = time.monotonic() + 5
    while server.open_sessions and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.open_sessions == 0


def test_start_and_stop_under_load_lose_nothing_that_was_accepted():
    threads = threading.active_count()
    server = MockSMTPServer()
    port = server.port
    outcome = {}
    load = threading.Thread(
        target=lambda: outcome.update(run_load(port, 8, 200, mode="per-message"))
    )
    load.start()
    time.sleep(0.3)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    before_stop = load_ids(server)
    server = MockSMTPServer(port=port)  # the same port, at once
    load.join()
    try:
        stored = before_stop + load_ids(server)
        assert len(stored) == len(set(stored)), "a message was stored twice"
        # Every message a client saw accepted is stored. A message stored just
        # before the stop may miss its 250: at most one per connection.
        assert set(outcome["accepted"]) <= set(stored)
        # Clients see the connection close; none is left waiting for a reply.
        assert not [e for e in outcome["errors"] if "TimeoutError" in e]
        assert len(stored) - len(outcome["accepted"]) <= 8
        assert_still_serving(server)
    finally:
        server.stop()
    assert threading.active_count() == threads


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (b"HELLO there", b'500 Error: command "HELLO" not recognized'),
        (b"\x00\x01\x02", b'500 Error: command "\x00\x01\x02" not recognized'),
        (b"EHLO " + b"x" * 2000, b"500 Command line too long"),
        (b"MAIL FROM:<a@example.com>", b"503 Error: send HELO first"),
        (b"RCPT TO:<b@example.com>", b"503 Error: send HELO first"),
        (b"", b"500 Error: bad syntax"),
    ],
)
def test_bad_commands_get_the_right_error_and_the_server_goes_on(
    server, sent, expected
):
    client = RawClient(server.port)
    assert client.command(sent) == expected
    assert client.command(b"NOOP") == b"250 OK"
    client.close()
    assert_still_serving(server)


def open_data(client: RawClient) -> None:
    client.command(b"EHLO x")
    client.command(b"MAIL FROM:<a@example.com>")
    client.command(b"RCPT TO:<b@example.com>")
    assert client.command(b"DATA").startswith(b"354")


@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n"])
def test_smtp_smuggling_sequences_do_not_end_the_message(server, fake_end):
    client = RawClient(server.port)
    open_data(client)
    client.send(
        b"Subject: outer\r\n\r\nbefore"
        + fake_end
        + b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n"
        + b"Subject: smuggled\r\n\r\nx\r\n.\r\n"
    )
    assert client.reply().startswith(b"250")
    client.close()
    (message,) = server.messages
    assert message.subject == "outer"
    assert b"MAIL FROM:<evil@example.com>" in message.raw


def test_a_data_line_over_the_rfc_limit_is_refused(server):
    client = RawClient(server.port)
    open_data(client)
    client.send(b"Subject: long\r\n\r\n" + b"y" * 1200 + b"\r\n.\r\n")
    assert client.reply() == b"500 Line too long (see RFC5321 4.5.3.1.6)"
    client.close()
    assert len(server.messages) == 0
    assert_still_serving(server)


def test_pipelined_commands_all_get_answers(server):
    client = RawClient(server.port)
    client.send(
        b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
        b"RCPT TO:<c@example.com>\r\nDATA\r\nSubject: piped\r\n\r\nbody\r\n.\r\nQUIT\r\n"
    )
    replies = [client.reply() for _ in range(7)]
    client.close()
    assert [r[:3] for r in replies] == [
        b"250",
        b"250",
        b"250",
        b"250",
        b"354",
        b"250",
        b"221",
    ]
    assert server.messages[0].recipients == ["b@example.com", "c@example.com"]


def test_8bit_data_without_8bitmime_is_stored_byte_for_byte(server):
    client = RawClient(server.port)
    open_data(client)
    raw = b"Subject: 8bit\r\n\r\nGr\xfc\xdfe \xff\xfe\r\n"
    client.send(raw + b".\r\n")
    assert client.reply().startswith(b"250")
    client.close()
    assert server.messages[0].raw == raw
    assert server.messages[0].text.startswith("Gr")


def test_a_thousand_recipients(server):
    recipients = [f"user{n}@example.com" for n in range(1000)]
    assert send(server.port, recipients=recipients) == {}
    assert server.messages[0].recipients == recipients
    assert server.get_messages(recipient="user999@example.com")


def test_nul_bytes_in_a_message(server):
    client = RawClient(server.port)
    open_data(client)
    client.send(b"Subject: nul\x00\r\n\r\n\x00\x00body\r\n.\r\n")
    assert client.reply().startswith(b"250")
    client.close()
    assert b"\x00\x00body" in server.messages[0].raw
    assert_still_serving(server)


@pytest.fixture(scope="module")
def fuzzed_server():
    with MockSMTPServer() as server:
        yield server


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=300),
            st.sampled_from(
                [
                    b"EHLO x\r\n",
                    b"MAIL FROM:<a@b>\r\n",
                    b"RCPT TO:<c@d>\r\n",
                    b"DATA\r\n",
                    b".\r\n",
                    b"\r\n",
                    b"RSET\r\n",
                    b"AUTH PLAIN\r\n",
                    b"STARTTLS\r\n",
                    b"BDAT 10\r\n",
                    b"\n.\n",
                    b"\xff\xfe",
                ]
            ),
        ),
        max_size=20,
    )
)
def test_random_byte_streams_never_stop_the_server(fuzzed_server, chunks):
    with socket.create_connection(("127.0.0.1", fuzzed_server.port), timeout=5) as sock:
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:
                break
    before = len(fuzzed_server.messages)
    send(fuzzed_server.port)
    assert len(fuzzed_server.messages) >= before + 1
    assert fuzzed_server.errors == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"port": 99999}, "Port must be a number from 0 to 65535"),
        ({"tls": "ssl"}, "Unknown TLS mode 'ssl'. Allowed: none, starttls, implicit."),
        ({"require_tls": True}, "require_tls needs tls=starttls."),
        ({"max_message_size": -1}, "max_message_size must be a positive number"),
        ({"users": "alice"}, "Invalid user entry 'alice': expected 'user:password'"),
        (
            {"event_loop": "trio"},
            "Unknown event loop 'trio'. Allowed: asyncio, uvloop.",
        ),
        (
            {"certfile": "/no/such.pem", "tls": "starttls"},
            "TLS certificate or key file '/no/such.pem' does not exist.",
        ),
    ],
)
def test_argument_errors_say_what_is_allowed(arguments, message):
    with pytest.raises(ConfigurationError) as error:
        MockSMTPServer(**arguments).stop()
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda s: s.faults.reply_to_data("451 x", times=-2),
            "'times' must be a positive number or None, got -2.",
        ),
        (
            lambda s: s.faults.delay_reply("DATA", -1),
            "Delay must not be negative, got -1 seconds.",
        ),
        (
            lambda s: s.faults.reply_to_address("RCPT", "(", "550 x"),
            "Invalid regular expression '(' in the address pattern",
        ),
        (
            lambda s: s.get_messages(subject="regexp:("),
            "Invalid regular expression '('",
        ),
        (
            lambda s: s.get_messages(bogus="x"),
            "Unknown filter 'bogus'. Allowed filters:",
        ),
    ],
)
def test_fault_and_filter_argument_errors(server, call, message):
    with pytest.raises(ConfigurationError) as error:
        call(server)
    assert message in str(error.value)


ADDRESS_PIECES = st.text(
    st.sampled_from(list('ab.@<> \t-+=_"()[]:,;\\1é')), max_size=24
)


@settings(max_examples=3000, deadline=None)
@given(ADDRESS_PIECES)
def test_the_fast_address_path_agrees_with_aiosmtpd(argument):
    import asyncio

    from aiosmtpd.smtp import SMTP

    from SMTPMockLibrary.fastpath import _PLAIN_ADDRESS

    fast = _PLAIN_ADDRESS.match(argument)
    if not fast:
        return  # aiosmtpd's own parser handles it
    loop = asyncio.new_event_loop()
    try:
        reference = SMTP(object(), hostname="x", loop=loop)._getaddr(argument)
    finally:
        loop.close()
    assert (fast.group(1), fast.group(2)) == reference
