"""Queries, waits and checks over a view of the mailbox: the whole server's, or an inbox's.

Each check raises ``AssertionError`` with a message that says what was
expected and lists what arrived; ``msg`` replaces it. Each view has its own
memory of what its waits returned, so a wait never returns a message an
earlier wait of the same view returned.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from robot.utils import secs_to_timestr

from .arguments import seconds_argument, whole_number
from .errors import ConfigurationError
from .files import save_messages
from .filters import MessageFilter
from .listing import count_text, listing
from .mailbox import Mailbox, WaitInterrupted
from .message import ReceivedMessage


class ViewFilter(MessageFilter):
    """The user's filters, limited to the messages of one view (an inbox)."""

    def __init__(
        self,
        filters: dict[str, str],
        belongs: Callable[[ReceivedMessage], bool],
        view: str,
    ):
        super().__init__(filters)
        test = self.test
        self.test = (lambda m: belongs(m) and test(m)) if self._tests else belongs
        self.view = view

    def __bool__(self) -> bool:
        return True

    def describe(self) -> str:
        """``inbox=signup, subject=Hi``, for failure messages."""
        own = super().describe()
        return self.view if own == "no filter" else f"{self.view}, {own}"


class MessageQueries:
    """What the server and each inbox answer about their messages.

    Subclasses set ``messages`` (the one mailbox); an inbox narrows the view
    (``_where``, ``_in_view``) and keeps its own wait memory in ``_claimed``.
    """

    messages: Mailbox
    _claimed: set[int] | None = None  # None: the server-wide memory

    def _where(self, filters: dict[str, str]) -> MessageFilter:
        return MessageFilter(filters)

    def _in_view(self) -> list[ReceivedMessage]:
        return self.messages.snapshot()

    def _listing(
        self, wanted: MessageFilter | None = None, counted: bool = False
    ) -> str:
        return listing(self._in_view(), wanted, self._claimed, counted)

    def get_messages(self, **filters: str) -> list[ReceivedMessage]:
        """The received messages that match ``filters``, oldest first."""
        return self.messages.select(self._where(filters))

    def count_messages(self, **filters: str) -> int:
        """How many received messages match ``filters``."""
        return self.messages.count(self._where(filters))

    def save_messages(
        self, directory: str | os.PathLike[str], **filters: str
    ) -> list[str]:
        """Write each message matching ``filters`` to ``directory`` as an
        ``.eml`` file named by its number and subject; return the paths."""
        return save_messages(self.get_messages(**filters), directory)

    def wait_for_message(
        self, timeout: float = 5.0, msg: str | None = None, **filters: str
    ) -> ReceivedMessage:
        """The oldest matching message that no earlier wait returned, waiting up
        to ``timeout`` seconds for it to arrive.

        Each wait returns a new message: after two password resets, the second
        wait returns the second mail, never the first again.
        """
        seconds = check_timeout(timeout)
        wanted = self._where(filters)
        try:
            message = self.messages.wait_for_new_message(wanted, seconds, self._claimed)
        except WaitInterrupted as stopped:
            raise AssertionError(
                msg
                or f"No new message ({wanted.describe()}): {stopped} while waiting."
                f"\n{self._listing(wanted)}"
            ) from None
        if message is None:
            raise AssertionError(
                msg
                or f"No new message ({wanted.describe()}) was received in "
                f"{secs_to_timestr(seconds)}.\n{self._listing(wanted)}"
            )
        return message

    def wait_for_message_count(
        self, count: int, timeout: float = 5.0, msg: str | None = None, **filters: str
    ) -> list[ReceivedMessage]:
        """Wait until exactly ``count`` received messages match; return them."""
        check_count(count)
        seconds = check_timeout(timeout)
        wanted = self._where(filters)
        when = f"within {secs_to_timestr(seconds)}"
        try:
            reached = self.messages.wait_for_count(count, wanted, seconds)
        except WaitInterrupted as stopped:
            reached, when = False, f"({stopped} while waiting)"
        found = self.messages.select(wanted)
        if not reached or len(found) != count:
            raise AssertionError(
                msg
                or f"Expected {count_text(count)} ({wanted.describe()}) {when}, "
                f"but received {len(found)}.\n{self._listing(wanted, counted=True)}"
            )
        return found

    def assert_message_count(
        self, count: int, msg: str | None = None, **filters: str
    ) -> None:
        """Fail unless exactly ``count`` received messages match ``filters``."""
        check_count(count)
        wanted = self._where(filters)
        actual = self.messages.count(wanted)
        if actual != count:
            raise AssertionError(
                msg
                or f"Expected {count_text(count)} ({wanted.describe()}), but "
                f"received {actual}.\n{self._listing(wanted, counted=True)}"
            )

    def assert_message_matching(
        self, regex: str, msg: str | None = None, **filters: str
    ) -> ReceivedMessage:
        """The first received message whose source, decoded headers or text
        match the regular expression ``regex``; fail when there is none."""
        wanted = self._where({**filters, "matching": regex})
        found = self.messages.select(wanted)
        if not found:
            raise AssertionError(
                msg
                or f"No received message matches ({wanted.describe()}).\n"
                f"{self._listing()}"
            )
        return found[0]

    def assert_no_message_matching(
        self, regex: str, msg: str | None = None, **filters: str
    ) -> None:
        """Fail if a received message matches the regular expression ``regex``."""
        wanted = self._where({**filters, "matching": regex})
        _fail_if_found(wanted, self.messages.select(wanted), msg)

    def assert_no_message(
        self, within: float = 0, msg: str | None = None, **filters: str
    ) -> None:
        """Fail as soon as a message matching ``filters`` is in the mailbox,
        already there or arriving within ``within`` seconds.

        Passes after ``within`` seconds otherwise: the check that a newsletter
        was *not* sent, without a sleep.
        """
        seconds = check_timeout(within, "within")
        wanted = self._where(filters)
        found = self.messages.wait_for_any(wanted, seconds)
        _fail_if_found(wanted, found, msg, seconds)


def _fail_if_found(
    wanted: MessageFilter,
    found: list[ReceivedMessage],
    msg: str | None,
    within: float | None = None,
) -> None:
    if not found:
        return
    when = f" within {secs_to_timestr(within)}" if within else ""
    raise AssertionError(
        msg
        or f"Expected no message ({wanted.describe()}){when}, but "
        f"{count_text(len(found))} matched:\n{listing(found, heading=False)}"
    )


def check_timeout(
    seconds: float, name: str = "timeout", written: str | None = None
) -> float:
    """``seconds``, unless not a finite number of seconds, or negative;
    ``written`` is the value as the user gave it."""
    seconds = seconds_argument(seconds, name)
    if seconds < 0:
        got = f"'{written}'" if written else f"{seconds:g} seconds"
        raise ConfigurationError(f"'{name}' must not be negative, got {got}.")
    return seconds


def check_count(count: int) -> None:
    count = whole_number(count, "count")
    if count < 0:
        raise ConfigurationError(f"Count must be zero or more, got {count}.")
