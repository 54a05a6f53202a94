"""The keywords over Robot Framework's Remote library interface.

``smtpmock --remote 8270`` serves them; a suite on another machine uses::

    Library    Remote    http://mail-mock-host:8270

Returned messages, attachments and rejections cross the interface as
dictionaries with the attribute names as keys, so ``${msg.subject}`` still
works; a message dictionary can be passed back to keywords that take a message.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict
from datetime import datetime
from typing import Any

from robot.running.arguments import PythonArgumentParser
from robot.utils import printable_name

from .library import SMTPMockLibrary, message_argument
from .mailbox import Rejection
from .message import Attachment, ReceivedMessage


class RemoteSMTPMockLibrary:
    """A dynamic library wrapping :class:`SMTPMockLibrary` for ``robotremoteserver``."""

    def __init__(self, library: SMTPMockLibrary):
        self.library = library
        self._keywords = {
            getattr(method, "robot_name", None)
            or printable_name(name, code_style=True): method
            for name, method in inspect.getmembers(library, inspect.ismethod)
            if hasattr(method, "robot_name")
        }

    def get_keyword_names(self) -> list[str]:
        return sorted(self._keywords)

    def get_keyword_arguments(self, name: str) -> list[str]:
        spec = PythonArgumentParser().parse(self._keywords[name])
        arguments = [
            f"{arg}={spec.defaults[arg]}" if arg in spec.defaults else arg
            for arg in spec.positional
        ]
        if spec.var_named:
            arguments.append(f"**{spec.var_named}")
        return arguments

    def get_keyword_documentation(self, name: str) -> str:
        if name == "__intro__":
            return inspect.getdoc(SMTPMockLibrary) or ""
        if name == "__init__":
            return inspect.getdoc(SMTPMockLibrary.__init__) or ""
        return inspect.getdoc(self._keywords[name]) or ""

    def run_keyword(self, name: str, args: list, kwargs: dict | None = None) -> Any:
        method = self._keywords[name]
        spec = PythonArgumentParser().parse(method)
        positional = [self._message_or_value(a) for a in args]
        named = [(k, self._message_or_value(v)) for k, v in (kwargs or {}).items()]
        positional, named = spec.convert(positional, named)
        return to_remote(method(*positional, **dict(named)))

    def _message_or_value(self, value: Any) -> Any:
        if isinstance(value, dict) and "sequence" in value and "sender" in value:
            return message_argument(value, self.library)
        return value


def to_remote(value: Any) -> Any:
    """Plain data that XML-RPC can carry."""
    if isinstance(value, ReceivedMessage):
        return value.to_dict()
    if isinstance(value, Attachment):
        return {**asdict(value), "size": value.size}
    if isinstance(value, Rejection):
        return {
            **asdict(value),
            "peer": list(value.peer or ()),
            "at": value.at.isoformat(),
        }
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_remote(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_remote(item) for key, item in value.items()}
    return "" if value is None else value
