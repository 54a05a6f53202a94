"""Mailpit's search syntax, read into a test of one message.

``to:alice subject:"Your order" -from:spam is:unread invoice`` holds for a
message when every term holds. A term is a ``prefix:value`` or a plain word;
a double-quoted phrase is one term; a leading ``-`` or ``!`` negates it.

Prefixes: ``to:``, ``from:``, ``cc:``, ``bcc:``, ``reply-to:``, ``addressed:``
(any of those), ``subject:``, ``message-id:``, ``tag:``, ``is:read``,
``is:unread``, ``is:tagged``, ``has:attachment``, ``has:inline``,
``after:``/``before:`` (an ISO date or date and time), ``larger:``/``smaller:``
(``10kB``, ``2MB``). Everything else is looked for in the subject, addresses,
bodies and attachment names. Matching is case-insensitive and by contained text.

Beyond Mailpit: ``inbox:signup`` holds for the messages in that inbox (see
``MockSMTPServer.create_inbox``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Protocol


class SearchError(ValueError):
    """A query that cannot be read; the message says which term and why."""


class Searchable(Protocol):
    """What a search term needs to know about a message."""

    def addresses(self, field: str) -> str: ...
    def subject(self) -> str: ...
    def message_id(self) -> str: ...
    def tags(self) -> list[str]: ...
    def read(self) -> bool: ...
    def attachment_count(self) -> int: ...
    def inline_count(self) -> int: ...
    def received(self) -> datetime: ...
    def size(self) -> int: ...
    def text(self) -> str: ...
    def in_inbox(self, name: str) -> bool: ...


Test = Callable[[Searchable], bool]

_ADDRESS_FIELDS = ("to", "from", "cc", "bcc", "reply-to")
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]*)$")
_PUNCTUATION = re.compile(r"[\r\n\t<>\",;()]")


def parse_query(query: str) -> Test:
    """The test for ``query``; raises :class:`SearchError` for an unreadable one."""
    tests = [_term(term) for term in split_terms(query)]
    if not tests:
        raise SearchError("Error: no search query")
    return lambda message: all(test(message) for test in tests)


def split_terms(query: str) -> list[str]:
    """Terms separated by spaces; a double-quoted part keeps its spaces."""
    if query.count('"') % 2:
        raise SearchError(f"Unbalanced double quote in search query '{query}'.")
    terms: list[str] = []
    current: list[str] = []
    quoted = False
    for char in query:
        if char == '"':
            quoted = not quoted
        elif char.isspace() and not quoted:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [term.strip() for term in terms if term.strip()]


def clean(value: str) -> str:
    """Lower case, punctuation that separates addresses as spaces, one space each."""
    return " ".join(_PUNCTUATION.sub(" ", value.replace("\ufeff", " ")).lower().split())


def _term(term: str) -> Test:
    negate = len(term) > 1 and term[0] in "-!"
    if negate:
        term = term[1:]
    test = _positive_term(term)
    return (lambda message: not test(message)) if negate else test


def _positive_term(term: str) -> Test:
    prefix, colon, value = term.partition(":")
    prefix = prefix.lower()
    flag = term.lower()
    if flag in _FLAGS:
        return _FLAGS[flag]
    if colon and prefix in _ADDRESS_FIELDS and clean(value):
        field, wanted = prefix, clean(value)
        return lambda m: wanted in m.addresses(field)
    if colon and prefix == "addressed" and clean(value):
        wanted = clean(value)
        return lambda m: any(wanted in m.addresses(f) for f in _ADDRESS_FIELDS)
    if colon and prefix == "subject" and value:
        wanted = value.lower()
        return lambda m: wanted in m.subject().lower()
    if colon and prefix == "message-id" and clean(value):
        wanted = clean(value)
        return lambda m: wanted in clean(m.message_id())
    if colon and prefix == "inbox" and value.strip():
        inbox = value.strip()
        return lambda m: m.in_inbox(inbox)
    if colon and prefix == "tag" and value.strip():
        wanted = value.strip().lower()
        return lambda m: wanted in (tag.lower() for tag in m.tags())
    if colon and prefix in ("after", "before") and value.strip():
        moment = _moment(term, value)
        if prefix == "after":
            return lambda m: m.received() >= moment
        return lambda m: m.received() <= moment
    if colon and prefix in ("larger", "smaller") and value.strip():
        size = _size(term, value)
        if prefix == "larger":
            return lambda m: m.size() > size
        return lambda m: m.size() < size
    wanted = clean(term)
    return lambda m: wanted in m.text()


_FLAGS: dict[str, Test] = {
    "is:read": lambda m: m.read(),
    "is:unread": lambda m: not m.read(),
    "is:tagged": lambda m: bool(m.tags()),
    "has:attachment": lambda m: m.attachment_count() > 0,
    "has:attachments": lambda m: m.attachment_count() > 0,
    "has:inline": lambda m: m.inline_count() > 0,
    "has:inlines": lambda m: m.inline_count() > 0,
}


def _moment(term: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(
            f"Invalid date in search term '{term}': expected an ISO date such as "
            "2024-05-31 or 2024-05-31T14:30."
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a date without zone is local, as in Mailpit
    return moment.astimezone(timezone.utc)


def _size(term: str, value: str) -> int:
    match = _SIZE.match(value.strip().lower())
    if not match or match.group(2) not in _UNITS:
        raise SearchError(
            f"Invalid size in search term '{term}': expected a number with an "
            "optional unit, such as 500, 10kB or 2MB."
        )
    return int(float(match.group(1)) * _UNITS[match.group(2)])
