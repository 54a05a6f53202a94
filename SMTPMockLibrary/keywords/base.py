"""What every keyword component shares: the current server, messages, timeouts."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from robot.api import logger
from robot.utils import secs_to_timestr, timestr_to_secs

from ..errors import ConfigurationError
from ..filters import MessageFilter
from ..message import ReceivedMessage
from ..queries import MessageQueries, check_timeout
from ..server import MockSMTPServer

if TYPE_CHECKING:
    from ..library import SMTPMockLibrary

try:  # Robot Framework 7.4 and newer: passwords that are never logged
    from robot.api.types import Secret
except ImportError:  # pragma: no cover - older Robot Framework 7.x
    Secret = str  # type: ignore[misc,assignment]


class MessageNumber(int):
    """A message given by its sequence number, looked up when the keyword runs.

    Converting an argument must not need a running server: ``robot --dryrun``
    converts arguments without running anything.
    """


def message_argument(value: int | str | dict) -> MessageNumber:
    """Converter for keywords taking a message: accept its number or its
    dictionary (as the Remote interface returns it)."""
    if isinstance(value, dict) and "sequence" in value:
        value = value["sequence"]
    try:
        return MessageNumber(int(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(
            f"Expected a received message or its number, got "
            f"{type(value).__name__} '{value}'."
        ) from None


class Duration(timedelta):
    """A time argument that remembers how the user wrote it, for error messages."""

    written: str


def duration_argument(value: str | int | float) -> Duration:
    """A time interval in one of the formats Robot Framework supports:

    - a number of seconds like ``42`` or ``10.5``
    - a time string like ``1 minute 30 seconds`` or ``1min 30s``
    - a "timer" string like ``01:30`` (1 minute 30 seconds)

    See the
    [https://robotframework.org/robotframework/latest/RobotFrameworkUserGuide.html#time-format|User Guide].
    A timeout must not be negative: the error shows the value as written.
    """
    duration = Duration(seconds=timestr_to_secs(value, round_to=None))
    duration.written = str(value)
    return duration


def not_negative(value: timedelta | str, name: str = "timeout") -> float:
    """``value`` in seconds; when negative, an error showing it as written."""
    seconds = (
        value.total_seconds()
        if isinstance(value, timedelta)
        else timestr_to_secs(value, round_to=None)
    )
    written = getattr(value, "written", None) or (
        value if isinstance(value, str) else f"{seconds:g} seconds"
    )
    return check_timeout(seconds, name, written)


def plain(value: Any) -> Any:
    """A password given as Robot Framework's ``Secret``, as plain text."""
    return value.value if Secret is not str and isinstance(value, Secret) else value


class LibraryComponent:
    """A group of keywords; all of them act on the library's current server."""

    def __init__(self, library: SMTPMockLibrary):
        self.library = library

    @property
    def server(self) -> MockSMTPServer:
        """The current server; a clear error when none runs."""
        return self.library.registry.require_current().server

    def view(self, inbox: str | None) -> MessageQueries:
        """The current server, or its inbox called ``inbox``."""
        return self.server if inbox is None else self.server.inbox(inbox)

    def message(self, message: ReceivedMessage | int) -> ReceivedMessage:
        """The message itself, or the current server's message with that number."""
        if isinstance(message, ReceivedMessage):
            return message
        found = self.server.messages.find(int(message))
        if found is None:
            held = self.server.messages.snapshot()
            holds = (
                f"it holds #{held[0].sequence} to #{held[-1].sequence}"
                if held
                else "it is empty"
            )
            raise ConfigurationError(
                f"No message #{message} in the mailbox: {holds}. A reset empties "
                f"it; a message kept in a variable stays readable."
            )
        return found

    def seconds(self, timeout: timedelta | None) -> float:
        """The timeout in seconds; the library's default when not given."""
        return self.library.timeout if timeout is None else not_negative(timeout)


def failure_message(msg: str | None, filters: dict[str, str]) -> str | None:
    """``msg``, or the deprecated ``error`` that the waits used to take."""
    error = filters.pop("error", None)
    if error is not None:
        logger.warn("The 'error' argument is deprecated: use 'msg' instead.")
    return msg if msg is not None else error


def timestr(seconds: float) -> str:
    return secs_to_timestr(seconds)


def filter_description(filters: dict[str, str]) -> str:
    return MessageFilter(filters).describe()
