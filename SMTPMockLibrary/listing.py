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
) -> str:
    """What a failed check shows: the newest messages, one line each.

    With ``wanted``, a message that matches it but was already returned by
    an earlier wait says so, since that is why a wait did not return it.
    ``claimed`` holds the sequence numbers an inbox's waits returned; without
    it, the server-wide memory counts.
    """
    if not messages:
        return "The mailbox is empty."
    shown = messages[-LISTED_IN_FAILURES:]
    lines = [f"Received {count_text(len(messages))}:"]
    if len(messages) > len(shown):
        lines.append(f"  ... {len(messages) - len(shown)} older ones not shown")
    for message in shown:
        line = f"  #{message.sequence} {message.summary()}"
        returned = message.claimed if claimed is None else message.sequence in claimed
        if wanted is not None and returned and wanted(message):
            line += "  <- matches, but was returned by an earlier wait"
        lines.append(line)
    return "\n".join(lines)
