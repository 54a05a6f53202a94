"""Rule-based faults, seen by real clients over real sockets."""

from __future__ import annotations

import re
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import compose, send

from SMTPMockLibrary import ConfigurationError, MockSMTPServer

RETRYING_SENDER = (
    Path(__file__).resolve().parent.parent
    / "atest"
    / "resources"
    / "retrying_sender.py"
)


@pytest.fixture
def server():
    with MockSMTPServer(users={"alice": "s3cret", "bob": "pw"}) as server:
        yield server


def refused_code(port: int, **options) -> int | None:
    """The code the server refused the mail with, or None when it took it."""
    try:
        send(port, **options)
    except smtplib.SMTPResponseException as error:
        return error.smtp_code
    except smtplib.SMTPRecipientsRefused as error:
        return next(iter(error.recipients.values()))[0]
    return None


def retry(port: int, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(RETRYING_SENDER), str(port), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_recipient_condition_refuses_only_that_recipients_mail(server):
    server.reply_to_data("451 4.3.0 Later", recipient="bob@example.com")
    assert refused_code(server.port, recipients=["bob@example.com"]) == 451
    assert refused_code(server.port, recipients=["alice@example.com"]) is None
    assert server.count_messages() == 1


def test_a_sender_condition_is_judged_at_rcpt(server):
    server.reply_to_recipient(".", "550 5.7.1 Not from you", sender="spam@x.example")
    assert refused_code(server.port, sender="spam@x.example") == 550
    assert refused_code(server.port, sender="app@example.com") is None


def test_a_header_condition_is_judged_at_the_end_of_data(server):
    server.reply_to_data("554 5.6.0 No campaigns", header="X-Campaign: spring")
    campaign = compose(subject="Sale", X_Campaign="spring sale")
    assert refused_code(server.port, message=campaign) == 554
    assert refused_code(server.port, message=compose(subject="Receipt")) is None
    [stored] = server.get_messages()
    assert stored.subject == "Receipt"


def test_a_condition_on_what_is_not_known_yet_does_not_hold(server):
    server.disconnect_on("MAIL", recipient="alice@example.com")
    assert refused_code(server.port) is None  # MAIL comes before any RCPT


def rcpt_replies(port: int, sender: str, recipients: list[str]) -> list[object]:
    """The code of each RCPT in turn, or "dropped" where the server hung up."""
    replies: list[object] = []
    client = smtplib.SMTP("127.0.0.1", port, timeout=10)
    try:
        client.ehlo()
        code, _ = client.mail(sender)
        if code != 250:
            return ["dropped" if code == -1 else code]
        for recipient in recipients:
            replies.append(client.rcpt(recipient)[0])
    except smtplib.SMTPServerDisconnected:
        replies.append("dropped")
    finally:
        client.close()
    return replies


def test_a_drop_on_rcpt_is_judged_on_the_recipient_being_added(server):
    server.disconnect_on("RCPT", recipient="bob@example.com", times=1)
    replies = rcpt_replies(
        server.port, "app@example.com", ["alice@example.com", "bob@example.com"]
    )
    assert replies == [250, "dropped"]
    assert server.fault_rules == []  # fired once, on bob


def test_a_drop_on_rcpt_scoped_to_an_inbox_hits_that_inboxes_recipient(server):
    server.create_inbox("bulk", recipient="glob:*@bulk.example")
    server.disconnect_on("RCPT", inbox="bulk", times=1)
    replies = rcpt_replies(
        server.port, "app@example.com", ["b@bulk.example", "c@example.com"]
    )
    assert replies == ["dropped"]


def test_a_delay_on_rcpt_is_judged_on_the_recipient_being_added(server):
    server.delay_reply("RCPT", 0.5, recipient="bob@example.com")
    started = time.monotonic()
    assert rcpt_replies(server.port, "app@example.com", ["alice@example.com"]) == [250]
    assert time.monotonic() - started < 0.4
    started = time.monotonic()
    assert rcpt_replies(server.port, "app@example.com", ["bob@example.com"]) == [250]
    assert time.monotonic() - started >= 0.5


def test_a_drop_on_mail_is_judged_on_the_sender_given(server):
    rule = server.disconnect_on("MAIL", sender="x@example.com")
    assert rcpt_replies(server.port, "app@example.com", ["a@example.com"]) == [250]
    assert rcpt_replies(server.port, "x@example.com", ["a@example.com"]) == ["dropped"]
    assert rule.fired == 1


def test_a_peer_condition(server):
    server.reply_to_sender(".", "421 4.7.0 Not from here", peer="192.0.2.1")
    assert refused_code(server.port) is None
    server.reply_to_sender(".", "421 4.7.0 Not from here", peer="glob:127.*")
    assert refused_code(server.port) == 421


def test_an_auth_user_condition(server):
    server.reply_to_data("452 4.2.2 Quota exceeded", auth_user="bob")
    for user, password, expected in (("bob", "pw", 452), ("alice", "s3cret", None)):
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.login(user, password)
            try:
                client.sendmail(
                    "app@example.com", ["x@example.com"], "Subject: q\r\n\r\n"
                )
                code = None
            except smtplib.SMTPDataError as error:
                code = error.smtp_code
        assert code == expected, user


def test_faults_scoped_to_an_inbox(server):
    server.create_inbox("bulk", recipient="glob:*@bulk.example")
    server.reply_to_recipient(".", "452 4.2.2 Over quota", inbox="bulk")
    assert refused_code(server.port, recipients=["news@bulk.example"]) == 452
    assert refused_code(server.port, recipients=["alice@example.com"]) is None
    assert server.inbox("bulk").count_messages() == 0
    assert server.inbox("unrouted").count_messages() == 1


def test_reply_to_auth_refuses_a_right_password(server):
    server.reply_to_auth("535 5.7.8 Authentication credentials invalid", user="alice")
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("alice", "s3cret")
        assert refused.value.smtp_code == 535
        client.login("bob", "pw")  # other users still log in
    [rule] = server.fault_rules
    assert rule.fired == 2  # smtplib tries AUTH PLAIN, then AUTH LOGIN


def test_limit_message_rate_by_sender_counts_accepted_mail_only(server):
    server.limit_message_rate(2, per=60, by="sender")
    assert refused_code(server.port, sender="a@example.com") is None
    assert refused_code(server.port, sender="a@example.com") is None
    assert refused_code(server.port, sender="a@example.com") == 421
    assert refused_code(server.port, sender="b@example.com") is None
    assert server.count_messages() == 3


def test_limit_message_rate_window_slides(server):
    server.limit_message_rate(1, per=0.5, by="all")
    assert refused_code(server.port) is None
    assert refused_code(server.port) == 421
    time.sleep(0.6)
    assert refused_code(server.port) is None


def test_limit_message_rate_can_close_the_connection(server):
    server.limit_message_rate(1, per=60, close=True)
    send(server.port)
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        client.ehlo()
        code, _ = client.mail("app@example.com")
        assert code == 421
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()


def test_limit_recipients(server):
    server.limit_recipients(2)
    refused = send(server.port, recipients=[f"r{n}@example.com" for n in range(4)])
    assert {code for code, _ in refused.values()} == {452}
    assert sorted(refused) == ["r2@example.com", "r3@example.com"]
    [stored] = server.get_messages()
    assert stored.recipients == ["r0@example.com", "r1@example.com"]


def outcomes(seed: int) -> list[bool]:
    with MockSMTPServer() as server:
        server.reply_to_data("451 4.3.0 Random", probability=0.3, seed=seed)
        return [refused_code(server.port) is None for _ in range(30)]


def test_seeded_random_faults_repeat_on_every_run():
    first, again, other = outcomes(42), outcomes(42), outcomes(7)
    assert first == again
    assert first != other
    assert 5 <= first.count(False) <= 15  # about 30 % refused


def test_throttle_data_answers_after_size_divided_by_rate(server):
    server.throttle_data("20 kB/s")
    started = time.monotonic()
    send(server.port, compose(text="x" * 30_000))
    assert time.monotonic() - started >= 30_000 / (20 * 1024) * 0.9


def test_a_retrying_sender_stores_the_message_exactly_once(server):
    server.reply_to_data("451 4.3.0 Try again later", times=3)
    result = retry(server.port, "--to", "alice@example.com")
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines() == [
        "attempt 1: 451 b'4.3.0 Try again later'",
        "attempt 2: 451 b'4.3.0 Try again later'",
        "attempt 3: 451 b'4.3.0 Try again later'",
        "attempt 4: accepted",
    ]
    assert server.count_messages() == 1
    assert server.fault_rules == []  # used up


def test_a_retrying_sender_gets_past_a_rate_limit(server):
    server.limit_message_rate(1, per=1.0, by="sender")
    send(server.port)
    result = retry(server.port, "--to", "alice@example.com")
    assert result.returncode == 0, result.stdout
    assert "421" in result.stdout.splitlines()[0]
    assert server.count_messages() == 2


def test_rules_are_listed_with_their_firings(server):
    server.reply_to_data("451 4.3.0 Later", times=2)
    server.reply_to_recipient("^nobody@", "550 5.1.1 No such user")
    refused_code(server.port)
    rules = server.fault_rules
    assert [r.fired for r in rules] == [1, 0]
    assert str(rules[0]) == (
        "Fault rule: end of data -> 451 4.3.0 Later (not stored), 1 time "
        "(fired 1 time)."
    )


def test_bad_rule_arguments_say_what_is_allowed(server):
    with pytest.raises(ConfigurationError, match="Unknown condition 'subject'"):
        server.reply_to_data("451 Later", subject="x")
    with pytest.raises(ConfigurationError, match="'probability' must be from 0 to 1"):
        server.reply_to_data("451 Later", probability=2)
    with pytest.raises(ConfigurationError, match="Unknown rate key 'ip'"):
        server.limit_message_rate(3, per=10, by="ip")
    with pytest.raises(ConfigurationError, match="Invalid rate 'fast'"):
        server.throttle_data("fast")
    with pytest.raises(ConfigurationError, match="No inbox called 'bulk'"):
        server.reply_to_data("451 Later", inbox="bulk")


@pytest.mark.parametrize("pattern", ["regexp:^bob@", "glob:bob@*", "GLOB:b*@x.test"])
def test_an_address_pattern_takes_the_filter_prefixes(server, pattern):
    server.reply_to_recipient(pattern, "550 5.1.1 No")
    assert refused_code(server.port, recipients=["bob@x.test"]) == 550
    assert refused_code(server.port, recipients=["alice@x.test"]) is None
    assert [rule.fired for rule in server.fault_rules] == [1]


def test_an_address_glob_matches_the_whole_address(server):
    server.reply_to_sender("glob:*@spam.test", "550 5.7.1 No spam")
    assert refused_code(server.port, sender="a@spam.test") == 550
    assert refused_code(server.port, sender="a@spam.test.example") is None
    assert refused_code(server.port, sender="a@SPAM.test") is None  # case counts


def test_a_misspelt_prefix_in_an_address_pattern_is_an_error(server):
    with pytest.raises(ConfigurationError, match="Unknown prefix 'rgx:'"):
        server.reply_to_recipient("rgx:^bob@", "550 5.1.1 No")


def test_an_inbox_condition_follows_the_inbox_as_it_is_now(server):
    server.create_inbox("t", header="X-Tenant: acme")
    server.reply_to_data("451 4.3.0 Down", inbox="t")
    acme, beta = compose(X_Tenant="acme"), compose(X_Tenant="beta")
    assert refused_code(server.port, message=acme) == 451
    server.create_inbox("t", header="X-Tenant: beta")  # replaces it
    assert refused_code(server.port, message=acme) is None
    assert refused_code(server.port, message=beta) == 451
    server.remove_inbox("t")
    assert refused_code(server.port, message=beta) is None
    assert [rule.fired for rule in server.fault_rules] == [2]


@pytest.mark.parametrize(
    ("set_rule", "message"),
    [
        (
            lambda s: s.delay_reply("DATA", "3"),
            "'seconds' must be a number of seconds, got '3' (str).",
        ),
        (
            lambda s: s.delay_reply("DATA", True),
            "'seconds' must be a number of seconds, got True (bool).",
        ),
        (
            lambda s: s.delay_reply("DATA", float("inf")),
            "'seconds' must be a finite number of seconds, got inf.",
        ),
        (
            lambda s: s.limit_message_rate(3, per="10 s"),
            "'per' must be a number of seconds, got '10 s' (str).",
        ),
        (
            lambda s: s.limit_message_rate(3, per=float("nan")),
            "'per' must be a finite number of seconds, got nan.",
        ),
        (
            lambda s: s.limit_message_rate("3", per=10),
            "'count' must be a whole number, got '3' (str).",
        ),
        (
            lambda s: s.limit_recipients(2.5),
            "'count' must be a whole number, got 2.5 (float).",
        ),
        (
            lambda s: s.reply_to_data("451 x", times="2"),
            "'times' must be a whole number or None, got '2' (str).",
        ),
        (
            lambda s: s.reply_to_data("451 x", times=True),
            "'times' must be a whole number or None, got True (bool).",
        ),
        (
            lambda s: s.reply_to_data("451 x", probability="0.1"),
            "'probability' must be a number from 0 to 1, got '0.1' (str).",
        ),
        (
            lambda s: s.reply_to_data("451 x", probability=float("nan")),
            "'probability' must be from 0 to 1, got nan.",
        ),
        (
            lambda s: s.throttle_data(True),
            "'rate' must be text like '10 kB/s' or a number of bytes per second, "
            "got True (bool).",
        ),
        (
            lambda s: s.throttle_data(float("inf")),
            "Rate must be positive and finite, got 'inf'.",
        ),
        (lambda s: s.throttle_data("1.2.3 kB/s"), "Invalid rate '1.2.3 kB/s'"),
    ],
)
def test_bad_argument_types_name_the_argument_and_what_it_got(
    server, set_rule, message
):
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        set_rule(server)
    assert server.fault_rules == []


def test_numbers_of_every_kind_still_do(server):
    server.delay_reply("DATA", 0)
    server.delay_reply("DATA", 0.5, times=1)
    server.limit_message_rate(3, per=10)
    server.reply_to_data("451 x", probability=0, seed=1)
    server.reply_to_data("451 x", probability=1)
    assert len(server.fault_rules) == 5


@pytest.mark.parametrize(
    ("rate", "shown"),
    [
        ("100 B/s", "100 B/s"),
        ("10 kB/s", "10 kB/s"),
        ("1.5 MB/s", "1.5 MB/s"),
        ("500", "500 B/s"),
        (100, "100 B/s"),
        (1536, "1.5 kB/s"),
        (100_000, "97.66 kB/s"),
        (2 * 1024 * 1024, "2 MB/s"),
    ],
)
def test_a_throttle_shows_its_rate_readably(server, rate, shown):
    assert server.throttle_data(rate).summary() == (
        f"Fault rule: DATA read at {shown}, until cleared."
    )


def test_a_rule_object_shows_its_conditions(server):
    rule = server.reply_to_data("451 x", sender="a@x.test", header="X-Tenant: a")
    assert "object at 0x" not in repr(rule)
    assert "Conditions(sender='a@x.test', header='X-Tenant: a')" in repr(rule)
    assert str(rule.conditions) == "sender=a@x.test, header=X-Tenant: a"
    assert str(server.reply_to_data("451 x").conditions) == "no conditions"


def test_a_used_up_rule_says_so(server):
    rule = server.reply_to_data("451 4.3.0 Later", times=2)
    refused_code(server.port)
    refused_code(server.port)
    assert rule.times == 0
    assert str(rule) == (
        "Fault rule: end of data -> 451 4.3.0 Later (not stored), used up "
        "(fired 2 times)."
    )
