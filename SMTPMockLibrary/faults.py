"""Fault rules: set from the test thread, applied by the server as mail comes in.

A rule answers a command with a chosen reply, drops the connection, delays
the reply, limits the message rate, or throttles DATA. Conditions narrow it
to some mail (``sender=``, ``recipient=``, ``header=``, ``auth_user=``,
``peer=``, ``inbox=``), judged when their data is known: sender and
recipient at RCPT, headers and inboxes at the end of DATA; a condition on
what is not known yet does not hold. Every rule applies ``times`` times, or
until cleared (``times=None``, the default); ``probability`` with ``seed``
makes it fire at random, the same way on every run.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Literal, get_args

from robot.utils import secs_to_timestr

from .arguments import real_number, seconds_argument, whole_number
from .errors import ConfigurationError
from .filters import (
    MessageFilter,
    Pattern,
    compile_regex,
    normalized_address,
    split_prefix,
)
from .message import ReceivedMessage

if TYPE_CHECKING:
    from .inbox import Inboxes

END_OF_DATA = "END OF DATA"
Command = Literal[
    "EHLO",
    "HELO",
    "AUTH",
    "STARTTLS",
    "MAIL",
    "RCPT",
    "DATA",
    "END OF DATA",
    "RSET",
    "NOOP",
    "VRFY",
    "QUIT",
]
COMMANDS: tuple[str, ...] = get_args(Command)
_COMMAND_ALIASES = {
    "ENDOFDATA": END_OF_DATA,
    "DATAEND": END_OF_DATA,
    "EOM": END_OF_DATA,
    "MESSAGE": END_OF_DATA,
    ".": END_OF_DATA,
    "MAILFROM": "MAIL",
    "RCPTTO": "RCPT",
}
_REPLY = re.compile(r"^[2-5]\d\d(?:[ -].*)?$")
CONDITIONS = ("sender", "recipient", "header", "auth_user", "peer", "inbox")
RateKey = Literal["all", "sender", "peer", "recipient"]
RATE_KEYS: tuple[str, ...] = get_args(RateKey)
_RATE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kKmM]?)i?[bB]?(?:/s(?:ec)?)?\s*$")
_RATE_UNITS = (("MB/s", 1024 * 1024), ("kB/s", 1024))


def normalize_command(command: str) -> str:
    """``mail``, ``MAIL FROM`` -> ``MAIL``; ``end of data``, ``EOM`` -> ``END OF DATA``."""
    key = re.sub(r"[\s_:-]", "", command).upper()
    if key in _COMMAND_ALIASES:
        return _COMMAND_ALIASES[key]
    if key in COMMANDS:
        return key
    raise ConfigurationError(
        f"Unknown SMTP command '{command}'. Allowed: {', '.join(COMMANDS)}."
    )


def validate_reply(reply: str) -> str:
    reply = reply.strip()
    if not _REPLY.match(reply) or "\n" in reply or "\r" in reply:
        raise ConfigurationError(
            f"Invalid SMTP reply '{reply}': expected a three-digit code from 200 "
            "to 599 and an optional text on one line, like '550 5.1.1 No such user'."
        )
    return reply


def validate_times(times: object) -> int | None:
    """``times`` as given: None, or a whole number from 1 up."""
    if times is None:
        return None
    count = whole_number(times, "times", "a whole number or None")
    if count < 1:
        raise ConfigurationError(
            f"'times' must be a positive number or None, got {times}."
        )
    return count


def validate_probability(probability: object) -> float | None:
    """``probability`` as given: None, or a number from 0 to 1."""
    if probability is None:
        return None
    chance = real_number(probability, "probability", "a number from 0 to 1")
    if not 0 <= chance <= 1:  # NaN is not either
        raise ConfigurationError(
            f"'probability' must be from 0 to 1, got {probability}."
        )
    return chance


def parse_rate(rate: str | float) -> float:
    """``10 kB/s``, ``1.5 MB/s``, ``500 B/s`` or a number: bytes per second."""
    if isinstance(rate, str):
        match = _RATE.match(rate)
        if not match:
            raise ConfigurationError(
                f"Invalid rate '{rate}': expected bytes per second like '10 kB/s', "
                "'1 MB/s' or '500'."
            )
        unit = {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2).lower()]
        value = float(match.group(1)) * unit
    else:
        value = real_number(
            rate, "rate", "text like '10 kB/s' or a number of bytes per second"
        )
    if not 0 < value < math.inf:  # NaN is not either
        raise ConfigurationError(f"Rate must be positive and finite, got '{rate}'.")
    return value


def rate_text(rate: str | float, bytes_per_second: float) -> str:
    """The rate as written (``10 kB/s``; ``500`` as ``500 B/s``), or a number
    of bytes per second in the largest unit it reaches: ``1.5 kB/s``."""
    if isinstance(rate, str):
        written = rate.strip()
        bare_number = written.replace(".", "", 1).isdigit()
        return f"{written} B/s" if bare_number else written
    for unit, size in _RATE_UNITS:
        if bytes_per_second >= size:
            return f"{bytes_per_second / size:.4g} {unit}"
    return f"{bytes_per_second:.4g} B/s"


@dataclass(slots=True)
class Attempt:
    """What the server knows of the mail being sent when a rule is judged."""

    sender: str | None = None
    recipients: list[str] = field(default_factory=list)  # at RCPT: the one judged
    earlier_recipients: int = 0  # at RCPT: those already accepted
    peer: tuple[str, int] | None = None
    auth_user: str | None = None
    raw: bytes = b""
    _message: ReceivedMessage | None = field(default=None, repr=False)

    def as_message(self) -> ReceivedMessage:
        """The attempt as a message, made once, for every rule that asks."""
        if self._message is None:
            self._message = ReceivedMessage(
                self.raw,
                stored(self.sender or ""),
                list(self.recipients),
                peer=self.peer,
                auth_user=self.auth_user,
            )
        return self._message

    def has_header(self, name: bytes) -> bool:
        """Whether the header block may hold header ``name`` (lowercase), read
        without parsing: most messages lack it, and need no parsing then."""
        end = self.raw.find(b"\r\n\r\n")
        block = self.raw if end < 0 else self.raw[:end]
        return name in block.lower()


NOTHING_KNOWN = Attempt()


AttemptTest = Callable[[Attempt], bool]


class Conditions:
    """The conditions of one rule, over what an attempt has made known.

    Envelope conditions read the attempt directly; only header and inbox
    conditions need the message, and a header missing from the raw header
    block fails before anything is parsed. The server judges every rule on
    every command it watches, so this stays cheap.

    ``inbox=`` names an inbox that must exist when the rule is set; it is
    judged by the inbox's routing rules at the time, so a rule follows an
    inbox created again with other rules, and never holds once the inbox
    is removed (unless one of that name is created again).
    """

    def __init__(self, conditions: Mapping[str, object], inboxes: Inboxes | None):
        given = {k: str(v) for k, v in conditions.items() if v is not None}
        unknown = [name for name in given if name not in CONDITIONS]
        if unknown:
            raise ConfigurationError(
                f"Unknown condition '{unknown[0]}'. Allowed: {', '.join(CONDITIONS)}."
            )
        if "inbox" in given and inboxes is None:
            raise ConfigurationError("inbox= needs a server with inboxes.")
        self.given = given
        self.gate = _condition_gate(given)
        self._tests = [
            _condition(name, value, inboxes) for name, value in given.items()
        ]

    def __bool__(self) -> bool:
        return bool(self._tests)

    def __str__(self) -> str:
        """``sender=a@x.test, inbox=bulk``, or ``no conditions``."""
        return ", ".join(f"{k}={v}" for k, v in self.given.items()) or "no conditions"

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self.given.items())
        return f"Conditions({given})"

    def hold(self, attempt: Attempt) -> bool:
        # A loop, not all(generator): this runs for every rule on every
        # watched command, and the generator costs more than the tests.
        for test in self._tests:  # noqa: SIM110
            if not test(attempt):
                return False
        return True

    def describe(self) -> str:
        return "".join(f", {k}={v}" for k, v in self.given.items())


def _condition(name: str, value: str, inboxes: Inboxes | None) -> AttemptTest:
    if name in ("sender", "recipient"):
        address = Pattern.parse(name, value, plain="address")
        if name == "sender":
            return lambda a: a.sender is not None and address.test(stored(a.sender))
        return lambda a: _any_recipient(address, a.recipients)
    if name == "auth_user":
        user = Pattern.parse(name, value, plain="exact")
        return lambda a: a.auth_user is not None and user.test(a.auth_user)
    if name == "peer":
        host = Pattern.parse(name, value, plain="exact")
        return lambda a: a.peer is not None and host.test(a.peer[0])
    if name == "header":
        header = MessageFilter({name: value}).test
        wanted = value.partition(":")[0].strip().lower().encode("utf-8", "replace")
        return lambda a: a.has_header(wanted) and header(a.as_message())
    assert inboxes is not None
    inboxes.get(value)  # there must be one now, or a clear error lists them
    return lambda a: _in_inbox(inboxes, value, a)


def _in_inbox(inboxes: Inboxes, name: str, attempt: Attempt) -> bool:
    """Whether the inbox called ``name``, as it is defined now, routes the
    attempt; False when there is no such inbox (any more)."""
    inbox = inboxes.find(name)
    return inbox is not None and inbox.routes(attempt.as_message())


def _condition_gate(given: Mapping[str, str]) -> tuple[str, str] | None:
    """The condition a rule's gate checks: the first plain envelope
    condition (a set lookup), else a header's name, else None."""
    for name in ("sender", "recipient", "peer", "auth_user"):
        value = given.get(name)
        if value is not None and split_prefix(value)[0] is None:  # as Pattern
            if name in ("sender", "recipient"):
                return name, normalized_address(value)
            return name, value
    if "header" in given:
        return "header", given["header"].partition(":")[0].strip().lower()
    return None


def _any_recipient(address: Pattern, recipients: list[str]) -> bool:
    for recipient in recipients:  # noqa: SIM110 - see Conditions.hold
        if address.test(recipient):
            return True
    return False


def stored(sender: str) -> str:
    """The null reverse-path ``<>`` as the empty sender, as messages store it."""
    return "" if sender == "<>" else sender


class _Memo(dict[str, Any]):
    """A pure function of a string, remembered per string: tests send from
    and to the same few addresses, so the same address costs one lookup."""

    KEPT = 4096

    def __init__(self, function: Callable[[str], Any]):
        super().__init__()
        self.function = function

    def __missing__(self, text: str) -> Any:
        value = self.function(text)
        if len(self) >= self.KEPT:
            self.clear()
        self[text] = value
        return value


@dataclass
class FaultRule:
    """One rule: what it does, when, how often, and how often it fired."""

    action: str  # reply, disconnect, delay, rate limit, recipient limit, throttle
    command: str
    reply: str | None
    times: int | None
    conditions: Conditions
    description: str
    delay: float = 0.0  # seconds to wait; for a throttle, bytes per second
    limit: int = 0  # the count of a rate or recipient limit
    address: re.Pattern[str] | None = None
    probability: float | None = None
    seed: int | None = None
    close: bool = False
    fired: int = 0
    rate: _RateLimit | None = field(default=None, repr=False, compare=False)
    _random: random.Random | None = field(default=None, repr=False)

    def __str__(self) -> str:
        fired = f"fired {self.fired} time" + ("" if self.fired == 1 else "s")
        return f"{self.description}, {self._lasting()} ({fired})."

    def summary(self) -> str:
        """The rule and how long it lasts, as logged when it is set."""
        return f"{self.description}, {self._lasting()}."

    def _lasting(self) -> str:
        if self.times is None:
            return "until cleared"
        if self.times == 0:
            return "used up"
        return f"{self.times} time" + ("" if self.times == 1 else "s")

    def draws(self) -> bool:
        """Whether a rule whose conditions hold fires now (its seeded chance)."""
        if self.probability is None:
            return True
        if self._random is None:
            self._random = random.Random(self.seed)
        return self._random.random() < self.probability


# What each kind of rule does, as the server asks for it.
_GROUPS = {
    "reply": "reply",
    "rate limit": "reply",
    "recipient limit": "reply",
    "disconnect": "disconnect",
    "delay": "delay",
    "throttle": "throttle",
}


_sender = attrgetter("sender")


class _RateLimit:
    """The accepted messages of one rate limit, by key, in a sliding window.

    A message counts from its ``received_at`` time until ``window`` seconds
    later, if it arrived after the limit was set. Times are POSIX seconds
    (``received_at`` is local time, whose clock turns back an hour once a
    year). Each key's history keeps only the times within the window (old
    ones are dropped as new ones come), so its length is at most the count
    accepted in the last ``window``, and a key that stays below ``count`` is
    seen as such with one dictionary lookup.
    """

    __slots__ = (
        "by",
        "count",
        "history",
        "longest",
        "rule",
        "sender_keys",
        "since",
        "window",
    )

    def __init__(self, rule: FaultRule, count: int, window: float, by: str):
        self.rule, self.count, self.window, self.by = rule, count, window, by
        self.since = time.time()
        self.history: defaultdict[str, deque[float]] = defaultdict(deque)
        self.sender_keys = _Memo(lambda sender: stored(sender or "").lower())
        self.longest = 0
        """At least the length of every history (never lowered: a bound)."""

    def keys(self, mail: ReceivedMessage | Attempt) -> list[str]:
        """What the limit counts by, for a stored message or an attempt."""
        if self.by == "recipient":
            return [r.lower() for r in mail.recipients]
        return [self.key(mail)]

    def key(self, mail: ReceivedMessage | Attempt) -> str:
        """The one key of ``mail``, counting by sender, peer or all."""
        if self.by == "sender":
            sender: str = self.sender_keys[mail.sender or ""]
            return sender
        if self.by == "peer":
            return mail.peer[0] if mail.peer else "?"
        return "*"

    def one_key_each(self, messages: list[ReceivedMessage]) -> list[str]:
        """The keys of ``messages``, when each has one (not by recipient)."""
        if self.by == "sender":  # the usual key: no call a message
            return list(map(self.sender_keys.__getitem__, map(_sender, messages)))
        return list(map(self.key, messages))

    def may_exceed(self, attempt: Attempt) -> bool:
        """False when no key has ``count`` messages in its history at all:
        then the limit is not exceeded (the window only removes messages)."""
        return any(
            len(self.history.get(key, ())) >= self.count for key in self.keys(attempt)
        )

    def exceeded(self, key: str, now: float) -> bool:
        history = self.history.get(key)
        if not history:
            return False
        self.drop_before(history, now - self.window)
        return len(history) >= self.count

    def note(self, messages: list[ReceivedMessage], now: float) -> None:
        """Count ``messages`` (in the order they were stored) that came after
        the limit was set, and drop what left the window."""
        times = [message.received_at.timestamp() for message in messages]
        if times and times[0] < self.since:
            # The first count after the limit was set: mail from before it waits too.
            counted = [i for i, at in enumerate(times) if at >= self.since]
            messages = [messages[i] for i in counted]
            times = [times[i] for i in counted]
        histories, touched = self.history, set()
        if self.by == "recipient":
            for message, at in zip(messages, times, strict=True):
                for key in self.keys(message):
                    histories[key].append(at)
                    touched.add(key)
        else:  # one key a message; mail comes in runs of the same key
            keys = self.one_key_each(messages)
            start = 0
            for key, run in groupby(keys):
                end = start + sum(1 for _ in run)
                histories[key].extend(times[start:end])
                touched.add(key)
                start = end
        oldest = now - self.window
        for key in touched:
            history = histories[key]
            self.drop_before(history, oldest)
            if len(history) > self.longest:
                self.longest = len(history)

    @staticmethod
    def drop_before(history: deque[float], oldest: float) -> None:
        while history and history[0] <= oldest:
            history.popleft()


class Gate:
    """A cheap necessary condition for the rules of one command and stage.

    Made when the rules change: each rule is represented by one condition
    that must hold for it to apply, chosen to be cheap: a plain sender,
    recipient, peer or user (a set lookup), a header's name (looked for in
    the raw header block), the address pattern of a reply rule (all of them
    in one regular expression), a recipient limit, or a rate limit that has
    the count in its history. A rule with none of these (no condition, an
    inbox, a ``regexp:`` or ``glob:`` condition alone) always passes.

    When ``passes`` is False, no rule of the stage can apply, and the server
    skips judging them; when True, every rule is judged in full, as before.
    The server's lean path (fastpath.py) also looks for the header names
    itself, for a message whose envelope the gate let through before.
    """

    __slots__ = (
        "address",
        "always",
        "headers",
        "passes",
        "peers",
        "rates",
        "reads_rates",
        "recipient_limit",
        "recipients",
        "senders",
        "users",
    )

    def __init__(self, rules: list[FaultRule], judged_by_address: bool):
        self.always = False
        senders: set[str] = set()
        recipients: set[str] = set()
        peers: set[str] = set()
        users: set[str] = set()
        headers: set[bytes] = set()
        patterns: list[re.Pattern[str]] = []
        limits: list[int] = []
        rates: list[_RateLimit] = []
        for rule in rules:
            gate = rule.conditions.gate
            if gate is not None:
                kind, value = gate
                if kind == "header":
                    headers.add(value.encode("utf-8", "replace"))
                else:
                    {
                        "sender": senders,
                        "recipient": recipients,
                        "peer": peers,
                        "auth_user": users,
                    }[kind].add(value)
            elif judged_by_address and rule.action == "reply" and rule.address:
                patterns.append(rule.address)
            elif judged_by_address and rule.action == "recipient limit":
                limits.append(rule.limit)
            elif judged_by_address and rule.rate is not None:
                rates.append(rule.rate)
            else:
                self.always = True
        self.senders = frozenset(senders)
        self.recipients = frozenset(recipients)
        self.peers = frozenset(peers)
        self.users = frozenset(users)
        self.headers = tuple(sorted(headers))
        self.address = combined_search(patterns)
        self.recipient_limit = min(limits) if limits else None
        self.rates = tuple(rates)
        self.passes: GateTest = self._compiled()
        """``passes(address, sender, recipients, earlier_recipients, session,
        raw, auth_user=SESSION_USER)``: whether some rule may apply to what
        is known. ``reference`` made into one function of only the checks
        this gate has; the peer and user are read from the session (as
        ``attempt()`` reads them) only when a check needs them."""
        self.reads_rates = bool(self.rates)
        """Whether ``passes`` reads rate limits' histories: then its verdict
        on the same facts holds only while ``FaultRules.headroom`` > 0; other
        verdicts depend on the facts alone (and the rules, which make new
        gates when they change)."""

    def _compiled(self) -> GateTest:
        if self.always:
            return _always
        names: dict[str, object] = {}
        lines: list[str] = []

        def constant(value: object) -> str:
            name = f"c{len(names)}"
            names[name] = value
            return name

        if self.senders:
            senders = self.senders
            verdicts = _Memo(lambda s: stored(s).lower() in senders)
            lines += [f"if sender is not None and {constant(verdicts)}[sender]:"]
            lines += [" return True"]
        if self.recipients:
            known = self.recipients
            verdicts = _Memo(lambda r: r.lower() in known)
            lines += ["for recipient in recipients:"]
            lines += [f" if {constant(verdicts)}[recipient]:", "  return True"]
        # The peer and the user are read from the session only by gates that
        # check them: what attempt() reads (the AUTH gate is given the user).
        if self.peers or any(rate.by == "peer" for rate in self.rates):
            lines += ["peer = session.peer if session else None"]
        if self.users:
            lines += [
                f"if auth_user is {constant(SESSION_USER)}:",
                " auth_user = (",
                "  session.auth_data if session and session.authenticated else None",
                " )",
            ]
        if self.peers:
            lines += [
                f"if peer is not None and peer[0] in {constant(self.peers)}:",
                " return True",
            ]
        if self.users:
            lines += [
                f"if auth_user is not None and auth_user in {constant(self.users)}:",
                " return True",
            ]
        if self.address is not None:
            search = self.address
            verdicts = _Memo(lambda a: search(a) is not None)
            lines += [f"if address is not None and {constant(verdicts)}[address]:"]
            lines += [" return True"]
        if self.recipient_limit is not None:
            lines += [f"if earlier >= {self.recipient_limit!r}:", " return True"]
        for rate in self.rates:
            # No key can have the count while the longest history is shorter.
            lines += [f"if {constant(rate)}.longest >= {rate.count!r}:"]
            history, count = constant(rate.history), rate.count
            key = {
                "sender": f"{constant(rate.sender_keys)}[sender]",
                "peer": "peer[0] if peer else '?'",
                "all": "'*'",
            }.get(rate.by)
            if key is None:  # by recipient
                lines += [
                    " for recipient in recipients:",
                    f"  if len({history}.get(recipient.lower(), ())) >= {count!r}:",
                    "   return True",
                ]
            else:
                lines += [f" if len({history}.get({key}, ())) >= {count!r}:"]
                lines += ["  return True"]
        if self.headers:
            # find(), not "in": "in" tries the name as an integer first, and
            # formats the error it catches.
            found = " or ".join(f"block.find({name!r}) >= 0" for name in self.headers)
            lines += [
                "if raw:",
                " end = raw.find(b'\\r\\n\\r\\n')",
                " block = (raw if end < 0 else raw[:end]).lower()",
                f" if {found}:",
                "  return True",
            ]
        source = (
            "def passes(address, sender, recipients, earlier, session, raw,"
            f" auth_user={constant(SESSION_USER)}):\n"
            + "".join(f" {line}\n" for line in lines)
            + " return False\n"
        )
        # Values enter the source as names of constants or as repr() of
        # bytes and integers: no rule's text is ever code.
        exec(source, names)
        return names["passes"]  # type: ignore[return-value]

    def reference(
        self,
        address: str | None,
        sender: str | None,
        recipients: Sequence[str],
        earlier_recipients: int,
        peer: tuple[str, int] | None,
        auth_user: str | None,
        raw: bytes,
    ) -> bool:
        """Whether some rule may apply to what is known (see the class): the
        plain form of ``passes``, which tests compare it with."""
        if self.always:
            return True
        senders = self.senders
        if senders and sender is not None and stored(sender).lower() in senders:
            return True
        if self.recipients:
            for recipient in recipients:
                if recipient.lower() in self.recipients:
                    return True
        if self.peers and peer is not None and peer[0] in self.peers:
            return True
        if self.users and auth_user is not None and auth_user in self.users:
            return True
        search = self.address
        if search is not None and address is not None and search(address) is not None:
            return True
        limit = self.recipient_limit
        if limit is not None and earlier_recipients >= limit:
            return True
        for rate in self.rates:
            if rate.may_exceed(Attempt(sender, list(recipients), peer=peer)):
                return True
        if self.headers and raw:
            end = raw.find(b"\r\n\r\n")
            block = (raw if end < 0 else raw[:end]).lower()
            for name in self.headers:
                if name in block:
                    return True
        return False


# passes(address, sender, recipients, earlier_recipients, session, raw,
#        auth_user=SESSION_USER) -> bool
GateTest = Callable[..., bool]
SESSION_USER: Any = object()
"""The default user of a gate: the session's, if it is authenticated."""


def _always(*known: object) -> bool:
    return True


def combined_search(
    patterns: list[re.Pattern[str]],
) -> Callable[[str], object] | None:
    """One search for several patterns: not None where any of them finds a
    match. Patterns with groups or global flags cannot be joined into one
    alternation safely; they are searched one by one after it."""
    if not patterns:
        return None
    joinable = [p for p in patterns if p.groups == 0 and p.flags == re.UNICODE]
    apart = [p.search for p in patterns if p not in joinable]
    searches = apart
    if joinable:
        unique = list(dict.fromkeys(p.pattern for p in joinable))
        joined = re.compile("|".join(f"(?:{text})" for text in unique))
        searches = [joined.search, *apart]
    if len(searches) == 1:
        return searches[0]

    def search(address: str) -> object:
        for one in searches:
            found = one(address)
            if found is not None:
                return found
        return None

    return search


class FaultRules:
    """The rules a test set, applied by the server thread."""

    WAITING_KEPT = 10_000
    """At most this many stored messages wait to be counted by the rate limits."""

    def __init__(self, inboxes: Inboxes | None = None) -> None:
        self._lock = threading.Lock()
        self._inboxes = inboxes
        self._rules: list[FaultRule] = []
        self._rates: list[_RateLimit] = []
        self._waiting: list[ReceivedMessage] = []
        self.headroom = 0
        """How many messages may wait to be counted (see ``note_accepted``).
        Above 0, no rate limit can be reached now, so no gate's rate check
        passes."""
        # The rules by (command, what they do), and their gates, remade on
        # every change: a command no rule watches costs one dictionary
        # lookup, a message no rule can apply to one cheap gate per stage.
        self._index: dict[tuple[str, str], list[FaultRule]] = {}
        self.gates: dict[str, Gate] = {}
        """Per command, the gate of the rules judged with its reply (for
        ``END OF DATA``: of every rule judged at the end of data)."""
        self.gates_before: dict[str, Gate] = {}
        """Per command, the gate of its delay and disconnect rules, judged
        before the command is handled."""

    def __bool__(self) -> bool:
        return bool(self._rules)

    @property
    def rules(self) -> list[FaultRule]:
        """The active rules, in the order they were set."""
        with self._lock:
            return list(self._rules)

    def clear(self) -> None:
        with self._lock:
            self._rules = []
            self._rates = []
            self._waiting, self.headroom = [], 0
            self._reindex()

    def _reindex(self) -> None:
        index: dict[tuple[str, str], list[FaultRule]] = {}
        for rule in self._rules:
            index.setdefault((rule.command, _GROUPS[rule.action]), []).append(rule)
        self._index = index
        gates: dict[str, Gate] = {}
        gates_before: dict[str, Gate] = {}
        for command in {command for command, _ in index}:
            if command == END_OF_DATA:
                rules = [rule for rule in self._rules if rule.command == command]
                gates[command] = Gate(rules, judged_by_address=False)
                continue
            replies = index.get((command, "reply"), [])
            before = index.get((command, "delay"), []) + index.get(
                (command, "disconnect"), []
            )
            if command in ("MAIL", "RCPT"):
                # One gate a command: its replies are judged on what is known
                # before it too, the address it gives.
                gates_before[command] = Gate(before + replies, judged_by_address=True)
                continue
            if replies:
                gates[command] = Gate(replies, judged_by_address=True)
            if before:
                gates_before[command] = Gate(before, judged_by_address=False)
        self.gates, self.gates_before = gates, gates_before

    # Setting rules (test thread). Each returns the rule it set.

    def reply_to_address(
        self,
        command: str,
        address_regex: str,
        reply: str,
        times: int | None = None,
        **options: Any,
    ) -> FaultRule:
        """Answer ``command`` (``MAIL`` or ``RCPT``) with ``reply`` for the
        addresses ``address_regex`` finds: a regular expression searched in
        the address (``^nobody@``), or with a prefix, ``regexp:^nobody@`` or
        ``glob:*@blocked.example`` (a glob matches the whole address, case
        counting, as in filters). A misspelt prefix (``rgx:``) is an error."""
        pattern = compile_regex(address_regex, "the address pattern")
        return self._add(
            "reply",
            command,
            f"{command} for addresses matching '{address_regex}' -> {reply.strip()}",
            reply=reply,
            times=times,
            address=pattern,
            **options,
        )

    def reply_to_data(
        self, reply: str, times: int | None = None, **options: Any
    ) -> FaultRule:
        return self._add(
            "reply",
            END_OF_DATA,
            f"end of data -> {reply.strip()} (not stored)",
            reply=reply,
            times=times,
            **options,
        )

    def reply_to_auth(
        self,
        reply: str,
        user: str | None = None,
        times: int | None = None,
        **options: Any,
    ) -> FaultRule:
        if reply.strip()[:1] not in ("4", "5"):
            raise ConfigurationError(
                f"An AUTH fault needs a 4xx or 5xx reply, got '{reply}'."
            )
        who = f"user '{user}'" if user else "every user"
        conditions = {**options, "auth_user": user} if user else options
        return self._add(
            "reply",
            "AUTH",
            f"AUTH of {who} -> {reply.strip()}",
            reply=reply,
            times=times,
            **conditions,
        )

    def disconnect_on(
        self, command: str, times: int | None = None, **options: Any
    ) -> FaultRule:
        name = normalize_command(command)
        return self._add(
            "disconnect",
            name,
            f"{name} -> connection dropped without a reply",
            times=times,
            **options,
        )

    def delay_reply(
        self,
        command: str,
        seconds: float,
        times: int | None = None,
        **options: Any,
    ) -> FaultRule:
        seconds = seconds_argument(seconds, "seconds")
        if seconds < 0:
            raise ConfigurationError(
                f"Delay must not be negative, got {seconds:g} seconds."
            )
        name = normalize_command(command)
        return self._add(
            "delay",
            name,
            f"{name} -> reply delayed {secs_to_timestr(seconds)}",
            times=times,
            delay=seconds,
            **options,
        )

    def limit_message_rate(
        self,
        count: int,
        per: float,
        by: str = "all",
        reply: str = "421 4.7.0 Too many messages, slow down",
        close: bool = False,
        times: int | None = None,
        **options: Any,
    ) -> FaultRule:
        count = whole_number(count, "count")
        per = seconds_argument(per, "per")
        if count < 1 or per <= 0:
            raise ConfigurationError(
                f"A rate limit needs a count of 1 or more and a positive period, "
                f"got {count} per {per:g} seconds."
            )
        if by not in RATE_KEYS:
            raise ConfigurationError(
                f"Unknown rate key '{by}'. Allowed: {', '.join(RATE_KEYS)}."
            )
        command = "RCPT" if by == "recipient" else "MAIL"
        rule = self._add(
            "rate limit",
            command,
            f"more than {count} messages per {secs_to_timestr(per)} by {by} -> "
            f"{reply.strip()}" + (", then the connection closes" if close else ""),
            reply=reply,
            times=times,
            close=close,
            limit=count,
            rate=(count, per, by),
            **options,
        )
        return rule

    def limit_recipients(
        self,
        count: int,
        reply: str = "452 4.5.3 Too many recipients",
        times: int | None = None,
        **options: Any,
    ) -> FaultRule:
        count = whole_number(count, "count")
        if count < 1:
            raise ConfigurationError(f"The limit must be 1 or more, got {count}.")
        return self._add(
            "recipient limit",
            "RCPT",
            f"more than {count} recipients in one message -> {reply.strip()}",
            reply=reply,
            times=times,
            limit=count,
            **options,
        )

    def throttle_data(
        self, rate: str | float, times: int | None = None, **options: Any
    ) -> FaultRule:
        bytes_per_second = parse_rate(rate)
        return self._add(
            "throttle",
            END_OF_DATA,
            f"DATA read at {rate_text(rate, bytes_per_second)}",
            times=times,
            delay=bytes_per_second,
            **options,
        )

    def _add(
        self,
        action: str,
        command: str,
        description: str,
        *,
        reply: str | None = None,
        times: int | None = None,
        delay: float = 0.0,
        limit: int = 0,
        address: re.Pattern[str] | None = None,
        close: bool = False,
        probability: float | None = None,
        seed: int | None = None,
        rate: tuple[int, float, str] | None = None,
        **conditions: Any,
    ) -> FaultRule:
        probability = validate_probability(probability)
        times = validate_times(times)
        rule_conditions = Conditions(conditions, self._inboxes)
        chance = (
            f", with probability {probability:g}"
            + (f" (seed {seed})" if seed is not None else "")
            if probability is not None
            else ""
        )
        rule = FaultRule(
            action=action,
            command=command,
            reply=validate_reply(reply) if reply is not None else None,
            times=times,
            conditions=rule_conditions,
            description=f"Fault rule: {description}{rule_conditions.describe()}{chance}",
            delay=delay,
            limit=limit,
            address=address,
            probability=probability,
            seed=seed,
            close=close,
        )
        if rate is not None:
            rule.rate = _RateLimit(rule, *rate)
        with self._lock:
            self._rules.append(rule)
            if rule.rate is not None:
                self._rates.append(rule.rate)
                self.headroom = 0  # counted at the next message
            self._reindex()
        return rule

    # Applying rules (server thread). Each returns None when no rule applies.

    def reply_for_address(
        self, command: str, address: str, attempt: Attempt = NOTHING_KNOWN
    ) -> str | None:
        """The reply for ``MAIL``/``RCPT`` of ``address``, if a rule gives one."""
        rule = self.take_rule(command, attempt, address=address)
        return rule.reply if rule is not None else None

    def take_data_reply(self, attempt: Attempt = NOTHING_KNOWN) -> str | None:
        rule = self._take("reply", END_OF_DATA, attempt)
        return rule.reply if rule is not None else None

    def take_disconnect(self, command: str, attempt: Attempt = NOTHING_KNOWN) -> bool:
        return self._take("disconnect", command, attempt) is not None

    def take_delay(
        self, command: str, attempt: Attempt = NOTHING_KNOWN
    ) -> float | None:
        """Seconds to wait before handling ``command``: delays, and throttled DATA."""
        rule = self._take("delay", command, attempt)
        delay = rule.delay if rule is not None else 0.0
        if command == END_OF_DATA:
            throttle = self._take("throttle", command, attempt)
            if throttle is not None:
                delay += len(attempt.raw) / throttle.delay
        return delay or None

    def take_rule(
        self, command: str, attempt: Attempt, address: str | None = None
    ) -> FaultRule | None:
        """The reply rule (address, rate or recipient limit) for MAIL, RCPT or AUTH."""

        def applies(rule: FaultRule) -> bool:
            if rule.action == "reply":
                return rule.address is None or (
                    address is not None and rule.address.search(address) is not None
                )
            if rule.action == "recipient limit":
                return attempt.earlier_recipients >= rule.limit
            if rule.action == "rate limit":
                return self._over_rate(rule, attempt)
            return False

        return self._take("reply", command, attempt, applies)

    def note_accepted(self, message: ReceivedMessage) -> None:
        """Count a stored message for the rate limits (accepted mail only).

        Counting waits while it cannot matter: as long as fewer messages wait
        than any limit lacks to reach its count, none can be exceeded, so
        the gates and judging may read the histories as they are.
        """
        if not self._rates:
            return
        # Without the lock: this runs on the server's thread for every
        # stored message; only counting (rarely) takes it.
        waiting = self._waiting
        waiting.append(message)
        if len(waiting) >= self.headroom:
            self._count_waiting()

    def _count_waiting(self) -> None:
        with self._lock:
            waiting, self._waiting = self._waiting, []
            now = time.time()
            headroom = self.WAITING_KEPT
            for limit in self._rates:
                limit.note(waiting, now)
                headroom = min(headroom, limit.count - limit.longest)
            self.headroom = headroom

    def _over_rate(self, rule: FaultRule, attempt: Attempt) -> bool:
        limit = rule.rate
        if limit is None or limit not in self._rates:  # cleared meanwhile
            return False
        now = time.time()
        return any(limit.exceeded(key, now) for key in limit.keys(attempt))

    def _take(
        self,
        group: str,
        command: str,
        attempt: Attempt,
        applies: Callable[[FaultRule], bool] | None = None,
    ) -> FaultRule | None:
        """The first rule of ``group`` for ``command`` that fires now, counted.

        Rules are judged without the lock (the index is replaced, never
        changed in place); only firing takes it, so that ``times`` counts
        every firing exactly once even with several sessions at once.
        """
        rules = self._index.get((command, group))
        if not rules:
            return None
        for rule in rules:
            if (applies is None or applies(rule)) and rule.conditions.hold(attempt):
                with self._lock:
                    if rule.times == 0 or not rule.draws():
                        continue
                    rule.fired += 1
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times == 0:
                            self._rules.remove(rule)
                            self._rates = [r for r in self._rates if r.rule is not rule]
                            self._reindex()
                return rule
        return None


__all__ = ["COMMANDS", "END_OF_DATA", "Attempt", "FaultRule", "FaultRules"]
