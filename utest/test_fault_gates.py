"""The gates of fault rules: cheap pre-checks that must never hide a firing rule.

A gate stands for the rules of one command and stage; when it does not pass,
the server judges none of them. So it must pass whenever a rule would fire
(it is a necessary condition), its compiled form must equal its plain form,
and a rule whose gate passes must still be judged by all its conditions.
"""

from __future__ import annotations

import re
import smtplib
import time
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace

import pytest
from helpers import send
from hypothesis import given, settings
from hypothesis import strategies as st

from SMTPMockLibrary import MockSMTPServer
from SMTPMockLibrary.faults import (
    END_OF_DATA,
    Attempt,
    FaultRules,
    Gate,
    combined_search,
)
from SMTPMockLibrary.filters import compile_regex
from SMTPMockLibrary.message import ReceivedMessage

PATTERNS = [
    "^nobody@",
    "@blocked\\.example$",
    ".",
    "",
    "(?i)X\\.TEST$",  # a global flag: searched apart
    "(b)ulk",  # a group: searched apart
    "(?P<user>a)@(?P=user)",
    "a|b@",
    "(?i:SPAM)",
    "\\Ax",
    "t$",
    "[",  # not a pattern: left out below
]
VALID = [p for p in PATTERNS if p != "["]
TEXTS = st.text(alphabet="abxtXT@.nobdy-lkcpeuSPAM", max_size=16)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(VALID), min_size=1, max_size=6), TEXTS)
def test_one_combined_search_finds_what_any_pattern_finds(patterns, text):
    compiled = [re.compile(p) for p in patterns]
    search = combined_search(compiled)
    assert search is not None
    expected = any(p.search(text) is not None for p in compiled)
    assert (search(text) is not None) == expected


# Address arguments with the filter vocabulary's prefixes, as compile_regex
# makes them: globs become regular expressions that the search may join.
PREFIXED = [
    "regexp:^nobody@",
    "REGEXP:(b)ulk",
    "glob:*@x.test",
    "glob:nobody@*",
    "Glob:b*k@*",  # two stars: groups on Python 3.10, searched apart there
    "glob:[!a]*",
    "glob:*",
    "^nobody@",
    "(?i)X\\.TEST$",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PREFIXED), min_size=1, max_size=6), TEXTS)
def test_a_combined_search_finds_what_any_prefixed_pattern_finds(patterns, text):
    compiled = [compile_regex(p) for p in patterns]
    search = combined_search(compiled)
    assert search is not None
    expected = any(p.search(text) is not None for p in compiled)
    assert (search(text) is not None) == expected


def test_a_glob_is_joined_with_the_other_patterns():
    globs = [compile_regex("glob:*@x.test"), compile_regex("glob:nobody@*")]
    assert all(p.groups == 0 and p.flags == re.UNICODE for p in globs)
    search = combined_search([*globs, re.compile("^a")])
    assert isinstance(getattr(search, "__self__", None), re.Pattern)  # one regex
    assert search("bob@x.test") and search("nobody@y") and search("ab")
    assert not search("bob@x.test.y") and not search("re-nobody@y")


def test_no_pattern_no_search():
    assert combined_search([]) is None


ADDRESSES = [
    "a@x.test",
    "B@X.TEST",
    "bulk@example.com",
    "Bulk@Example.com",
    "<>",
    "",
    "nobody@x.test",
    "drop@example.com",
    "retry@example.com",
    "x@spam.example",
]
PEERS = [None, ("127.0.0.1", 25), ("192.0.2.1", 1025)]
USERS = [None, "alice", "bob", "Alice"]
RAWS = [
    b"",
    b"Subject: hi\r\n\r\nbody",
    b"X-Campaign: spring\r\n\r\nbody",
    b"x-campaign: autumn\r\nSubject: x\r\n\r\n",
    b"Subject: x\r\n\r\nX-Campaign: spring",  # in the body only
    b"From: a@x.test",  # no body at all
]

# Rules of every kind, with gates of every kind (and rules with no gate).
RULES = [
    lambda f: f.reply_to_address("RCPT", "^nobody@", "550 5.1.1 No"),
    lambda f: f.reply_to_address("RCPT", "(?i)X\\.TEST$", "550 5.1.1 No"),
    lambda f: f.reply_to_address("MAIL", "(b)ulk", "550 5.7.1 No"),
    lambda f: f.reply_to_address("MAIL", "@spam\\.example$", "550 5.7.1 No"),
    lambda f: f.reply_to_address("RCPT", "glob:*@X.TEST", "550 5.1.1 No"),
    lambda f: f.reply_to_address("MAIL", "glob:b*k@*", "550 5.7.1 No"),
    lambda f: f.reply_to_address("RCPT", "regexp:^nobody@", "550 5.1.1 No"),
    lambda f: f.reply_to_address(
        "RCPT", ".", "452 4.2.2 Full", sender="bulk@example.com"
    ),
    lambda f: f.reply_to_address("RCPT", ".", "452 4.2.2 Full", recipient="regexp:^dr"),
    lambda f: f.reply_to_address("MAIL", ".", "421 4.7.0 No", peer="192.0.2.1"),
    lambda f: f.reply_to_data("451 4.3.0 Later", recipient="retry@example.com"),
    lambda f: f.reply_to_data("554 5.6.0 No", header="X-Campaign: spring"),
    lambda f: f.reply_to_data("554 5.6.0 No", header="Subject"),
    lambda f: f.reply_to_data("554 5.6.0 No", sender="<>"),
    lambda f: f.disconnect_on("RCPT", recipient="drop@example.com"),
    lambda f: f.disconnect_on(END_OF_DATA, sender="glob:bulk@*"),
    # Prefixes in any case are patterns, never plain addresses.
    lambda f: f.reply_to_data("451 4.3.0 Later", sender="REGEXP:^bulk@"),
    lambda f: f.disconnect_on("RCPT", recipient="Glob:drop@*"),
    lambda f: f.delay_reply("MAIL", 0.5, peer="192.0.2.1"),
    lambda f: f.delay_reply("RCPT", 0.5, auth_user="alice"),
    lambda f: f.reply_to_auth("535 5.7.8 No", user="alice"),
    lambda f: f.reply_to_auth("454 4.7.0 Later"),
    lambda f: f.limit_message_rate(1, per=60, by="sender"),
    lambda f: f.limit_message_rate(2, per=60, by="peer"),
    lambda f: f.limit_message_rate(1, per=60, by="recipient"),
    lambda f: f.limit_message_rate(2, per=60, by="all"),
    lambda f: f.limit_recipients(1),
    lambda f: f.throttle_data("10 kB/s", auth_user="bob"),
]

attempts = st.builds(
    Attempt,
    sender=st.sampled_from([None, *ADDRESSES]),
    recipients=st.lists(st.sampled_from(ADDRESSES), max_size=3),
    earlier_recipients=st.integers(0, 3),
    peer=st.sampled_from(PEERS),
    auth_user=st.sampled_from(USERS),
    raw=st.sampled_from(RAWS),
)
stored_mail = st.lists(
    st.tuples(
        st.sampled_from(ADDRESSES[:4]),
        st.lists(st.sampled_from(ADDRESSES[:4]), min_size=1, max_size=2),
        st.sampled_from(PEERS[1:]),
    ),
    max_size=4,
)


def known(attempt: Attempt, address: str | None) -> tuple:
    """What reference() is given: the attempt's facts."""
    return (
        address,
        attempt.sender,
        attempt.recipients,
        attempt.earlier_recipients,
        attempt.peer,
        attempt.auth_user,
        attempt.raw,
    )


def session_of(attempt: Attempt, how: int) -> tuple[object, tuple]:
    """A session (aiosmtpd's attributes) giving the attempt's peer and user,
    and the extra arguments of passes(): the user read from the session
    (how 0), given as AUTH gives it (how 1), or no session at all (how 2,
    only when neither is known)."""
    if how == 2 and attempt.peer is None and attempt.auth_user is None:
        return None, ()
    if how == 1:
        other = SimpleNamespace(peer=attempt.peer, authenticated=True, auth_data="bob")
        return other, (attempt.auth_user,)
    session = SimpleNamespace(
        peer=attempt.peer,
        authenticated=attempt.auth_user is not None,
        auth_data=attempt.auth_user if attempt.auth_user is not None else "alice",
    )
    return session, ()


def gate_passes(gate: Gate, attempt: Attempt, address: str | None, how: int = 0):
    session, extra = session_of(attempt, how)
    return gate.passes(
        address,
        attempt.sender,
        attempt.recipients,
        attempt.earlier_recipients,
        session,
        attempt.raw,
        *extra,
    )


def fires(rules: FaultRules, command: str, stage: str, attempt, address) -> bool:
    """Whether judging in full (as the server does once a gate passes) fires."""
    if stage == "before":
        return (
            bool(rules.take_delay(command, attempt))
            or rules.take_disconnect(command, attempt)
            # MAIL and RCPT: one gate for the delays, drops and replies.
            or (
                command in ("MAIL", "RCPT")
                and rules.take_rule(command, attempt, address) is not None
            )
        )
    if command == END_OF_DATA:
        return (
            bool(rules.take_delay(command, attempt))
            or rules.take_disconnect(command, attempt)
            or rules.take_data_reply(attempt) is not None
        )
    return rules.take_rule(command, attempt, address) is not None


@settings(max_examples=600, deadline=None)
@given(
    st.lists(st.integers(0, len(RULES) - 1), min_size=1, max_size=8, unique=True),
    stored_mail,
    attempts,
    st.sampled_from([None, *ADDRESSES]),
    st.integers(0, 2),
)
def test_a_gate_passes_whenever_a_rule_would_fire(chosen, mail, attempt, address, how):
    rules = FaultRules()
    for number in chosen:
        RULES[number](rules)
    for sender, recipients, peer in mail:
        rules.note_accepted(ReceivedMessage(b"", sender, recipients, peer=peer))
    stages = [("reply", c, g) for c, g in rules.gates.items()]
    stages += [("before", c, g) for c, g in rules.gates_before.items()]
    assert stages, "every rule is in some gate"
    for stage, command, gate in stages:
        passes = gate_passes(gate, attempt, address, how)
        assert passes == gate.reference(*known(attempt, address)), (stage, command)
        if not passes:
            assert not fires(rules, command, stage, attempt, address), (stage, command)


def test_a_gate_without_cheap_conditions_always_passes():
    rules = FaultRules()
    rules.reply_to_data("451 4.3.0 Later", sender="regexp:^bulk@")
    gate = rules.gates[END_OF_DATA]
    assert gate.always
    assert gate.passes(None, None, (), 0, None, b"")


def test_the_benchmark_rules_let_ordinary_mail_through_every_gate():
    rules = FaultRules()
    rules.reply_to_address("RCPT", "^nobody@", "550 5.1.1 No such user")
    rules.reply_to_address("RCPT", "@blocked\\.example$", "550 5.7.1 Blocked")
    rules.reply_to_address("MAIL", "@spam\\.example$", "550 5.7.1 No spam")
    rules.reply_to_address("RCPT", ".", "452 4.2.2 Full", sender="bulk@example.com")
    rules.reply_to_data("451 4.3.0 Later", recipient="retry@example.com")
    rules.reply_to_data("554 5.6.0 No campaigns", header="X-Campaign: spring")
    rules.disconnect_on("RCPT", recipient="drop@example.com")
    rules.reply_to_address("MAIL", ".", "421 4.7.0 Not from there", peer="192.0.2.1")
    rules.limit_message_rate(10_000_000, per=60, by="sender")
    session = SimpleNamespace(
        peer=("127.0.0.1", 4000), authenticated=False, auth_data=None
    )
    sender, recipient = "load@example.com", "sink@example.com"
    raw = b"From: load@example.com\r\nSubject: load\r\n\r\nX-Campaign: spring\r\n"
    gates = [*rules.gates.values(), *rules.gates_before.values()]
    assert not any(gate.always for gate in gates)
    assert sorted(rules.gates) == [END_OF_DATA]
    assert sorted(rules.gates_before) == ["MAIL", "RCPT"]
    assert not rules.gates_before["MAIL"].passes(sender, sender, [], 0, session, b"")
    assert not rules.gates_before["RCPT"].passes(
        recipient, sender, [recipient], 0, session, b""
    )
    assert not rules.gates[END_OF_DATA].passes(
        None, sender, [recipient], 0, session, raw
    )
    # ... and mail a rule is about through its gate.
    assert rules.gates_before["RCPT"].passes(
        recipient, "Bulk@Example.com", [recipient], 0, session, b""
    )
    assert rules.gates_before["RCPT"].passes(
        "drop@example.com", sender, ["drop@example.com"], 0, session, b""
    )
    session.peer = ("192.0.2.1", 4000)
    assert rules.gates_before["MAIL"].passes(sender, sender, [], 0, session, b"")


def test_rate_histories_keep_only_the_window():
    rules = FaultRules()
    rules.limit_message_rate(3, per=0.05, by="all")
    (rule,) = rules.rules
    assert rule.rate is not None
    for _ in range(3):
        rules.note_accepted(ReceivedMessage(b"", "a@x.test", ["b@x.test"]))
    assert len(rule.rate.history["*"]) == 3
    time.sleep(0.06)
    rules.note_accepted(ReceivedMessage(b"", "a@x.test", ["b@x.test"]))
    assert len(rule.rate.history["*"]) == 1


def test_rate_counting_waits_while_no_limit_can_be_reached():
    rules = FaultRules()
    rules.limit_message_rate(5, per=60, by="sender")
    (rule,) = rules.rules
    assert rule.rate is not None
    alice = Attempt("alice@x.test", [], peer=("127.0.0.1", 1))

    def accept(sender: str) -> None:
        rules.note_accepted(ReceivedMessage(b"", sender, ["b@x.test"]))

    accept("alice@x.test")  # the first message after a new limit is counted
    assert len(rule.rate.history["alice@x.test"]) == 1
    for sender in ["alice@x.test"] * 3:
        accept(sender)  # 4 of 5: none can reach the count yet
    assert len(rule.rate.history["alice@x.test"]) == 1
    assert rules.take_rule("MAIL", alice) is None
    accept("alice@x.test")  # the fifth: counted, and the limit is reached
    assert len(rule.rate.history["alice@x.test"]) == 5
    assert rules.take_rule("MAIL", alice) is rule
    bob = Attempt("bob@x.test", [], peer=("127.0.0.1", 1))
    assert rules.take_rule("MAIL", bob) is None


def test_a_rate_window_runs_on_real_time_when_the_clock_turns_back(monkeypatch):
    # received_at is local time: on the last Sunday of October in Berlin,
    # 02:10 comes 40 minutes after 02:30.
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        rules = FaultRules()
        rule = rules.limit_message_rate(1, per=30 * 60, by="all")
        assert rule.rate is not None
        rule.rate.since = 0.0
        summer = datetime(2026, 10, 25, 2, 30)
        winter = datetime(2026, 10, 25, 2, 10, fold=1)
        assert winter.timestamp() - summer.timestamp() == 40 * 60
        first = ReceivedMessage(b"", "a@x.test", ["b@x.test"], received_at=summer)
        rule.rate.note([first], now=summer.timestamp())
        assert rule.rate.exceeded("*", summer.timestamp())
        assert not rule.rate.exceeded("*", winter.timestamp())
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_rate_limit_counts_only_mail_received_after_it_was_set():
    rules = FaultRules()
    rules.limit_message_rate(1, per=60, by="all")
    earlier = ReceivedMessage(b"", "a@x.test", ["b@x.test"])
    time.sleep(0.01)
    rules.limit_message_rate(1, per=60, by="sender")
    rules.note_accepted(earlier)
    first, second = rules.rules
    assert first.rate is not None and second.rate is not None
    assert len(first.rate.history["*"]) == 1
    assert len(second.rate.history) == 0


@pytest.fixture
def server():
    with MockSMTPServer() as server:
        yield server


def test_a_rule_whose_gate_passes_is_still_judged_by_all_its_conditions(server):
    server.reply_to_recipient(
        ".", "452 4.2.2 Full", sender="bulk@example.com", recipient="full@x.test"
    )
    gate: Gate = server.faults.gates_before["RCPT"]
    # The gate checks the sender only: it passes for both recipients ...
    for recipient in ("ok@x.test", "full@x.test"):
        assert gate.passes(recipient, "bulk@example.com", (recipient,), 0, None, b"")
    # ... and the recipient condition still decides.
    send(server.port, sender="bulk@example.com", recipients=["ok@x.test"])
    with pytest.raises(smtplib.SMTPRecipientsRefused, match="452"):
        send(server.port, sender="bulk@example.com", recipients=["full@x.test"])
    assert server.count_messages() == 1
    assert [rule.fired for rule in server.fault_rules] == [1]


PLAIN = b"Subject: hi\r\n\r\nbody\r\n"


def test_a_session_sending_the_same_envelope_again_meets_every_rule_that_comes_to_apply():
    # The session remembers what each gate let through (fastpath.py), once it
    # has stored a message; what changes besides the envelope must still
    # reach the rules. So each part sends twice before the change.
    with MockSMTPServer(users={"alice": "secret"}) as server:
        server.reply_to_data("554 5.6.0 No campaigns", header="X-Campaign: spring")
        server.limit_message_rate(3, per=60, by="sender")
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            for _ in range(2):
                client.sendmail("app@example.com", ["bob@x.test"], PLAIN)
            # Another message of the same envelope: its header still counts.
            with pytest.raises(smtplib.SMTPDataError, match="554"):
                client.sendmail(
                    "app@example.com",
                    ["bob@x.test"],
                    b"X-Campaign: spring\r\n\r\nx\r\n",
                )
            client.sendmail("app@example.com", ["bob@x.test"], PLAIN)
            # The rate limit fills up while the envelope stays the same.
            with pytest.raises(smtplib.SMTPSenderRefused, match="421"):
                client.sendmail("app@example.com", ["bob@x.test"], PLAIN)
        assert server.count_messages() == 3
        server.clear_faults()
        refused_after_a_change(  # a rule set meanwhile
            server,
            "carol@x.test",
            lambda client: server.reply_to_recipient("^carol@", "550 5.1.1 Gone"),
        )
        server.clear_faults()
        server.reply_to_recipient(".", "550 5.7.1 Not for alice", auth_user="alice")
        refused_after_a_change(  # the same session, now authenticated
            server, "dave@x.test", lambda client: client.login("alice", "secret")
        )
        assert server.count_messages() == 7


def refused_after_a_change(
    server: MockSMTPServer, recipient: str, change: Callable[[smtplib.SMTP], object]
) -> None:
    """One session sends to ``recipient`` twice (stored: now it remembers),
    makes ``change``, and the same envelope again must be refused with 550."""
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        for _ in range(2):
            client.sendmail("app@example.com", [recipient], PLAIN)
        change(client)
        with pytest.raises(smtplib.SMTPRecipientsRefused, match="550"):
            client.sendmail("app@example.com", [recipient], PLAIN)


def test_what_a_gate_let_through_for_one_client_is_judged_again_for_another():
    # What a gate let through is remembered per session (fastpath.py): a
    # rule about the client's host or user still applies to another client.
    with MockSMTPServer(users={"alice": "secret"}) as server:
        server.reply_to_sender(".", "421 4.7.0 Not from there", peer="127.0.0.2")
        server.reply_to_recipient(".", "550 5.7.1 Not for alice", auth_user="alice")
        for _ in range(2):
            send(server.port, PLAIN, recipients=["bob@x.test"])
        with (
            smtplib.SMTP(
                "127.0.0.1", server.port, timeout=10, source_address=("127.0.0.2", 0)
            ) as client,
            pytest.raises(smtplib.SMTPSenderRefused, match="421"),
        ):
            client.sendmail("app@example.com", ["bob@x.test"], PLAIN)
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.login("alice", "secret")
            with pytest.raises(smtplib.SMTPRecipientsRefused, match="550"):
                client.sendmail("app@example.com", ["bob@x.test"], PLAIN)
        assert server.count_messages() == 2
