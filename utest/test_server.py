"""The server's life cycle, against real sockets."""

from __future__ import annotations

import gc
import os
import smtplib
import socket
import ssl
import sys
import threading
import time
import weakref

import pytest
from helpers import send

from SMTPMockLibrary import MockSMTPServer, ServerError


def test_classic_recipe_works_as_written():
    fromaddr, toaddrs = "sender@example.com", ["one@example.com", "two@example.com"]
    mock_server = MockSMTPServer("localhost", 25025)  # starts automatically
    try:
        client = smtplib.SMTP("localhost", 25025)
        client.sendmail(
            fromaddr,
            toaddrs,
            "From: %s\r\nTo: %s\r\n\r\n%s"  # noqa: UP031 - the recipe as written
            % (fromaddr, ", ".join(toaddrs), "test message content"),
        )
        client.quit()
        assert mock_server.received_message_matching("From: .*\\nTo: .*\\n+.+tent")
        assert not mock_server.received_message_matching("To: nobody")
        mock_server.reset()
        assert mock_server.received_messages_count() == 0
    finally:
        mock_server.stop()


def test_port_zero_binds_a_free_port_and_reports_it(server):
    assert server.port > 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        assert sock.recv(100).startswith(b"220 ")


def test_binds_loopback_by_default(server):
    assert server.host == "127.0.0.1"
    assert server._serving.listener.sockets[0].getsockname()[0] == "127.0.0.1"


def test_port_in_use_is_a_clear_error_from_start():
    with MockSMTPServer() as first:
        port = first.port
        with pytest.raises(ServerError) as error:
            MockSMTPServer(port=port)
    assert str(error.value) == (
        f"Cannot start the mock SMTP server on 127.0.0.1:{port}: the port is "
        "already in use. Stop the other server, or use port=0 for a free port."
    )


@pytest.mark.parametrize("port", [-1, 65536, "abc"])
def test_invalid_port_names_what_is_allowed(port):
    with pytest.raises(ValueError, match="Port must be a number from 0 to 65535"):
        MockSMTPServer(port=port)


def test_unknown_host_is_a_clear_error():
    with pytest.raises(ServerError, match=r"unknown host 'no-such-host\.invalid'"):
        MockSMTPServer("no-such-host.invalid")


def test_unavailable_address_is_a_clear_error():
    with pytest.raises(ServerError, match=r"192\.0\.2\.1:.*no such address"):
        MockSMTPServer("192.0.2.1")


def test_ipv6_loopback():
    with MockSMTPServer("::1") as server:
        send(server.port, host="::1")
        assert server.messages[0].peer[0] == "::1"


def test_localhost_accepts_every_address_it_resolves_to():
    with MockSMTPServer("localhost") as server:
        families = {info[0] for info in socket.getaddrinfo("localhost", server.port)}
        for family in families:
            host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
            send(server.port, host=host)
        assert len(server.messages) == len(families)


def test_stop_closes_the_port_and_it_can_be_bound_again_at_once():
    server = MockSMTPServer()
    port = server.port
    send(port)
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)
    again = MockSMTPServer(port=port)
    try:
        send(port)
        assert len(again.messages) == 1
    finally:
        again.stop()


def test_start_again_keeps_the_mailbox_and_picks_a_new_port_for_port_zero():
    server = MockSMTPServer(autostart=False)
    assert not server.running
    first = server.start()
    send(first)
    server.stop()
    second = server.start()
    try:
        send(second)
        assert len(server.messages) == 2
    finally:
        server.stop()


def test_starting_twice_is_an_error(server):
    with pytest.raises(ServerError, match="already running"):
        server.start()


def test_stop_twice_is_harmless():
    server = MockSMTPServer()
    server.stop()
    server.stop()
    assert not server.running


def test_context_manager_stops_the_server():
    with MockSMTPServer() as server:
        assert server.running
    assert not server.running


@pytest.mark.parametrize("session", ["fast path", "aiosmtpd", "starttls", "auth"])
def test_a_stopped_server_and_its_mail_are_freed_without_a_garbage_collection(
    session,
):
    # Its event loop used to hold it (the loop's error handler is a method of
    # the server), and every ended session held the mailbox (aiosmtpd's
    # sessions are cycles: tables of bound methods, the stream's callbacks,
    # the cancelled task's traceback): mail stayed in memory until a full
    # collection, which then fell into whatever the process did next.
    gc.disable()
    try:
        server = MockSMTPServer(
            autostart=False,
            tls="starttls" if session == "starttls" else "none",
            users={"alice": "s3cret"} if session == "auth" else None,
        )
        server.fast_path = session != "aiosmtpd"
        server.start()
        with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as client:
            if session == "starttls":
                client.starttls(
                    context=ssl.create_default_context(cafile=server.ca_file)
                )
            if session == "auth":
                client.login("alice", "s3cret")
            client.sendmail("a@example.com", ["b@example.com"], "Subject: x\r\n\r\nx")
        with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as client:
            client.ehlo()
            client.mail("a@example.com")  # open when the server stops
            server.stop()
        server_freed, mail_freed = weakref.ref(server), weakref.ref(server.messages)
        assert len(server.messages) == 1
        del server
        assert server_freed() is None
        assert mail_freed() is None
    finally:
        gc.enable()


def _serving_thread(server: MockSMTPServer) -> threading.Thread:
    [thread] = [t for t in threading.enumerate() if t.name.endswith(f"-{server.port}")]
    return thread


def _start_and_drop(**options) -> tuple[int, threading.Thread, str | None]:
    """Start a server, send it a message, and drop it without stop()."""
    server = MockSMTPServer(**options)
    send(server.port)
    return server.port, _serving_thread(server), server.ca_file


def _port_is_free(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.parametrize("tls", ["none", "starttls"])
def test_a_server_dropped_without_stop_stops_when_collected(tls):
    port, thread, ca_file = _start_and_drop(tls=tls)
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()
    assert _port_is_free(port)
    assert ca_file is None or not os.path.exists(ca_file)


def test_a_dropped_server_collected_on_its_own_loop_thread_stops_there():
    # The collection may happen on any thread, its own loop's too: there the
    # stop cannot wait for the thread to end, only ask the loop to end.
    gc.disable()
    try:
        server = MockSMTPServer()
        server.itself = server  # a cycle: only a collection frees it
        port, thread = server.port, _serving_thread(server)
        loop = server._serving.loop
        del server
        loop.call_soon_threadsafe(gc.collect)
        del loop
        thread.join(5)
        assert not thread.is_alive()
        assert _port_is_free(port)
    finally:
        gc.enable()


def test_a_dropped_server_closes_its_open_sessions():
    server = MockSMTPServer()
    with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as client:
        client.ehlo()
        del server
        gc.collect()
        with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)):
            client.noop()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_500_start_stop_cycles_leak_no_thread_and_no_file_descriptor():
    server = MockSMTPServer(autostart=False)
    server.start()
    server.stop()
    threads, fds = threading.active_count(), _open_fds()
    for _ in range(500):
        server.start()
        server.stop()
    assert threading.active_count() == threads
    assert _open_fds() == fds


def test_stop_with_open_sessions_is_fast_and_leaves_no_thread():
    threads = threading.active_count()
    server = MockSMTPServer()
    clients = []
    for _ in range(5):
        client = smtplib.SMTP("127.0.0.1", server.port, timeout=5)
        client.ehlo()
        client.mail("a@example.com")
        clients.append(client)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    assert threading.active_count() == threads
    for client in clients:
        with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)):
            client.noop()
        client.close()


def test_envelope_is_recorded(server):
    with smtplib.SMTP("127.0.0.1", server.port) as client:
        client.ehlo("client.example")
        client.sendmail(
            "from@example.com",
            ["to@example.com", "bcc@example.com"],
            b"Subject: hi\r\n\r\nbody\r\n",
        )
    message = server.messages[0]
    assert message.sender == "from@example.com"
    assert message.recipients == ["to@example.com", "bcc@example.com"]
    assert message.helo == "client.example"
    assert message.peer[0] == "127.0.0.1"
    assert message.raw == b"Subject: hi\r\n\r\nbody\r\n"
    assert message.mail_options == ["SIZE=21"]  # smtplib declares the size


def test_a_handler_error_is_recorded_and_answered_not_swallowed(server):
    def explode(message):
        raise RuntimeError("boom")

    server.messages.add = explode  # the store fails on the server thread
    with (
        smtplib.SMTP("127.0.0.1", server.port) as client,
        pytest.raises(smtplib.SMTPDataError) as error,
    ):
        client.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nx\r\n")
    assert error.value.smtp_code == 451
    assert [repr(e) for e in server.errors] == ["RuntimeError('boom')"]
    # and the server keeps serving
    del server.messages.add
    send(server.port)
    assert len(server.messages) == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("service", ["pop3", "imap"])
def test_a_read_back_service_started_again_on_its_fixed_port_replaces_itself(service):
    if service == "imap" and sys.version_info < (3, 11):
        pytest.skip("pymap, behind the [imap] extra, needs Python 3.11 or newer")
    port = _free_port()
    with MockSMTPServer() as server:
        start = getattr(server, f"start_{service}")
        assert start(port) == port
        assert start(port) == port
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            greeting = client.recv(200)
        assert greeting.startswith(b"+OK" if service == "pop3" else b"* OK")
