"""Deterministic fault rules: set from the test thread, applied by the server."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from robot.utils import secs_to_timestr

from .errors import ConfigurationError
from .filters import compile_regex

END_OF_DATA = "END OF DATA"
COMMANDS = (
    "EHLO",
    "HELO",
    "AUTH",
    "STARTTLS",
    "MAIL",
    "RCPT",
    "DATA",
    END_OF_DATA,
    "RSET",
    "NOOP",
    "VRFY",
    "QUIT",
)
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


def validate_times(times: int | None) -> int | None:
    if times is not None and times < 1:
        raise ConfigurationError(
            f"'times' must be a positive number or None, got {times}."
        )
    return times


def _described(rule: str, times: int | None) -> str:
    lasting = (
        "until cleared"
        if times is None
        else f"{times} time" + ("" if times == 1 else "s")
    )
    return f"Fault rule: {rule}, {lasting}."


@dataclass
class _Rule:
    value: object
    times: int | None  # None: for as long as the rule is set
    pattern: re.Pattern[str] | None = None


class FaultRules:
    """The faults a test asked for; each rule applies a number of times or always."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._address_replies: dict[str, list[_Rule]] = {"MAIL": [], "RCPT": []}
        self._data_replies: list[_Rule] = []
        self._disconnects: dict[str, _Rule] = {}
        self._delays: dict[str, _Rule] = {}

    def __bool__(self) -> bool:
        return bool(
            self._address_replies["MAIL"]
            or self._address_replies["RCPT"]
            or self._data_replies
            or self._disconnects
            or self._delays
        )

    def clear(self) -> None:
        with self._lock:
            self._address_replies = {"MAIL": [], "RCPT": []}
            self._data_replies = []
            self._disconnects = {}
            self._delays = {}

    # Setting rules (test thread).

    # Every rule applies ``times`` times, or until cleared when ``times`` is
    # None (the default everywhere). Each method returns the rule, described.

    def reply_to_address(
        self, command: str, address_regex: str, reply: str, times: int | None = None
    ) -> str:
        pattern = compile_regex(address_regex, "the address pattern")
        rule = _Rule(validate_reply(reply), validate_times(times), pattern)
        with self._lock:
            self._address_replies[command].append(rule)
        return _described(
            f"{command} for addresses matching '{address_regex}' -> {rule.value}",
            times,
        )

    def reply_to_data(self, reply: str, times: int | None = None) -> str:
        rule = _Rule(validate_reply(reply), validate_times(times))
        with self._lock:
            self._data_replies.append(rule)
        return _described(f"end of data -> {rule.value} (not stored)", times)

    def disconnect_on(self, command: str, times: int | None = None) -> str:
        rule = _Rule(True, validate_times(times))
        name = normalize_command(command)
        with self._lock:
            self._disconnects[name] = rule
        return _described(f"{name} -> connection dropped without a reply", times)

    def delay_reply(
        self, command: str, seconds: float, times: int | None = None
    ) -> str:
        if seconds < 0:
            raise ConfigurationError(
                f"Delay must not be negative, got {seconds:g} seconds."
            )
        rule = _Rule(seconds, validate_times(times))
        name = normalize_command(command)
        with self._lock:
            self._delays[name] = rule
        return _described(f"{name} -> reply delayed {secs_to_timestr(seconds)}", times)

    # Applying rules (server thread). Each returns None when no rule applies.

    def reply_for_address(self, command: str, address: str) -> str | None:
        rules = self._address_replies[command]
        if not rules:
            return None
        with self._lock:
            for rule in rules:
                assert rule.pattern is not None
                if rule.pattern.search(address):
                    return str(self._use(rules, rule))
        return None

    def take_data_reply(self) -> str | None:
        if not self._data_replies:
            return None
        with self._lock:
            if self._data_replies:
                rule = self._data_replies[0]
                return str(self._use(self._data_replies, rule))
        return None

    def take_disconnect(self, command: str) -> bool:
        return self._take(self._disconnects, command) is not None

    def take_delay(self, command: str) -> float | None:
        delay = self._take(self._delays, command)
        return None if delay is None else float(delay)  # type: ignore[arg-type]

    def _take(self, rules: dict[str, _Rule], command: str) -> object | None:
        if command not in rules:
            return None
        with self._lock:
            rule = rules.get(command)
            if rule is None:
                return None
            if rule.times is not None:
                rule.times -= 1
                if rule.times == 0:
                    del rules[command]
            return rule.value

    @staticmethod
    def _use(rules: list[_Rule], rule: _Rule) -> object:
        if rule.times is not None:
            rule.times -= 1
            if rule.times == 0:
                rules.remove(rule)
        return rule.value


__all__ = ["COMMANDS", "END_OF_DATA", "FaultRules"]
