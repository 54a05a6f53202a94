"""Storing, filtering and waiting, with mail sent over real sockets."""

from __future__ import annotations

import threading
import time

import pytest
from helpers import compose, send

from SMTPMockLibrary import ConfigurationError, MockSMTPServer
from SMTPMockLibrary.filters import MessageFilter


def send_later(port: int, delay: float, **kwargs) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        send(port, **kwargs)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_messages_are_kept_in_arrival_order_with_sequence_numbers(server):
    for number in range(5):
        send(server.port, compose(subject=f"number {number}"))
    assert [m.subject for m in server.messages] == [f"number {n}" for n in range(5)]
    assert [m.sequence for m in server.messages] == [1, 2, 3, 4, 5]


def test_storing_does_not_parse(server):
    send(server.port)
    message = server.messages[0]
    assert "parsed" not in vars(message)
    assert message.subject == "Hello"
    assert "parsed" in vars(message)


def test_wait_returns_a_message_that_arrives_later(server):
    sender = send_later(server.port, 0.2, recipients=["late@example.com"])
    message = server.wait_for_message(timeout=5, recipient="late@example.com")
    sender.join()
    assert message.recipients == ["late@example.com"]


def test_wait_wakes_on_arrival_not_at_the_end_of_a_polling_slice(server):
    sender = send_later(server.port, 0.05)
    started = time.monotonic()
    server.wait_for_message(timeout=5)
    sender.join()
    # A poll-based wait would take at least one slice (0.2 s) after arrival.
    assert time.monotonic() - started < 1.0


def test_each_wait_returns_a_new_message(server):
    send(server.port, compose(subject="first"))
    assert server.wait_for_message(recipient="alice@example.com").subject == "first"
    sender = send_later(server.port, 0.1, message=compose(subject="second"))
    assert server.wait_for_message(recipient="alice@example.com").subject == "second"
    sender.join()
    with pytest.raises(AssertionError, match=r"No new message \(recipient=alice"):
        server.wait_for_message(timeout=0.1, recipient="alice@example.com")


def test_waits_for_different_filters_do_not_consume_each_others_mail(server):
    send(server.port, recipients=["bob@example.com"])
    send(server.port, recipients=["alice@example.com"])
    assert server.wait_for_message(recipient="alice@example.com").recipients == [
        "alice@example.com"
    ]
    assert server.wait_for_message(recipient="bob@example.com").recipients == [
        "bob@example.com"
    ]


def test_wait_times_out_with_a_clear_message(server):
    started = time.monotonic()
    with pytest.raises(
        AssertionError,
        match=r"was received in 300 milliseconds.\nThe mailbox is empty.",
    ):
        server.wait_for_message(timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 1.0


def test_a_failed_count_marks_what_it_counted_and_a_failed_wait_what_it_skipped(
    server,
):
    send(server.port, compose(subject="Reset"), recipients=["ann@example.com"])
    listed = "  #1 from <app@example.com> to <ann@example.com> subject 'Reset'"
    for view in (server, server.create_inbox("all", recipient="glob:*")):
        view.wait_for_message(timeout=0)  # each view remembers its own waits
        with pytest.raises(AssertionError) as counted:
            view.assert_message_count(2, recipient="ann@example.com")
        assert str(counted.value).splitlines()[2] == listed + "  <- matches"
        with pytest.raises(AssertionError) as waited:
            view.wait_for_message_count(2, timeout=0, recipient="ann@example.com")
        assert str(waited.value).splitlines()[2] == listed + "  <- matches"
        with pytest.raises(AssertionError) as skipped:
            view.wait_for_message(timeout=0, recipient="ann@example.com")
        assert str(skipped.value).splitlines()[2] == (
            listed + "  <- matches, but was returned by an earlier wait"
        )


def test_a_check_that_nothing_matched_lists_the_matches_under_one_heading(server):
    send(server.port, compose(subject="Newsletter"), recipients=["bob@example.com"])
    with pytest.raises(AssertionError) as failure:
        server.assert_no_message(subject="Newsletter")
    assert str(failure.value).splitlines() == [
        "Expected no message (subject=Newsletter), but 1 message matched:",
        "  #1 from <app@example.com> to <bob@example.com> subject 'Newsletter'",
    ]


def test_a_failed_wait_on_an_empty_inbox_lists_the_mail_the_server_holds(server):
    server.create_inbox("acme", recipient="glob:*@acme.test")
    with pytest.raises(AssertionError, match=r"so is the server's mailbox\.$"):
        server.inbox("acme").wait_for_message(timeout=0.1)
    send(server.port, compose(subject="Sign up"), recipients=["zed@signup.test"])
    with pytest.raises(AssertionError) as failure:
        server.inbox("acme").wait_for_message(timeout=0.3)
    assert str(failure.value).splitlines()[1:] == [
        "The inbox 'acme' is empty, but the server holds 1 message:",
        "  #1 from <app@example.com> to <zed@signup.test> subject 'Sign up'",
    ]


def test_the_mail_an_empty_inbox_lists_is_capped(server):
    server.create_inbox("acme", recipient="glob:*@acme.test")
    for number in range(25):
        send(server.port, compose(subject=f"number {number}"))
    with pytest.raises(AssertionError) as failure:
        server.inbox("acme").assert_message_count(1)
    lines = str(failure.value).splitlines()
    assert lines[1:3] == [
        "The inbox 'acme' is empty, but the server holds 25 messages:",
        "  ... 5 older ones not shown",
    ]
    assert len(lines) == 3 + 20
    assert lines[-1].endswith("subject 'number 24'")


def test_wait_for_count_sees_a_reset(server):
    send(server.port)
    waiter_result = []
    waiter = threading.Thread(
        target=lambda: waiter_result.append(
            server.messages.wait_for_count(2, MessageFilter(), 5)
        )
    )
    waiter.start()
    time.sleep(0.1)
    server.reset()
    send(server.port)
    send(server.port)
    waiter.join()
    assert waiter_result == [True]


def test_wait_for_count_zero_is_immediate(server):
    assert server.messages.wait_for_count(0, MessageFilter(), 0)


def _filtered(server, **filters):
    return [m.subject for m in server.get_messages(**filters)]


@pytest.fixture
def mailbox(server):
    send(
        server.port,
        compose(
            subject="Welcome Alice", to="Alice <alice@example.com>", X_Campaign="spring"
        ),
        sender="noreply@example.com",
        recipients=["alice@example.com"],
    )
    send(
        server.port,
        compose(subject="Invoice 42", to="bob@example.com", Cc="carol@example.com"),
        sender="billing@example.com",
        recipients=["bob@example.com", "carol@example.com", "secret@example.com"],
    )
    send(
        server.port,
        compose(subject="Reset your password", text="code 123456"),
        recipients=["alice@example.com"],
    )
    return server


@pytest.mark.parametrize(
    ("filters", "subjects"),
    [
        ({}, ["Welcome Alice", "Invoice 42", "Reset your password"]),
        ({"sender": "NoReply@Example.com"}, ["Welcome Alice"]),
        ({"recipient": "secret@example.com"}, ["Invoice 42"]),
        (
            {"recipient": "glob:*@example.com"},
            ["Welcome Alice", "Invoice 42", "Reset your password"],
        ),
        ({"to": "alice@example.com"}, ["Welcome Alice", "Reset your password"]),
        ({"cc": "carol@example.com"}, ["Invoice 42"]),
        ({"subject": "Invoice"}, ["Invoice 42"]),
        ({"subject": r"regexp:^Invoice \d+$"}, ["Invoice 42"]),
        ({"subject": r"REGEXP:^Invoice \d+$"}, ["Invoice 42"]),
        ({"subject": "Regexp:^Inv"}, ["Invoice 42"]),
        ({"subject": "GLOB:Invoice *"}, ["Invoice 42"]),
        ({"recipient": "Glob:secret@*"}, ["Invoice 42"]),
        ({"subject": "invoice"}, []),
        ({"body": "code 123456"}, ["Reset your password"]),
        ({"header": "X-Campaign: spring"}, ["Welcome Alice"]),
        ({"header": "x-campaign"}, ["Welcome Alice"]),
        ({"header": "X-Campaign: autumn"}, []),
        ({"matching": r"code \d{6}"}, ["Reset your password"]),
        (
            {"recipient": "alice@example.com", "subject": "Reset"},
            ["Reset your password"],
        ),
    ],
)
def test_filters(mailbox, filters, subjects):
    assert _filtered(mailbox, **filters) == subjects


@pytest.mark.parametrize("encoding", ["base64", "quoted-printable"])
def test_matching_searches_decoded_bodies(server, encoding):
    message = compose(subject="Encoded")
    message.set_content("Grüße, your code is 987654\n", cte=encoding)
    send(server.port, message)
    assert "Grüße, your code is 987654" not in server.messages[0].source
    assert _filtered(server, matching="Grüße, your code is 9876") == ["Encoded"]


def test_unknown_filter_names_the_allowed_ones():
    with pytest.raises(
        ConfigurationError,
        match=r"Unknown filter 'recipients'\. Allowed filters: "
        r"sender, recipient, to, cc, from_address, subject, body, header",
    ):
        MessageFilter({"recipients": "x"})


@pytest.mark.parametrize("value", ["rgx:^Hi", "RGX:^Hi", "REGEX:^Hi", "GLB:*Hi"])
def test_a_misspelt_prefix_in_lower_or_upper_case_is_an_error(value):
    word = value.partition(":")[0]
    with pytest.raises(ConfigurationError, match=f"Unknown prefix '{word}:'"):
        MessageFilter({"subject": value})


@pytest.mark.parametrize(
    "value",
    ["Re:Hello", "RE:Hello", "Re: Hello", "Ticket:42", "Global:Update", "Regex:tips"],
)
def test_a_word_and_a_colon_that_is_no_prefix_is_text(value):
    assert MessageFilter({"subject": value})


def test_invalid_regex_is_a_clear_error():
    with pytest.raises(
        ConfigurationError, match=r"Invalid regular expression '\(' in matching="
    ):
        MessageFilter({"matching": "("})


@pytest.mark.parametrize(
    "call, error",
    [
        (
            lambda s: s.wait_for_message(timeout="5 s"),
            "'timeout' must be a number of seconds, got '5 s' (str).",
        ),
        (
            lambda s: s.wait_for_message(timeout=None),
            "'timeout' must be a number of seconds, got None (NoneType).",
        ),
        (
            lambda s: s.wait_for_message(timeout=float("nan")),
            "'timeout' must be a finite number of seconds, got nan.",
        ),
        (
            lambda s: s.assert_no_message(within="1"),
            "'within' must be a number of seconds, got '1' (str).",
        ),
        (
            lambda s: s.wait_for_message_count("2"),
            "'count' must be a whole number, got '2' (str).",
        ),
        (
            lambda s: s.assert_message_count(True),
            "'count' must be a whole number, got True (bool).",
        ),
    ],
)
def test_a_wrong_type_in_python_is_a_clear_error_at_once(server, call, error):
    started = time.monotonic()
    with pytest.raises(ConfigurationError) as failure:
        call(server)
    assert str(failure.value) == error
    assert time.monotonic() - started < 0.5


def test_a_wait_ends_at_once_when_the_server_stops_meanwhile():
    server = MockSMTPServer()
    address = server.address
    send(server.port, compose(subject="Earlier"), recipients=["bob@example.com"])
    stopper = threading.Timer(0.3, server.stop)
    stopper.start()
    started = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        server.wait_for_message(recipient="alice@example.com", timeout=30)
    assert time.monotonic() - started < 5
    assert str(failure.value).splitlines()[:2] == [
        f"No new message (recipient=alice@example.com): the mock SMTP server at "
        f"{address} stopped while waiting.",
        "Received 1 message:",
    ]
    stopper.join()


def test_a_count_wait_ends_at_once_when_the_server_stops_meanwhile():
    server = MockSMTPServer()
    address = server.address
    stopper = threading.Timer(0.3, server.stop)
    stopper.start()
    started = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        server.wait_for_message_count(2, timeout=30)
    assert time.monotonic() - started < 5
    assert str(failure.value).splitlines()[0] == (
        f"Expected 2 messages (no filter) (the mock SMTP server at {address} "
        "stopped while waiting), but received 0."
    )
    stopper.join()


def test_waits_after_a_stop_still_see_delivered_mail():
    server = MockSMTPServer()
    server.stop()
    server.deliver("Subject: Written by the test\n\nHi", "alice@example.com")
    assert server.wait_for_message(timeout=1).subject == "Written by the test"
    server.deliver("Subject: Second\n\nHi", "alice@example.com")
    assert len(server.wait_for_message_count(2, timeout=1)) == 2
