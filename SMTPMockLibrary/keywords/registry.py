"""The servers a test run has started: aliases, the current one, and their owners.

The library has GLOBAL scope, so a server started in ``__init__.robot`` is
seen by every suite below it. Each server belongs to the suite that started
it and stops when that suite ends, like a local variable of the suite.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigurationError, ServerError
from ..server import MockSMTPServer


@dataclass
class RunningServer:
    server: MockSMTPServer
    alias: str
    named: bool  # False: the alias is the number the registry gave it
    owner: str  # the id of the suite that started it, e.g. "s1-s2"
    reported_errors: int = 0


class ServerRegistry:
    """Running servers in the order they were started; one of them is current."""

    def __init__(self) -> None:
        self._running: list[RunningServer] = []
        self._current: RunningServer | None = None
        self._started = 0

    @property
    def current(self) -> RunningServer | None:
        return self._current

    @property
    def all(self) -> list[RunningServer]:
        return list(self._running)

    def find(self, alias: str) -> RunningServer | None:
        return next((r for r in self._running if r.alias == alias), None)

    def get(self, alias: str) -> RunningServer:
        running = self.find(str(alias))
        if running is None:
            raise ConfigurationError(
                f"No mock SMTP server called '{alias}'. Running: {self.describe()}."
            )
        return running

    def replaceable(self, alias: str | None, owner: str) -> RunningServer | None:
        """The current server, if starting ``alias`` in suite ``owner`` replaces it:
        same suite, and the same alias (or neither was given one)."""
        current = self._current
        if current is None or current.owner != owner:
            return None
        if alias is None:
            return None if current.named else current
        return current if current.alias == alias else None

    def add(
        self, server: MockSMTPServer, alias: str | None, owner: str
    ) -> RunningServer:
        """Register a started server as the current one. Without an alias it is
        called by its number: ``1``, ``2``..."""
        self._started += 1
        name = alias if alias is not None else str(self._started)
        running = RunningServer(server, name, alias is not None, owner)
        self._running.append(running)
        self._current = running
        return running

    def switch(self, alias: str) -> RunningServer:
        self._current = self.get(alias)
        return self._current

    def remove(self, running: RunningServer) -> None:
        """Forget a stopped server; the one started before it becomes current."""
        self._running.remove(running)
        if self._current is running:
            self._current = self._running[-1] if self._running else None
        if not self._running:
            self._started = 0  # numbering starts again, as browser indexes do

    def owned_by(self, suite_id: str) -> list[RunningServer]:
        return [r for r in self._running if r.owner == suite_id]

    def describe(self) -> str:
        if not self._running:
            return "none"
        return ", ".join(
            f"'{r.alias}' on port {r.server.port}"
            + (" (current)" if r is self._current else "")
            for r in self._running
        )

    def require_current(self) -> RunningServer:
        if self._current is None:
            raise ServerError(
                "The mock SMTP server is not running. Use 'Start Mock SMTP Server' first."
            )
        return self._current
