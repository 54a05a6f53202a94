"""Per-user views of a server's mailbox, shared by the IMAP and POP3 services.

Every envelope recipient has a maildrop holding the messages addressed to
them (Bcc included); the catch-all login ``*`` sees every message once. What
a user did over IMAP or POP3 (flags, expunge, POP3 deletion) is recorded
here per user, for the suite to check, and never touches the server's
mailbox: nothing the server accepted is lost.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..errors import ConfigurationError
from ..mailbox import Mailbox
from ..message import ReceivedMessage

CATCH_ALL = "*"
SEEN = "\\Seen"
DELETED = "\\Deleted"
EXPUNGED = "expunged"
POP3_DELETED = "pop3-deleted"

Observer = Callable[[str, ReceivedMessage, str], None]


@dataclass
class _State:
    flags: set[str] = field(default_factory=set)
    removed: str | None = None  # EXPUNGED or POP3_DELETED


class Maildrops:
    """The maildrops of one server: who sees which message, and what they did.

    ``passwords`` gives the password a login must use, or ``None`` when any
    password is accepted for it. Thread-safe: the services change it on the
    server thread, tests read it on theirs.
    """

    def __init__(self, mailbox: Mailbox, passwords: Callable[[str], str | None]):
        self.mailbox = mailbox
        self._passwords = passwords
        self._states: dict[tuple[str, int], _State] = {}
        self._lock = threading.Lock()
        self._observers: list[Observer] = []
        # UIDL values must not repeat across servers: clients such as
        # fetchmail remember them between runs.
        self.uidl_prefix = secrets.token_hex(4)

    # Logins.

    def login(self, user: str, password: str) -> str | None:
        """The maildrop name for a good login, ``None`` for a wrong password."""
        expected = self._passwords(user)
        if expected is not None and not secrets.compare_digest(
            expected.encode(), password.encode()
        ):
            return None
        return normalize_login(user)

    # What a user sees.

    def receives(self, login: str, message: ReceivedMessage) -> bool:
        return login == CATCH_ALL or login in message.recipients_lowercase

    def messages(self, login: str) -> list[ReceivedMessage]:
        """The messages in ``login``'s maildrop that it has not deleted."""
        with self._lock:
            states = dict(self._states)
        return [
            m
            for m in self.mailbox.snapshot()
            if self.receives(login, m)
            and not getattr(states.get((login, m.sequence)), "removed", None)
        ]

    def flags(self, login: str, message: ReceivedMessage) -> frozenset[str]:
        with self._lock:
            state = self._states.get((login, message.sequence))
            return frozenset(state.flags) if state else frozenset()

    # What a user did.

    def set_flags(
        self, login: str, message: ReceivedMessage, flags: Iterable[str], origin: str
    ) -> None:
        with self._lock:
            state = self._states.setdefault((login, message.sequence), _State())
            state.flags = set(flags)
        self._notify(login, message, origin)

    def add_flag(
        self, login: str, message: ReceivedMessage, flag: str, origin: str
    ) -> None:
        self.set_flags(login, message, self.flags(login, message) | {flag}, origin)

    def remove(
        self, login: str, message: ReceivedMessage, how: str, origin: str
    ) -> None:
        """Take ``message`` out of ``login``'s view (``how``: EXPUNGED or POP3_DELETED)."""
        with self._lock:
            state = self._states.setdefault((login, message.sequence), _State())
            state.flags.add(DELETED)
            state.removed = how
        self._notify(login, message, origin)

    def status(self, message: ReceivedMessage, user: str | None = None) -> list[str]:
        """``message``'s flags for ``user``, and ``expunged`` or ``pop3-deleted``
        once that user removed it. ``user`` may be left out for a message with
        a single recipient."""
        login = self._recipient(message, user)
        with self._lock:
            state = self._states.get((login, message.sequence))
            if state is None:
                return []
            extra = [state.removed] if state.removed else []
            return sorted(state.flags) + extra

    def _recipient(self, message: ReceivedMessage, user: str | None) -> str:
        if user is None or user == "":
            if len(message.recipients_lowercase) != 1:
                raise ConfigurationError(
                    f"Message #{message.sequence} has several recipients "
                    f"({', '.join(message.recipients)}): name the user whose "
                    "flags you want."
                )
            return next(iter(message.recipients_lowercase))
        login = normalize_login(user)
        if not self.receives(login, message):
            raise ConfigurationError(
                f"'{user}' is not a recipient of message #{message.sequence} "
                f"(recipients: {', '.join(message.recipients)})."
            )
        return login

    # Keeping several services in step.

    def add_observer(self, observer: Observer) -> None:
        """Call ``observer(login, message, origin)`` after each change."""
        self._observers = [*self._observers, observer]

    def remove_observer(self, observer: Observer) -> None:
        self._observers = [x for x in self._observers if x != observer]

    def _notify(self, login: str, message: ReceivedMessage, origin: str) -> None:
        for observer in self._observers:
            observer(login, message, origin)


def normalize_login(user: str) -> str:
    """``<Alice@Example.com>`` -> ``alice@example.com``; ``*`` stays ``*``."""
    return user.strip().strip("<>").lower()
