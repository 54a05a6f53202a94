"""The POP3 read-back service, driven by real clients: Python's poplib, curl's
pop3://, mpop and fetchmail (Debian's), and raw sockets for bad input."""

from __future__ import annotations

import base64
import contextlib
import imaplib
import json
import os
import poplib
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import compose, send

from SMTPMockLibrary import MockSMTPServer
from SMTPMockLibrary.errors import ConfigurationError

RAW = (
    b"From: app@example.com\r\nTo: alice@example.com\r\nSubject: Reset\r\n\r\n"
    b".a line starting with a dot\r\nsecond line\r\nthird line\r\n"
)
STLS_REASON = "STLS needs Python 3.11+ (test_stls_on_python_310_is_a_clear_error)"
NEEDS_311 = pytest.mark.skipif(sys.version_info < (3, 11), reason=STLS_REASON)
_clients: list[Any] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while _clients:
        client = _clients.pop()
        with contextlib.suppress(OSError):
            (client.shutdown if isinstance(client, imaplib.IMAP4) else client.close)()


@pytest.fixture
def server() -> Iterator[MockSMTPServer]:
    with MockSMTPServer(users={"alice@example.com": "s3cret"}) as running:
        running.start_pop3()
        yield running


def connect(server: MockSMTPServer, user: str, password: str = "any") -> poplib.POP3:
    assert server.pop3_port
    client = poplib.POP3("127.0.0.1", server.pop3_port, timeout=10)
    _clients.append(client)
    client.user(user)
    client.pass_(password)
    return client


def alice(server: MockSMTPServer) -> poplib.POP3:
    return connect(server, "alice@example.com", "s3cret")


def retrieved(client: poplib.POP3, number: int) -> bytes:
    _, lines, _ = client.retr(number)
    return b"\r\n".join(lines) + b"\r\n"


def test_retr_list_and_stat_give_the_received_bytes_exactly(server):
    send(server.port, RAW)
    client = alice(server)
    assert client.stat() == (1, len(RAW))
    assert client.list()[1] == [f"1 {len(RAW)}".encode()]
    assert retrieved(client, 1) == RAW
    assert server.message_flags(server.messages[0]) == ["\\Seen"]


def test_top_gives_the_header_and_the_first_lines(server):
    send(server.port, RAW)
    client = alice(server)
    _, lines, _ = client.top(1, 1)
    assert lines == [
        b"From: app@example.com",
        b"To: alice@example.com",
        b"Subject: Reset",
        b"",
        b".a line starting with a dot",
    ]
    assert server.message_flags(server.messages[0]) == []  # TOP is no read


def test_uidl_is_stable_across_sessions(server):
    send(server.port, compose(subject="one"))
    first = alice(server)
    ids = first.uidl()[1]
    first.quit()
    send(server.port, compose(subject="two"))
    second = alice(server)
    again = second.uidl()[1]
    assert again[0] == ids[0] and len(again) == 2 and again[0] != again[1]
    assert second.uidl(2).split()[-1] == again[1].split()[-1]


def test_each_recipient_has_a_maildrop_and_the_catch_all_sees_everything(server):
    send(
        server.port,
        compose(subject="both"),
        recipients=["alice@example.com", "bob@example.com"],
    )
    send(server.port, compose(subject="carol"), recipients=["carol@example.com"])
    assert alice(server).stat()[0] == 1
    assert connect(server, "bob@example.com").stat()[0] == 1
    assert connect(server, "carol@example.com").stat()[0] == 1
    assert connect(server, "*").stat()[0] == 2
    assert connect(server, "nobody@example.com").stat() == (0, 0)


def test_dele_and_quit_remove_from_that_users_maildrop_only(server):
    send(server.port, RAW, recipients=["alice@example.com", "bob@example.com"])
    client = alice(server)
    client.dele(1)
    with pytest.raises(poplib.error_proto, match="No such message"):
        client.retr(1)
    assert client.stat() == (0, 0)
    client.quit()
    assert alice(server).stat() == (0, 0)
    assert connect(server, "bob@example.com").stat()[0] == 1
    assert len(server.messages) == 1  # the suite still sees it
    assert server.message_flags(server.messages[0], "alice@example.com") == [
        "\\Deleted",
        "pop3-deleted",
    ]
    assert server.message_flags(server.messages[0], "bob@example.com") == []


def test_nothing_is_deleted_without_quit_or_after_rset(server):
    send(server.port, RAW)
    client = alice(server)
    client.dele(1)
    client.rset()
    client.quit()
    vanishing = alice(server)
    vanishing.dele(1)
    vanishing.sock.close()  # gone without QUIT: the UPDATE state never comes
    assert alice(server).stat()[0] == 1
    assert server.message_flags(server.messages[0]) == []


def test_auth_plain_with_and_without_initial_response(server):
    send(server.port, RAW)
    token = base64.b64encode(b"\0alice@example.com\0s3cret").decode()
    for command in (f"AUTH PLAIN {token}", "AUTH PLAIN"):
        client = poplib.POP3("127.0.0.1", server.pop3_port, timeout=10)
        _clients.append(client)
        reply = client._shortcmd(command)
        if reply.startswith(b"+ "):
            reply = client._shortcmd(token)
        assert reply.startswith(b"+OK 1 message")
        assert retrieved(client, 1) == RAW


def test_wrong_password_is_refused_and_the_server_keeps_serving(server):
    client = poplib.POP3("127.0.0.1", server.pop3_port, timeout=10)
    _clients.append(client)
    client.user("alice@example.com")
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        client.pass_("wrong")
    bad_plain = base64.b64encode(b"\0alice@example.com\0nope").decode()
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        client._shortcmd(f"AUTH PLAIN {bad_plain}")
    client.user("alice@example.com")
    assert client.pass_("s3cret").startswith(b"+OK")


def test_bad_input_gets_err_and_the_server_keeps_serving(server):
    send(server.port, RAW)
    sock = socket.create_connection(("127.0.0.1", server.pop3_port), timeout=10)
    reader = sock.makefile("rb")
    _clients.extend([sock, reader])
    assert reader.readline().startswith(b"+OK")
    for command, reply in [
        (b"FROB", b"-ERR FROB: unknown command."),
        (b"STAT", b"-ERR STAT: not allowed now."),
        (b"PASS x", b"-ERR Send USER first."),
        (b"AUTH CRAM-MD5", b"-ERR Unsupported SASL mechanism 'CRAM-MD5'."),
        (b"AUTH PLAIN !!!", b"-ERR Malformed AUTH PLAIN response."),
        (b"USER alice@example.com", b"+OK Send your password"),
        (b"PASS s3cret", b"+OK 1 message(s) in the maildrop"),
        (b"RETR 7", b"-ERR No such message: '7'."),
        (b"DELE x", b"-ERR No such message: 'x'."),
        (b"TOP 1", b"-ERR TOP needs a message number and a line count."),
        (b"LIST -1", b"-ERR No such message: '-1'."),
        (b"USER bob", b"-ERR USER: not allowed now."),
    ]:
        sock.sendall(command + b"\r\n")
        assert reader.readline() == reply + b"\r\n", command
    sock.sendall(b"NOOP " + b"x" * 5000 + b"\r\n")
    assert reader.readline() == b"-ERR Line too long; closing.\r\n"
    assert reader.readline() == b""  # closed
    assert alice(server).stat()[0] == 1
    assert server.errors == []


def test_an_over_long_auth_plain_response_gets_err_too(server):
    sock = socket.create_connection(("127.0.0.1", server.pop3_port), timeout=10)
    reader = sock.makefile("rb")
    _clients.extend([sock, reader])
    assert reader.readline().startswith(b"+OK")
    sock.sendall(b"AUTH PLAIN\r\n")
    assert reader.readline() == b"+ \r\n"
    sock.sendall(b"x" * 5000 + b"\r\n")
    assert reader.readline() == b"-ERR Line too long; closing.\r\n"
    assert reader.readline() == b""  # closed
    assert alice(server).stat()[0] == 0
    assert server.errors == []


def test_delivered_message_is_served(server):
    server.deliver(RAW, "alice@example.com")
    assert retrieved(alice(server), 1) == RAW


def test_implicit_tls_with_the_servers_ca():
    with MockSMTPServer() as server:
        server.start_pop3(tls="implicit")
        server.deliver(RAW, "alice@example.com")
        context = ssl.create_default_context(cafile=server.ca_file)
        client = poplib.POP3_SSL("127.0.0.1", server.pop3_port, context=context)
        _clients.append(client)
        client.user("alice@example.com")
        client.pass_("x")
        assert retrieved(client, 1) == RAW


@NEEDS_311
def test_stls_with_the_same_ca_as_smtp_and_imap():
    with MockSMTPServer(tls="starttls") as server:
        smtp_ca = server.ca_file
        server.start_pop3(tls="starttls")
        assert server.ca_file == smtp_ca
        client = poplib.POP3("127.0.0.1", server.pop3_port, timeout=10)
        _clients.append(client)
        assert "STLS" in client.capa()
        client.stls(ssl.create_default_context(cafile=server.ca_file))
        assert "STLS" not in client.capa()
        client.user("alice@example.com")
        assert client.pass_("x").startswith(b"+OK")


@pytest.mark.skipif(sys.version_info >= (3, 11), reason="STLS runs here")
def test_stls_on_python_310_is_a_clear_error():  # pragma: no cover
    with (
        MockSMTPServer() as server,
        pytest.raises(ConfigurationError, match=r"STLS needs Python 3\.11"),
    ):
        server.start_pop3(tls="starttls")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="IMAP needs Python 3.11+")
def test_what_pop3_did_is_pushed_to_an_imap_client_in_idle(server):
    send(server.port, compose(subject="one"))
    send(server.port, compose(subject="two"))
    server.start_imap()
    sock = socket.create_connection(("127.0.0.1", server.imap_port), timeout=10)
    reader = sock.makefile("rb")
    _clients.extend([sock, reader])

    def read_until(start: bytes) -> list[bytes]:
        lines = [reader.readline()]
        while not lines[-1].startswith(start):
            assert lines[-1], "connection closed"
            lines.append(reader.readline())
        return lines

    sock.sendall(b"a1 LOGIN alice@example.com s3cret\r\na2 SELECT INBOX\r\n")
    read_until(b"a2 OK")
    sock.sendall(b"a3 IDLE\r\n")
    read_until(b"+ ")
    pop = alice(server)
    retrieved(pop, 1)
    assert b"\\Seen" in read_until(b"* 1 FETCH")[-1]
    pop.dele(2)
    pop.quit()
    read_until(b"* 2 EXPUNGE")
    sock.sendall(b"DONE\r\na4 SELECT INBOX\r\n")
    assert b"* 1 EXISTS\r\n" in read_until(b"a4 OK")


# Clients from Debian and curl.


def curl(server: MockSMTPServer, path: str = "", *options: str) -> bytes:
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "--max-time",
            "10",
            "--user",
            "alice@example.com:s3cret",
            *options,
            f"pop3://127.0.0.1:{server.pop3_port}{path}",
        ],
        capture_output=True,
        timeout=30,
        check=True,
    )
    return result.stdout


def test_curl_lists_and_retrieves_with_user_and_auth_plain(server):
    send(server.port, RAW)
    assert curl(server) == f"1 {len(RAW)}\r\n".encode()
    assert curl(server, "/1") == RAW
    verbose = subprocess.run(
        [
            "curl",
            "-sS",
            "-v",
            "--max-time",
            "10",
            "--user",
            "alice@example.com:s3cret",
            "--login-options",
            "AUTH=PLAIN",
            f"pop3://127.0.0.1:{server.pop3_port}/1",
        ],
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert verbose.stdout == RAW
    assert b"> AUTH PLAIN" in verbose.stderr


@NEEDS_311
def test_curl_with_stls_and_pop3s():
    with MockSMTPServer() as server:
        server.start_pop3(tls="starttls")
        server.deliver(RAW, "alice@example.com")
        assert curl(server, "/1", "--ssl-reqd", "--cacert", server.ca_file) == RAW
    with MockSMTPServer() as server:
        port = server.start_pop3(tls="implicit")
        server.deliver(RAW, "alice@example.com")
        result = subprocess.run(
            [
                "curl",
                "-sS",
                "--max-time",
                "10",
                "--user",
                "alice@example.com:x",
                "--cacert",
                server.ca_file,
                f"pop3s://127.0.0.1:{port}/1",
            ],
            capture_output=True,
            timeout=30,
            check=True,
        )
        assert result.stdout == RAW


@NEEDS_311
def test_mpop_fetches_over_stls_and_deletes(server, tmp_path: Path):
    server.stop()
    with MockSMTPServer(users={"alice@example.com": "s3cret"}) as tls_server:
        port = tls_server.start_pop3(tls="starttls")
        send(tls_server.port, RAW)
        send(tls_server.port, compose(subject="second"))
        mbox = tmp_path / "mbox"
        result = subprocess.run(
            [
                "mpop",
                "--host=127.0.0.1",
                f"--port={port}",
                "--user=alice@example.com",
                "--passwordeval=echo s3cret",
                "--auth=plain",
                "--tls=on",
                "--tls-starttls=on",
                f"--tls-trust-file={tls_server.ca_file}",
                f"--delivery=mbox,{mbox}",
                "--keep=off",
                f"--uidls-file={tmp_path / 'uidls'}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        delivered = mbox.read_bytes()
        assert b"Subject: Reset" in delivered and b"Subject: second" in delivered
        assert b"\n.a line starting with a dot\n" in delivered  # un-stuffed
        for message in tls_server.messages:
            assert tls_server.message_flags(message) == [
                "\\Deleted",
                "\\Seen",
                "pop3-deleted",
            ]


def test_fetchmail_fetches_by_uidl_and_deletes(server, tmp_path: Path):
    send(server.port, RAW)
    out = tmp_path / "delivered"
    rcfile = tmp_path / "fetchmailrc"
    rcfile.write_text(
        f"set no syslog\npoll 127.0.0.1 protocol POP3 port {server.pop3_port} uidl\n"
        f"  user 'alice@example.com' password 's3cret' sslproto ''\n"
        f"  mda 'cat >> {out}'\n"
    )
    rcfile.chmod(0o600)
    result = subprocess.run(
        [
            "fetchmail",
            "-v",
            "--nodetach",
            "-d0",
            "-f",
            str(rcfile),
            "-i",
            str(tmp_path / "ids"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(tmp_path), "FETCHMAILHOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "POP3> UIDL" in result.stdout and "PASS *" in result.stdout
    assert out.read_bytes().endswith(RAW.replace(b"\r\n", b"\n"))
    assert server.message_flags(server.messages[0]) == ["\\Deleted", "pop3-deleted"]


def test_smtpmock_command_serves_pop3_and_imap():
    arguments = ["--port", "0", "--pop3", "0", "--pop3-tls", "implicit", "--json"]
    if sys.version_info >= (3, 11):
        arguments += ["--imap", "0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "SMTPMockLibrary", *arguments],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        started = json.loads(process.stdout.readline())
        send(started["port"], RAW)
        context = ssl.create_default_context(cafile=started["ca_file"])
        pop = poplib.POP3_SSL("127.0.0.1", started["pop3_port"], context=context)
        _clients.append(pop)
        pop.user("alice@example.com")
        pop.pass_("x")
        assert retrieved(pop, 1) == RAW
        if sys.version_info >= (3, 11):
            imap = imaplib.IMAP4("127.0.0.1", started["imap_port"], timeout=10)
            _clients.append(imap)
            imap.login("alice@example.com", "x")
            assert imap.select("INBOX")[1] == [b"1"]
    finally:
        process.terminate()
        assert process.wait(10) == 0
        process.stdout.close()
