"""The keywords over Robot Framework's Remote library interface.

``smtpmock --remote 8270`` serves them; a suite on another machine uses::

    Library    Remote    http://mail-mock-host:8270

Returned messages, attachments, rejections and fault rules cross the
interface as dictionaries with the attribute names as keys, so
``${msg.subject}`` still works. A message dictionary passed back to a keyword
that takes a message stands for the very message it came from (its
``handle``), on whichever server, also after a reset. What the dictionaries
cannot do: ``headers`` is a plain dictionary (keys as the message writes
them), and a rule's ``fired`` is counted when the keyword returned it.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Any

from robot.api import logger as robot_logger
from robot.running.arguments import PythonArgumentParser

from .faults import FaultRule
from .keywords.base import message_argument
from .library import SMTPMockLibrary
from .mailbox import Rejection
from .message import Attachment, ReceivedMessage


class RemoteSMTPMockLibrary:
    """A dynamic library wrapping :class:`SMTPMockLibrary` for ``robotremoteserver``.

    What the keywords log reaches the caller's log.html: Robot's Remote
    library shows what a keyword printed, and ``*HTML*``/``*WARN*`` prefixes
    keep the message cards and warnings what they are.
    """

    KEPT_MESSAGES = 10_000

    def __init__(self, library: SMTPMockLibrary):
        self.library = library
        self._returned: OrderedDict[str, ReceivedMessage] = OrderedDict()
        """The messages returned lately, by handle: what a dictionary passed
        back stands for (the newest KEPT_MESSAGES)."""

    def get_keyword_names(self) -> list[str]:
        return sorted(self.library.get_keyword_names())

    def get_keyword_arguments(self, name: str) -> list[str]:
        """The arguments in Robot's syntax: ``a, /, b=1, *rest, c, **named``."""
        spec = PythonArgumentParser().parse(self.library.keywords[name])

        def with_default(arg: str) -> str:
            return f"{arg}={spec.defaults[arg]}" if arg in spec.defaults else arg

        arguments = [with_default(arg) for arg in spec.positional_only]
        if spec.positional_only:
            arguments.append("/")
        arguments += [with_default(arg) for arg in spec.positional_or_named]
        if spec.var_positional:
            arguments.append(f"*{spec.var_positional}")
        elif spec.named_only:
            arguments.append("*")
        arguments += [with_default(arg) for arg in spec.named_only]
        if spec.var_named:
            arguments.append(f"**{spec.var_named}")
        return arguments

    def get_keyword_documentation(self, name: str) -> str:
        return self.library.get_keyword_documentation(name)

    def run_keyword(self, name: str, args: list, kwargs: dict | None = None) -> Any:
        method = self.library.keywords[name]
        spec = PythonArgumentParser().parse(method)
        positional = [self._message_or_value(a) for a in args]
        named = [(k, self._message_or_value(v)) for k, v in (kwargs or {}).items()]
        positional, named = spec.convert(positional, named)
        with _logging_to_stdout():
            self.library.report_server_errors()
            return to_remote(method(*positional, **dict(named)), self._handle)

    def _handle(self, message: ReceivedMessage) -> str:
        handle = f"{id(message):x}"  # unique while the message is kept here
        self._returned[handle] = message
        self._returned.move_to_end(handle)
        while len(self._returned) > self.KEPT_MESSAGES:
            self._returned.popitem(last=False)
        return handle

    def _message_or_value(self, value: Any) -> Any:
        if isinstance(value, dict) and "sequence" in value and "sender" in value:
            kept = self._returned.get(str(value.get("handle")))
            return kept if kept is not None else message_argument(value)
        return value


# Robot's Remote library splits what a keyword prints into messages at each
# line that starts like this (robot.output.stdoutlogsplitter). A line of an
# e-mail that does (``*HTML* <img onerror=...>``) must stay text of its own
# message: an invisible zero-width space before it keeps it from splitting.
_LEVEL_MARKER = re.compile(
    r"^(?=\*(?:TRACE|DEBUG|INFO|CONSOLE|HTML|WARN|ERROR)(?::\d+(?:\.\d+)?)?\*)",
    re.MULTILINE | re.IGNORECASE,
)
_NO_MARKER = "\u200b"


@contextmanager
def _logging_to_stdout() -> Iterator[None]:
    """Keyword logging as Remote's protocol carries it: ``*LEVEL* text`` on stdout."""
    original = robot_logger.write

    def write(msg: str, level: str = "INFO", html: bool = False, *_: Any) -> None:
        level = "HTML" if html and level == "INFO" else level.upper()
        print(f"*{level}* {_LEVEL_MARKER.sub(_NO_MARKER, msg)}")

    robot_logger.write = write  # type: ignore[assignment]
    try:
        yield
    finally:
        robot_logger.write = original  # type: ignore[assignment]


def to_remote(value: Any, handle: Callable[[ReceivedMessage], str]) -> Any:
    """Plain data that XML-RPC can carry; ``handle`` names a message so that
    its dictionary, passed back, finds it again."""
    if isinstance(value, ReceivedMessage):
        return {**value.to_dict(), "handle": handle(value)}
    if isinstance(value, Attachment):
        return {**asdict(value), "size": value.size}
    if isinstance(value, Rejection):
        return {
            **asdict(value),
            "peer": list(value.peer or ()),
            "at": value.at.isoformat(),
        }
    if isinstance(value, FaultRule):
        return {
            "action": value.action,
            "command": value.command,
            "reply": value.reply or "",
            "times": "" if value.times is None else value.times,
            "fired": value.fired,
            "description": str(value),
        }
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_remote(item, handle) for item in value]
    if isinstance(value, dict):
        return {str(key): to_remote(item, handle) for key, item in value.items()}
    return "" if value is None else value
