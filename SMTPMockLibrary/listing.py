"""Plain-text listings of the mailbox, for failure messages in Robot and pytest alike."""

from __future__ import annotations

from collections.abc import Callable

from .message import ReceivedMessage

LISTED_IN_FAILURES = 20


def count_text(count: int, noun: str = "message") -> str:
    """``1 message``, ``2 messages``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def listing(
    messages: list[ReceivedMessage],
    wanted: Callable[[ReceivedMessage], bool] | None = None,
    claimed: set[int] | None = None,
    counted: bool = False,
    heading: bool = True,
) -> str:
    """What a failed check shows: the newest messages, one line each.

    With ``wanted``, a message that matches it but was already returned by
    an earlier wait says so, since that is why a wait did not return it.
    ``claimed`` holds the sequence numbers an inbox's waits returned; without
    it, the server-wide memory counts. A count check (``counted``) counts
    every match, returned or not: its matches are marked as such. Without
    ``heading``, the lines follow a heading of the caller's.
    """
    if not messages:
        return "The mailbox is empty."
    lines = [f"Received {count_text(len(messages))}:"] if heading else []
    for message in _newest(messages, lines):
        line = f"  #{message.sequence} {message.summary()}"
        if wanted is not None and wanted(message):
            if counted:
                line += "  <- matches"
            elif message.claimed if claimed is None else message.sequence in claimed:
                line += "  <- matches, but was returned by an earlier wait"
        lines.append(line)
    return "\n".join(lines)


def empty_inbox_listing(inbox: str, everything: list[ReceivedMessage]) -> str:
    """What a failed check on an empty inbox shows: the mail the server holds
    elsewhere, since a routing rule that misses is the usual cause."""
    if not everything:
        return f"The inbox '{inbox}' is empty, and so is the server's mailbox."
    lines = [
        f"The inbox '{inbox}' is empty, but the server holds "
        f"{count_text(len(everything))}:"
    ]
    lines += [f"  #{m.sequence} {m.summary()}" for m in _newest(everything, lines)]
    return "\n".join(lines)


def _newest(messages: list[ReceivedMessage], lines: list[str]) -> list[ReceivedMessage]:
    """The newest messages a failure shows; how many are left out goes in ``lines``."""
    shown = messages[-LISTED_IN_FAILURES:]
    if len(messages) > len(shown):
        lines.append(f"  ... {len(messages) - len(shown)} older ones not shown")
    return shown
