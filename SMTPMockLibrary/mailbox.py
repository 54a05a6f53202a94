"""The thread-safe store of received messages, and waiting for new ones."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from .filters import MessageFilter
from .message import ReceivedMessage

T = TypeVar("T")

# Waits sleep on the condition in slices this long, so that Robot Framework's
# own test timeouts can interrupt them; arrivals still wake them at once.
WAIT_SLICE = 0.2


@dataclass(frozen=True)
class Rejection:
    """A command the server answered with a 4xx or 5xx reply."""

    command: str
    argument: str
    reply: str
    peer: tuple[str, int] | None
    at: datetime = field(default_factory=datetime.now)

    def __str__(self) -> str:
        argument = f" {self.argument}" if self.argument else ""
        return f"{self.command}{argument} -> {self.reply}"


class WaitTimeout(AssertionError):
    ROBOT_SUPPRESS_NAME = True


class WaitInterrupted(Exception):
    """A wait ended before its timeout because nothing more can arrive."""


class Mailbox:
    """Messages in arrival order; written by the server thread, read by tests.

    Storing a message only appends it under a lock and wakes the waiters: no
    parsing happens until a test looks at the message.
    """

    def __init__(self, max_rejections: int = 1000):
        self._messages: list[ReceivedMessage] = []
        self._rejections: deque[Rejection] = deque(maxlen=max_rejections)
        self._rejection_count = 0
        self._sequence = 0
        self._generation = 0
        self._interruptions = 0
        self._interrupted_because = ""
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._waiting = 0  # threads in self._changed.wait()
        self._listeners: list[Callable[[ReceivedMessage], None]] = []
        self._reset_listeners: list[Callable[[], None]] = []
        self.listener_errors: list[Exception] = []

    # Writing: called on the server thread.

    def add(self, message: ReceivedMessage) -> ReceivedMessage:
        # The plain lock, and a wake-up only when someone waits: this runs
        # for every message.
        with self._lock:
            self._sequence += 1
            message.sequence = self._sequence
            self._messages.append(message)
            if self._waiting:
                self._changed.notify_all()
        for listener in self._listeners:
            try:
                listener(message)
            except Exception as error:  # a read-back service must never lose mail
                self.listener_errors.append(error)
        return message

    def add_listener(self, listener: Callable[[ReceivedMessage], None]) -> None:
        """Call ``listener(message)`` after each message is stored.

        It runs on the thread that stored the message (usually the server's
        event loop thread), so it must be quick and must not block: hand the
        work over, for example with ``loop.call_soon_threadsafe``. This is how
        IMAP IDLE and the HTTP API's live updates hear of new mail at once.
        """
        self._listeners = [*self._listeners, listener]

    def remove_listener(self, listener: Callable[[ReceivedMessage], None]) -> None:
        # == rather than is: each access to obj.method makes a new bound method.
        self._listeners = [x for x in self._listeners if x != listener]

    def add_reset_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after each reset that empties the mailbox, on
        the resetting thread, with the same rules as ``add_listener``: this is
        how IMAP sessions in IDLE hear of a reset at once."""
        self._reset_listeners = [*self._reset_listeners, listener]

    def remove_reset_listener(self, listener: Callable[[], None]) -> None:
        self._reset_listeners = [x for x in self._reset_listeners if x != listener]

    def add_rejection(self, rejection: Rejection) -> None:
        with self._changed:
            self._rejections.append(rejection)
            self._rejection_count += 1

    # Reading: called on the test thread.

    def __len__(self) -> int:
        return len(self._messages)

    def __iter__(self) -> Iterator[ReceivedMessage]:
        return iter(self.snapshot())

    def __getitem__(self, index: int) -> ReceivedMessage:
        return self._messages[index]

    def __repr__(self) -> str:
        return f"<Mailbox with {len(self)} message(s)>"

    @property
    def last_sequence(self) -> int:
        """The sequence number of the newest message ever stored (0 if none)."""
        return self._sequence

    def snapshot(self) -> list[ReceivedMessage]:
        with self._changed:
            return list(self._messages)

    def select(
        self, message_filter: MessageFilter | None = None
    ) -> list[ReceivedMessage]:
        messages = self.snapshot()
        if not message_filter:
            return messages
        test = message_filter.test
        return [m for m in messages if test(m)]

    def count(self, message_filter: MessageFilter | None = None) -> int:
        if not message_filter:
            return len(self._messages)
        return len(self.select(message_filter))

    def find(self, sequence: int) -> ReceivedMessage | None:
        """The stored message with this sequence number, if it is still there."""
        return next((m for m in self.snapshot() if m.sequence == sequence), None)

    def since(self, sequence: int) -> list[ReceivedMessage]:
        """Messages stored after the one with the given sequence number."""
        return [m for m in self.snapshot() if m.sequence > sequence]

    @property
    def rejections(self) -> list[Rejection]:
        with self._changed:
            return list(self._rejections)

    @property
    def rejection_count(self) -> int:
        return self._rejection_count

    def clear(self) -> None:
        with self._changed:
            self._messages.clear()
            self._rejections.clear()
            self._rejection_count = 0
            self._generation += 1
            self._changed.notify_all()
        for listener in self._reset_listeners:
            try:
                listener()
            except Exception as error:  # a read-back service must not fail a reset
                self.listener_errors.append(error)

    def interrupt_waits(self, reason: str) -> None:
        """End the waits for new mail running now: they raise
        ``WaitInterrupted(reason)`` (the server stopped: nothing will come)."""
        with self._changed:
            self._interruptions += 1
            self._interrupted_because = reason
            self._changed.notify_all()

    def wait_for_new_message(
        self,
        message_filter: MessageFilter,
        timeout: float,
        claimed: set[int] | None = None,
    ) -> ReceivedMessage | None:
        """The oldest matching message no earlier wait returned, waiting for one.

        The message is marked as claimed, so that the next wait for the same
        filter returns the next message, never this one again. ``claimed`` is
        an inbox's own memory (sequence numbers); without it, the message's
        server-wide ``claimed`` flag is the memory.
        """

        def is_claimed(message: ReceivedMessage) -> bool:
            if claimed is None:
                return message.claimed
            return message.sequence in claimed

        def find(new: list[ReceivedMessage], reset: bool) -> ReceivedMessage | None:
            for message in new:
                if not is_claimed(message) and message_filter(message):
                    with self._changed:
                        if not is_claimed(message):
                            if claimed is None:
                                message.claimed = True
                            else:
                                claimed.add(message.sequence)
                            return message
            return None

        return self._wait_until(find, timeout, interruptible=True)

    def wait_for_arrivals(
        self, after_sequence: int, timeout: float
    ) -> list[ReceivedMessage]:
        """Messages stored after ``after_sequence``, waiting up to ``timeout`` for one.

        Claims nothing: it is for watching the mailbox, not for tests' waits.
        """

        def newer(
            new: list[ReceivedMessage], reset: bool
        ) -> list[ReceivedMessage] | None:
            arrived = [m for m in new if m.sequence > after_sequence]
            return arrived or None

        return self._wait_until(newer, timeout) or []

    def wait_for_any(
        self, message_filter: MessageFilter, timeout: float
    ) -> list[ReceivedMessage]:
        """The matching messages, as soon as there is one, waiting up to
        ``timeout`` seconds; an empty list when none came."""

        def matching(
            new: list[ReceivedMessage], reset: bool
        ) -> list[ReceivedMessage] | None:
            return [m for m in new if message_filter(m)] or None

        return self._wait_until(matching, timeout) or []

    def wait_for_count(
        self, expected: int, message_filter: MessageFilter, timeout: float
    ) -> bool:
        """Wait until exactly ``expected`` messages match; report whether they did."""
        matched = 0

        def reached(new: list[ReceivedMessage], reset: bool) -> bool | None:
            nonlocal matched
            if reset:
                matched = 0
            matched += (
                sum(1 for m in new if message_filter(m)) if message_filter else len(new)
            )
            return True if matched == expected else None

        return bool(self._wait_until(reached, timeout, interruptible=True))

    def _wait_until(
        self,
        check: Callable[[list[ReceivedMessage], bool], T | None],
        timeout: float,
        interruptible: bool = False,
    ) -> T | None:
        """Give ``check`` the stored messages, then each batch of new arrivals,
        until it returns something or ``timeout`` seconds pass; an
        ``interruptible`` wait raises ``WaitInterrupted`` when
        ``interrupt_waits()`` is called meanwhile.

        ``check`` runs outside the lock, so parsing a message never holds up
        the server thread storing the next one.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            interruptions = self._interruptions
            generation = self._generation
            seen = len(self._messages)
            new = list(self._messages)
        reset = False
        while True:
            result = check(new, reset)
            if result is not None:
                return result
            with self._changed:
                while seen == len(self._messages) and generation == self._generation:
                    if interruptible and interruptions != self._interruptions:
                        raise WaitInterrupted(self._interrupted_because)
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._waiting += 1
                    try:
                        self._changed.wait(min(remaining, WAIT_SLICE))
                    finally:
                        self._waiting -= 1
                reset = generation != self._generation
                if reset:
                    generation, seen = self._generation, 0
                new = self._messages[seen:]
                seen = len(self._messages)
