"""Faults over HTTP: Mailpit's chaos triggers, and this library's own fault rules.

Mailpit's chaos fails a share of commands at random, differently on every run.
Here a trigger becomes a fault rule (see :mod:`SMTPMockLibrary.faults`):
``Probability`` 100 fails every time, 0 never, and anything between fails at
random but seeded, so the same sequence of failures comes on every run (the
seed is 0 unless the request gives ``Seed``, an extension). Setting chaos
replaces every fault rule of the server, as Mailpit's chaos replaces its own.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationError
from ..faults import FaultRule, FaultRules

# Mailpit's trigger: its default error code, and what it fails here.
_TRIGGERS = {
    "Sender": (451, "MAIL"),
    "Recipient": (451, "RCPT"),
    "Authentication": (535, "AUTH"),
}


class FaultRequestError(ValueError):
    """A chaos or fault request that cannot be applied; the text says why."""


class Chaos:
    """Mailpit's ``/api/v1/chaos`` over a server's fault rules."""

    def __init__(self, faults: FaultRules):
        self.faults = faults
        self._config = _zero_config()
        self._rules: dict[str, FaultRule] = {}

    def get(self) -> dict:
        """The triggers, a trigger showing 0 once its rule is gone (cleared, reset)."""
        active = self.faults.rules
        for name, rule in list(self._rules.items()):
            if not any(rule is r for r in active):
                del self._rules[name]
                self._config[name] = {**self._config[name], "Probability": 0}
        return self._config

    def set(self, request: Any) -> dict:
        """Replace every fault rule with the triggers of ``request``."""
        request = {} if request is None else request
        if not isinstance(request, dict):
            raise FaultRequestError("The chaos request must be a JSON object.")
        seed = request.get("Seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise FaultRequestError("Seed must be a whole number.")
        config = {}
        for name, (default_code, _command) in _TRIGGERS.items():
            trigger = request.get(name) or {}
            if not isinstance(trigger, dict):
                raise FaultRequestError(f"{name} must be an object.")
            code = _integer(trigger, "ErrorCode", name) or default_code
            probability = _integer(trigger, "Probability", name)
            if not 400 <= code <= 599:
                raise FaultRequestError("error code must be between 400 and 599")
            if not 0 <= probability <= 100:
                raise FaultRequestError("probability must be between 0 and 100")
            config[name] = {"ErrorCode": code, "Probability": probability}
        self.faults.clear()
        self._rules = {}
        for name, (_code, command) in _TRIGGERS.items():
            code, probability = config[name]["ErrorCode"], config[name]["Probability"]
            if not probability:
                continue
            chance = None if probability == 100 else probability / 100
            reply = f"{code} Chaos triggered ({name})"
            if command == "AUTH":
                rule = self.faults.reply_to_auth(reply, probability=chance, seed=seed)
            else:
                rule = self.faults.reply_to_address(
                    command, ".*", reply, probability=chance, seed=seed
                )
            self._rules[name] = rule
        self._config = config
        return config


def add_fault(faults: FaultRules, request: Any) -> FaultRule:
    """Add one of this library's fault rules (an extension to Mailpit's API).

    ``{"Action": "reply", "Command": "RCPT", "Address": "bob@", "Reply": "550 No"}``,
    ``{"Action": "reply", "Command": "DATA", "Reply": "451 Later", "Times": 1}``,
    ``{"Action": "reply", "Command": "AUTH", "Reply": "535 No", "User": "alice"}``,
    ``{"Action": "disconnect", "Command": "DATA"}``,
    ``{"Action": "delay", "Command": "RCPT", "Seconds": 2}``; each may add
    ``Times``, ``Probability`` (0 to 1) and ``Seed``. A rule lasts until
    cleared unless ``Times`` says how often it fires.
    """
    if not isinstance(request, dict):
        raise FaultRequestError("The fault request must be a JSON object.")
    action = str(request.get("Action", "")).lower()
    command = str(request.get("Command", "")).upper()
    options = _options(request)
    reply = str(request.get("Reply", ""))
    try:
        if action == "reply" and command in ("MAIL", "RCPT"):
            address = str(request.get("Address") or ".*")
            return faults.reply_to_address(command, address, reply, **options)
        if action == "reply" and command in ("DATA", "END OF DATA"):
            return faults.reply_to_data(reply, **options)
        if action == "reply" and command == "AUTH":
            return faults.reply_to_auth(reply, request.get("User"), **options)
        if action == "disconnect":
            return faults.disconnect_on(command, **options)
        if action == "delay":
            seconds = request.get("Seconds")
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
                raise FaultRequestError("Seconds must be a number.")
            return faults.delay_reply(command, float(seconds), **options)
    except ConfigurationError as error:
        raise FaultRequestError(str(error)) from None
    raise FaultRequestError(
        "Action must be 'reply' (Command MAIL, RCPT, DATA or AUTH), 'disconnect' "
        f"or 'delay', got Action '{action}' and Command '{command}'."
    )


def rules_json(faults: FaultRules) -> list[dict]:
    return [{"Rule": rule.summary(), "Fired": rule.fired} for rule in faults.rules]


def _options(request: dict) -> dict:
    options: dict[str, Any] = {}
    for field, name, kinds in (
        ("Times", "times", (int,)),
        ("Probability", "probability", (int, float)),
        ("Seed", "seed", (int,)),
    ):
        value = request.get(field)
        if value is None:
            continue
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise FaultRequestError(f"{field} must be a number or null.")
        options[name] = value
    return options


def _integer(trigger: dict, field: str, name: str) -> int:
    value = trigger.get(field, 0)
    if not isinstance(value, int) or isinstance(value, bool):
        raise FaultRequestError(f"{name}.{field} must be a whole number.")
    return value


def _zero_config() -> dict:
    return {
        name: {"ErrorCode": code, "Probability": 0}
        for name, (code, _command) in _TRIGGERS.items()
    }
