"""The fast path answers exactly as aiosmtpd does, for any byte stream.

Two real servers side by side: one with the fast path (the default), one that
leaves every command to aiosmtpd's own loop. Each stream goes to both over a
real socket, split into the same pieces; both must send the same replies, store
the same messages, and record the same transcript and rejections.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from SMTPMockLibrary import MockSMTPServer
from SMTPMockLibrary.protocol import MockHandler, MockSMTP, ServerState
from SMTPMockLibrary.sessions import SessionFactory

# Ends any state a stream may leave behind: a line in progress, message data,
# an AUTH challenge. Then QUIT, so that the server closes the connection.
ENDING = b"\r\n.\r\nQUIT\r\n"


@contextlib.contextmanager
def fast_and_reference(**options) -> Iterator[tuple[MockSMTPServer, MockSMTPServer]]:
    """Two servers with ``options``: one with the fast path, one that leaves
    every command to aiosmtpd's own loop."""
    fast = MockSMTPServer(**options)
    reference = MockSMTPServer(**options, autostart=False)
    reference.fast_path = False
    reference.start()
    try:
        yield fast, reference
    finally:
        fast.stop()
        reference.stop()


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[MockSMTPServer, MockSMTPServer]]:
    with fast_and_reference(hostname="mock.example", max_message_size=4096) as pair:
        yield pair


def converse(server: MockSMTPServer, pieces: list[bytes]) -> tuple[bytes, bool]:
    """Send ``pieces`` one by one, then read every reply until the server
    closes; also whether the connection was reset (bytes sent after the server
    closed make the kernel reset it, and replies not yet read can be lost)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for piece in pieces:
            try:
                sock.sendall(piece)
            except OSError:  # the server closed: too many bad commands
                break
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return received, True
            if not chunk:
                return received, False
            received += chunk


def outcome(server: MockSMTPServer, pieces: list[bytes], faults=None) -> dict:
    server.reset()
    if faults:
        faults(server)
    replies, reset = converse(server, pieces)
    # The server stores a message before it answers 250, and records the
    # transcript before it writes: everything is there once the socket closed.
    return {
        "replies": replies,
        "reset": reset,
        "messages": [
            (
                m.raw,
                m.sender,
                m.recipients,
                m.helo,
                m.mail_options,
                m.rcpt_options,
            )
            for m in server.messages
        ],
        "rejections": [
            (r.command, r.argument, r.reply) for r in server.messages.rejections
        ],
        "transcript": [(t.direction, t.line) for t in server.transcript],
        "errors": [repr(e) for e in server.errors],
    }


def assert_same(servers, stream: bytes, cuts: list[int] | None = None, faults=None):
    stream += ENDING
    points = sorted({0, *(c % (len(stream) + 1) for c in cuts or []), len(stream)})
    pieces = [stream[a:b] for a, b in itertools.pairwise(points) if b > a]
    fast, reference = servers
    expected = outcome(reference, pieces, faults)
    got = outcome(fast, pieces, faults)
    resets = [expected.pop("reset"), got.pop("reset")]
    if any(resets):
        # What the server sent is in the transcript, compared below; on the
        # wire, a reset may have cut either side short.
        shorter, longer = sorted([expected.pop("replies"), got.pop("replies")], key=len)
        assert longer.startswith(shorter)
    assert got == expected


MESSAGE = (
    b"EHLO client.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
    b"DATA\r\n"
)

# The byte streams of utest/test_robustness.py, and the cases around each
# limit and rule the fast path reproduces.
CORPUS = {
    "plain message": MESSAGE + b"Subject: hi\r\n\r\nbody\r\n.\r\n",
    "unknown command": b"HELLO there\r\nNOOP\r\n",
    "control bytes": b"\x00\x01\x02\r\nNOOP\r\n",
    "over-long command": b"EHLO " + b"x" * 2000 + b"\r\nNOOP\r\n",
    "command at the length limit": b"EHLO " + b"x" * 507 + b"\r\nNOOP\r\n",
    "command one over the limit": b"EHLO " + b"x" * 508 + b"\r\nNOOP\r\n",
    "MAIL at the extended limit": b"EHLO x\r\nMAIL FROM:<"
    + b"a" * 520
    + b"@example.com>\r\n",
    "MAIL before HELO": b"MAIL FROM:<a@example.com>\r\n",
    "RCPT before HELO": b"RCPT TO:<b@example.com>\r\n",
    "empty line": b"\r\nNOOP\r\n",
    "bare LF commands": b"EHLO x\nMAIL FROM:<a@example.com>\nRCPT TO:<b@example.com>\n",
    "lower case and spaces": b"ehlo  x  \r\nmail from: <a@example.com>  \r\n",
    "null sender": b"EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<b@example.com>\r\n",
    "quoted and UTF-8 addresses": b'EHLO x\r\nMAIL FROM:<"a b"@example.com>\r\n'
    b"RCPT TO:<j\xc3\xb6rg@example.com>\r\nRCPT TO:<\xff@x>\r\n",
    "parameters": b"EHLO x\r\nMAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME SMTPUTF8\r\n"
    b"RCPT TO:<b@example.com> NOTIFY=NEVER\r\nRSET\r\n"
    b"MAIL FROM:<a@example.com> SIZE=99999999\r\nMAIL FROM:<a@example.com> BODY=X\r\n"
    b"MAIL FROM:<a@example.com> FOO\r\nMAIL FROM:<a@example.com> SIZE\r\n",
    "parameters after HELO": b"HELO x\r\nMAIL FROM:<a@example.com> SIZE=10\r\n",
    "nested MAIL": b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nMAIL FROM:<c@example.com>\r\n",
    "arguments where none belong": b"EHLO x\r\nRSET x\r\nQUIT x\r\nDATA x\r\nHELO\r\nEHLO\r\n",
    "smuggling LF.LF": MESSAGE
    + b"Subject: o\r\n\r\nbefore\n.\nMAIL FROM:<e@x>\r\n.\r\n",
    "smuggling CR.CR": MESSAGE + b"Subject: o\r\n\r\nbefore\r.\rRCPT TO:<v@x>\r\n.\r\n",
    "smuggling LF.CRLF": MESSAGE + b"Subject: o\r\n\r\nbefore\n.\r\nDATA\r\n.\r\n",
    "smuggling CRLF.LF": MESSAGE + b"Subject: o\r\n\r\nbefore\r\n.\nx\r\n.\r\n",
    "data line over the limit": MESSAGE
    + b"Subject: long\r\n\r\n"
    + b"y" * 1200
    + b"\r\n.\r\n",
    "data lines at the limit": MESSAGE
    + b"a" * 998
    + b"\r\n"
    + b"b" * 999
    + b"\r\n"
    + b"c" * 1000
    + b"\r\n.\r\n",
    "data line of 1001 and 1002": MESSAGE
    + b"a" * 1001
    + b"\r\n.\r\n"
    + MESSAGE[6:]
    + b"b" * 1002
    + b"\r\n.\r\n",
    "too much data": MESSAGE + (b"z" * 70 + b"\r\n") * 80 + b".\r\n",
    "too much, then too long": MESSAGE
    + (b"z" * 70 + b"\r\n") * 60
    + b"y" * 1100
    + b"\r\n.\r\n",
    "too long, then too much": MESSAGE
    + b"y" * 1100
    + b"\r\n"
    + (b"z" * 70 + b"\r\n") * 80
    + b".\r\n",
    "dot-stuffing": MESSAGE + b".\r\n" + MESSAGE[6:] + b"..\r\n...x\r\n.y\r\n.\r\n",
    "empty message": MESSAGE + b".\r\n",
    "pipelined": b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
    b"RCPT TO:<c@example.com>\r\nDATA\r\nSubject: piped\r\n\r\nbody\r\n.\r\nQUIT\r\n",
    "8-bit data": MESSAGE + b"Subject: 8bit\r\n\r\nGr\xfc\xdfe \xff\xfe\r\n.\r\n",
    "NUL bytes": MESSAGE + b"Subject: nul\x00\r\n\r\n\x00\x00body\r\n.\r\n",
    "many recipients": b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n"
    + b"".join(b"RCPT TO:<user%d@example.com>\r\n" % n for n in range(50))
    + b"DATA\r\nx\r\n.\r\n",
    "AUTH in between": b"EHLO x\r\nAUTH PLAIN AGFsaWNlAHMzY3JldA==\r\nAUTH LOGIN\r\n*\r\n"
    b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nx\r\n.\r\n",
    "other commands in between": b"EHLO x\r\nHELP\r\nVRFY <a@b>\r\nEXPN x\r\nSTARTTLS\r\n"
    b"BDAT 10\r\nNOOP hello\r\nMAIL FROM:<a@example.com>\r\n",
    "too many unknown commands": b"A\r\nB\r\nC\r\nD\r\nE\r\nF\r\nNOOP\r\n",
    "bare CR in command": b"EHLO x\rMAIL FROM:<a@example.com>\r\n",
    "CRs before the LF": b"EHLO x\r\r\r\nNOOP\r\r\n",
    "as smtplib sends": b"EHLO x\r\nmail FROM:<a@example.com> size=12\r\n"
    b"rcpt TO:<b@example.com>\r\ndata\r\nx\r\n.\r\nMail From:<c@example.com> SIZE=5000\r\n"
    b"MAIL FROM:<c@example.com> SIZE=4096\r\nrcpt TO:<d@example.com> SIZE=1\r\n",
    "SIZE after HELO": b"HELO x\r\nmail FROM:<a@example.com> size=12\r\n",
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_the_corpus_whole_and_byte_by_byte(servers, name):
    stream = CORPUS[name]
    assert_same(servers, stream)
    assert_same(servers, stream, list(range(1, len(stream) + len(ENDING))))


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=st.sampled_from(list(CORPUS)),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=6),
)
def test_the_corpus_split_anywhere(servers, name, cuts):
    assert_same(servers, CORPUS[name], cuts)


WORDS = [
    b"EHLO x\r\n",
    b"HELO y\r\n",
    b"MAIL FROM:<a@b>\r\n",
    b"MAIL FROM:<a@example.com> SIZE=10\r\n",
    b"mail FROM:<a@example.com> size=4097\r\n",
    b"rcpt TO:<e@example.com>\r\n",
    b"data\r\n",
    b"MAIL FROM:<>\r\n",
    b"RCPT TO:<c@d>\r\n",
    b"RCPT TO:<e@example.com>\r\n",
    b"DATA\r\n",
    b".\r\n",
    b"..\r\n",
    b"\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"AUTH PLAIN\r\n",
    b"AUTH LOGIN\r\n",
    b"STARTTLS\r\n",
    b"BDAT 10\r\n",
    b"HELP\r\n",
    b"\n.\n",
    b"\r.\r",
    b"\xff\xfe",
    b"x" * 700,
    b"Subject: s\r\n\r\nbody\r\n",
]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    chunks=st.lists(
        st.one_of(st.binary(max_size=200), st.sampled_from(WORDS)), max_size=25
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=6000), max_size=8),
)
def test_any_byte_stream_gets_the_same_answers(servers, chunks, cuts):
    assert_same(servers, b"".join(chunks), cuts)


def test_sessions_from_the_factory_equal_those_aiosmtpd_builds():
    loop = asyncio.new_event_loop()
    try:
        state = ServerState.__new__(ServerState)
        options = {
            "data_size_limit": 1000,
            "enable_SMTPUTF8": True,
            "hostname": "mock.example",
            "ident": "x",
            "auth_require_tls": False,
            "loop": loop,
        }
        handler = MockHandler(state)
        built = MockSMTP(handler, **options)
        made = SessionFactory(handler, **options)()
        per_connection = {"_closed", "_stream_reader_wr", "_strong_reader"}
        assert set(vars(made)) == set(vars(built))
        for name, value in vars(built).items():
            if name in per_connection:
                continue
            other = getattr(made, name)
            if name == "_smtp_methods":
                assert dict(other).keys() == value.keys()
                assert all(
                    other[key].__func__ is method.__func__
                    and other[key].__self__ is made
                    for key, method in value.items()
                )
            elif name == "_auth_methods":
                assert {k: (v[0].__func__, v[1]) for k, v in other.items()} == {
                    k: (v[0].__func__, v[1]) for k, v in value.items()
                }
                assert all(v[0].__self__ is made for v in other.values())
            elif name == "_client_connected_cb":
                assert other.__func__ is value.__func__ and other.__self__ is made
            else:
                assert other is value or other == value, name
        assert made._reader is not built._reader if hasattr(built, "_reader") else True
    finally:
        loop.close()


FAULTS = {
    "slow MAIL, refused recipient, refused message": lambda server: (
        server.delay_reply("MAIL", 0.02),
        server.reply_to_recipient("bad@", "550 5.1.1 No such user"),
        server.reply_to_data("451 4.3.0 Try later", times=1),
    ),
    "recipient limit": lambda server: server.limit_recipients(1),
    "dropped at the end of data": lambda server: server.disconnect_on(
        "END OF DATA", times=1
    ),
    # Rules on every stage that the stream's mail does not meet at first: the
    # gates are judged and let it through, until the rate limit fills up.
    "rules for other mail, then a rate limit": lambda server: (
        server.reply_to_sender("@spam\\.example$", "550 5.7.1 No spam"),
        server.delay_reply("DATA", 0.02, sender="other@example.com"),
        server.reply_to_data("554 5.6.0 No campaigns", header="X-Campaign: spring"),
        server.limit_message_rate(1, per=60, by="sender"),
    ),
}
FAULT_STREAM = (
    b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<bad@example.com>\r\n"
    b"RCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\nx\r\n.\r\n"
    b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\ny\r\n.\r\n"
)


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_rules_act_the_same_on_both_paths(servers, name):
    assert_same(servers, FAULT_STREAM, faults=FAULTS[name])
    assert_same(servers, FAULT_STREAM, [40, 90, 140], faults=FAULTS[name])


def test_a_failing_store_is_answered_the_same_on_both_paths(servers, monkeypatch):
    def explode(message):
        raise RuntimeError("boom")

    for server in servers:
        monkeypatch.setattr(server.messages, "add", explode)
    assert_same(servers, FAULT_STREAM)
    assert_same(servers, FAULT_STREAM, [40, 90, 140])


def _explode(*known):
    raise RuntimeError("gate")


def test_an_error_in_a_gate_is_answered_the_same_on_both_paths(servers):
    def rules_with_a_broken_gate(server):
        server.reply_to_sender("@spam\\.example$", "550 5.7.1 No spam")
        server.reply_to_recipient("@blocked\\.example$", "550 5.7.1 Blocked")
        server.reply_to_data("554 5.6.0 No campaigns", header="X-Campaign: spring")
        for gate in (
            *server.faults.gates_before.values(),
            *server.faults.gates.values(),
        ):
            gate.passes = _explode

    assert_same(servers, FAULT_STREAM, faults=rules_with_a_broken_gate)


async def _refuse(self, server, session, envelope):
    return "554 5.0.0 refused by a patched hook"


def test_a_replaced_handler_hook_is_called_on_both_paths(monkeypatch):
    # A test may patch the handler's class; the session then takes no
    # shortcut past the hook.
    monkeypatch.setattr(MockHandler, "handle_DATA", _refuse)
    with fast_and_reference(hostname="mock.example") as (fast, reference):
        assert_same((fast, reference), MESSAGE + b"x\r\n.\r\n")
        assert fast.count_messages() == 0
        assert any(t.line.startswith("554 5.0.0") for t in fast.transcript)


class _OwnMail(MockHandler):
    lean_hooks = {"DATA": MockHandler.handle_DATA}  # claims too little

    async def handle_MAIL(self, server, session, envelope, address, options):
        return "250 taken by the subclass"


@pytest.mark.parametrize(
    "handler",
    [_OwnMail, lambda state: SimpleNamespace(state=state)],
    ids=["some hooks declared", "no hooks declared"],
)
def test_the_lean_path_needs_all_three_hooks_declared_by_the_handler(handler):
    loop = asyncio.new_event_loop()
    try:
        state = ServerState.__new__(ServerState)
        options = {"enable_SMTPUTF8": True, "loop": loop}
        assert MockSMTP(MockHandler(state), **options)._lean_allowed
        assert not MockSMTP(handler(state), **options)._lean_allowed
    finally:
        loop.close()


def test_a_client_that_stops_reading_in_the_middle_of_data(monkeypatch):
    """The body that came with DATA stays message data when the 354 fills the
    write buffer: asyncio then calls pause_writing(), as done here exactly at
    the 354, and resume_writing() once the client reads again."""
    connection_made = MockSMTP.connection_made

    def pausing_at_354(self, transport):
        write = transport.write

        def write_and_pause(data):
            write(data)
            if data.startswith(b"354"):
                self.pause_writing()
                self.loop.call_later(0.05, self.resume_writing)

        transport.write = write_and_pause
        connection_made(self, transport)

    monkeypatch.setattr(MockSMTP, "connection_made", pausing_at_354)
    options = {"hostname": "mock.example", "event_loop": "asyncio"}
    smuggled = b"RCPT TO:<evil@example.com>\r\nDATA\r\nsmuggled\r\n.\r\n"
    with fast_and_reference(**options) as (fast, reference):
        for body in (b"Subject: x\r\n\r\nbody\r\n", smuggled):
            assert_same((fast, reference), MESSAGE + body + b".\r\n")
            assert [m.recipients for m in fast.messages] == [["b@example.com"]]
