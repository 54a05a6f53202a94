"""Faults over HTTP: Mailpit's chaos triggers, and this library's own fault rules.

Mailpit's chaos fails a share of commands at random. Here every fault is
deterministic: a trigger with ``Probability`` 100 fails every time, 0 never.
Other probabilities are refused (with 400) rather than approximated, so that a
test never passes or fails by chance.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationError
from ..faults import FaultRules

_TRIGGERS = {
    # Mailpit's trigger: (default error code, our SMTP command)
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

    def get(self) -> dict:
        if not self.faults:  # cleared by a reset or a keyword since it was set
            self._config = _zero_config()
        return self._config

    def set(self, request: Any) -> dict:
        """Replace every fault rule with the triggers of ``request``."""
        if request is None:
            request = {}
        if not isinstance(request, dict):
            raise FaultRequestError("The chaos request must be a JSON object.")
        config = {}
        for name, (default_code, _command) in _TRIGGERS.items():
            trigger = request.get(name) or {}
            if not isinstance(trigger, dict):
                raise FaultRequestError(f"{name} must be an object.")
            code = _integer(trigger, "ErrorCode", name) or default_code
            probability = _integer(trigger, "Probability", name)
            if not 400 <= code <= 599:
                raise FaultRequestError("error code must be between 400 and 599")
            if probability not in (0, 100):
                raise FaultRequestError(
                    f"{name}.Probability {probability} is not supported: SMTPMockLibrary "
                    "faults are deterministic, so use 100 (always) or 0 (never)."
                )
            if probability and name == "Authentication":
                raise FaultRequestError(
                    "The Authentication trigger is not supported yet: SMTPMockLibrary "
                    "can fail MAIL (Sender) and RCPT (Recipient)."
                )
            config[name] = {"ErrorCode": code, "Probability": probability}
        self.faults.clear()
        for name, (_code, command) in _TRIGGERS.items():
            if config[name]["Probability"]:
                reply = f"{config[name]['ErrorCode']} Chaos triggered ({name})"
                self.faults.reply_to_address(command, ".*", reply, times=None)
        self._config = config
        return config


def add_fault(faults: FaultRules, request: Any) -> None:
    """Add one of this library's fault rules (an extension to Mailpit's API).

    ``{"Action": "reply", "Command": "RCPT", "Address": "bob@", "Reply": "550 No", "Times": 1}``
    ``{"Action": "reply", "Command": "DATA", "Reply": "451 Try later"}``
    ``{"Action": "disconnect", "Command": "DATA", "Times": 1}``
    ``{"Action": "delay", "Command": "RCPT", "Seconds": 2}``
    """
    if not isinstance(request, dict):
        raise FaultRequestError("The fault request must be a JSON object.")
    action = str(request.get("Action", "")).lower()
    command = str(request.get("Command", ""))
    times = request.get("Times")
    if times is not None and not isinstance(times, int):
        raise FaultRequestError("Times must be a whole number or null.")
    try:
        if action == "reply" and command.upper() in ("MAIL", "RCPT"):
            address = str(request.get("Address") or ".*")
            faults.reply_to_address(
                command.upper(), address, str(request.get("Reply", "")), times
            )
        elif action == "reply" and command.upper() in ("DATA", "END OF DATA"):
            faults.reply_to_data(
                str(request.get("Reply", "")), 1 if times is None else times
            )
        elif action == "disconnect":
            faults.disconnect_on(command, 1 if times is None else times)
        elif action == "delay":
            seconds = request.get("Seconds")
            if not isinstance(seconds, (int, float)):
                raise FaultRequestError("Seconds must be a number.")
            faults.delay_reply(command, float(seconds), times)
        else:
            raise FaultRequestError(
                "Action must be 'reply' (Command MAIL, RCPT or DATA), 'disconnect' "
                f"or 'delay', got Action '{action}' and Command '{command}'."
            )
    except ConfigurationError as error:
        raise FaultRequestError(str(error)) from None


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
