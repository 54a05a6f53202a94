"""Checks of the arguments the Python API is given: a value of the wrong
type is a ``ConfigurationError`` naming the argument and what it got, not a
``TypeError`` from deep inside (Robot Framework converts keyword arguments
before they get here)."""

from __future__ import annotations

import math
import numbers

from .errors import ConfigurationError


def whole_number(value: object, name: str, wanted: str = "a whole number") -> int:
    """``value`` as an int, if it is one (a bool is not): else a clear error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise wrong_type(name, wanted, value)
    return int(value)


def real_number(value: object, name: str, wanted: str) -> float:
    """``value`` as a float, if it is a number (a bool is not): else a clear
    error saying it should be ``wanted``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise wrong_type(name, wanted, value)
    return float(value)


def seconds_argument(value: object, name: str) -> float:
    """``value`` as seconds, if it is a finite number (a bool is not)."""
    seconds = real_number(value, name, "a number of seconds")
    if not math.isfinite(seconds):
        raise ConfigurationError(
            f"'{name}' must be a finite number of seconds, got {seconds:g}."
        )
    return seconds


def wrong_type(name: str, wanted: str, value: object) -> ConfigurationError:
    return ConfigurationError(
        f"'{name}' must be {wanted}, got {value!r} ({type(value).__name__})."
    )
