"""Sessions made cheaply: aiosmtpd's ``SMTP.__init__`` without its
per-session introspection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .protocol import MockHandler, MockSMTP


class SessionFactory:
    """Makes sessions as aiosmtpd's ``SMTP.__init__`` would, without its
    per-session introspection (``inspect.getmembers``, ``dir``: 90 % of the
    cost of a new connection).

    One prototype session is built the full aiosmtpd way; each new session
    gets a fresh stream reader and protocol state, the prototype's
    configuration (containers copied), and its method tables bound to itself.
    The fast path's state is the prototype's, which never had a connection.
    ``utest/test_differential.py`` checks that the result equals a session
    built by ``SMTP.__init__``.
    """

    def __init__(self, handler: MockHandler, **options: Any):
        prototype = MockSMTP(handler, **options)
        self.loop = prototype.loop
        connection_state = set(
            vars(
                asyncio.StreamReaderProtocol(
                    asyncio.StreamReader(loop=self.loop),
                    client_connected_cb=lambda reader, writer: None,
                    loop=self.loop,
                )
            )
        )
        self._shared: dict[str, Any] = {}
        self._copied: dict[str, Any] = {}
        self._rebound: dict[str, Callable[[object], Any]] = {}
        for name, value in vars(prototype).items():
            if name in connection_state:
                continue
            if _bound_to(value, prototype) or (
                isinstance(value, dict)
                and any(_bound_to(_method_of(v), prototype) for v in value.values())
            ):  # a method, or a table of them (_smtp_methods, _auth_methods)
                self._rebound[name] = _rebinder(value, prototype)
            elif isinstance(value, (dict, list, set)):
                self._copied[name] = value
            else:
                self._shared[name] = value
        prototype._release()  # it holds the server's state, as a session does

    def __call__(self) -> MockSMTP:
        session = MockSMTP.__new__(MockSMTP)
        session._attach_reader(self.loop)
        attributes = vars(session)
        attributes.update(self._shared)
        for name, value in self._copied.items():
            attributes[name] = value.copy()
        for name, rebind in self._rebound.items():
            attributes[name] = rebind(session)
        MockSMTP.command_size_limits.clear()  # as every SMTP.__init__ does
        return session


class _BoundTable(Mapping[str, Any]):
    """One of aiosmtpd's tables of a session's methods (its smtp_* commands,
    its AUTH mechanisms), each entry bound to the session when looked up:
    most sessions never look one up."""

    __slots__ = ("_makers", "_owner")

    def __init__(self, owner: object, makers: dict[str, Callable[[object], Any]]):
        self._owner, self._makers = owner, makers

    def __getitem__(self, key: str) -> Any:
        return self._makers[key](self._owner)

    def __contains__(self, key: object) -> bool:
        return key in self._makers

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)


def _method_of(value: Any) -> Any:
    # aiosmtpd's _auth_methods holds (method, is_builtin) named tuples.
    return value[0] if isinstance(value, tuple) and value else value


def _bound_to(value: Any, owner: object) -> bool:
    return getattr(value, "__self__", None) is owner


def _rebinder(value: Any, prototype: object) -> Callable[[object], Any]:
    """A function giving ``value`` as it is for another session: methods of
    the prototype bound to that session instead."""
    if isinstance(value, dict):
        makers = {key: _rebinder(item, prototype) for key, item in value.items()}
        return lambda owner: _BoundTable(owner, makers)
    if isinstance(value, tuple) and value and _bound_to(value[0], prototype):
        kind, name, rest = type(value), value[0].__func__.__name__, value[1:]
        return lambda owner: kind(getattr(owner, name), *rest)
    if _bound_to(value, prototype):
        method_name = value.__func__.__name__
        return lambda owner: getattr(owner, method_name)
    return lambda owner: value
