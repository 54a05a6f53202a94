"""The one filter vocabulary shared by every query, wait and assertion."""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigurationError

if TYPE_CHECKING:  # message.py's verification codes use the prefixes below
    from .message import ReceivedMessage

FILTER_HELP = {
    "sender": "envelope sender (MAIL FROM), whole address",
    "recipient": "any envelope recipient (RCPT TO), so Bcc counts; whole address",
    "to": "an address in the To header",
    "cc": "an address in the Cc header",
    "from_address": "the address in the From header",
    "subject": "text contained in the decoded subject",
    "body": "text contained in the decoded text or HTML body",
    "header": "'Name: text' (the header contains the text) or 'Name' (it exists)",
    "attachment": "an attachment's file name",
    "matching": "a regular expression searched in the source, headers and text"
    " (regexp: and glob: too)",
}
ALLOWED_FILTERS = tuple(FILTER_HELP)


@dataclass(frozen=True)
class Pattern:
    """A string filter value: plain, ``regexp:...`` or ``glob:...``."""

    text: str
    test: Callable[[str], bool]

    @classmethod
    def parse(cls, name: str, value: str, *, plain: str) -> Pattern:
        prefix, pattern = split_prefix(value)
        if prefix == "regexp":
            regex = compile_raw_regex(pattern, f"{name}=")
            return cls(value, lambda candidate: regex.search(candidate) is not None)
        if prefix == "glob":
            glob = glob_regex(pattern)
            return cls(value, lambda candidate: glob.search(candidate) is not None)
        _reject_misspelt_prefix(name, value)
        if plain == "address":
            lowered = normalized_address(value)
            return cls(value, lambda candidate: candidate.lower() == lowered)
        if plain == "exact":
            return cls(value, lambda candidate: candidate == value)
        return cls(value, lambda candidate: value in candidate)

    def any(self, candidates: Iterable[str]) -> bool:
        return any(self.test(candidate) for candidate in candidates)


_PREFIX_LIKE = re.compile(r"([a-zA-Z]{2,8}):(?=\S)")
PREFIXES = ("regexp", "glob")


def split_prefix(value: str) -> tuple[str | None, str]:
    """``("regexp", "^Hi")`` for ``regexp:^Hi``, ``(None, value)`` for plain text.

    A prefix is recognised in any case (``REGEXP:``, ``Glob:``): a tester who
    writes one means it, and the text would otherwise silently match nothing.
    """
    word, colon, _ = value[: len("regexp:")].partition(":")
    if colon and word.lower() in PREFIXES:
        return word.lower(), value[len(word) + 1 :]
    return None, value


def _reject_misspelt_prefix(name: str, value: str) -> None:
    """``rgx:^Hi`` is a typo of ``regexp:``, not text to look for."""
    misspelt = _misspelt_prefix(value)
    if misspelt:
        raise ConfigurationError(
            _unknown_prefix(*misspelt, f"{name}={value}")
            + f"To look for the text itself, write {name}=regexp:{re.escape(value)}"
        )


def _misspelt_prefix(value: str) -> tuple[str, str] | None:
    """The word of a misspelt prefix at the start of ``value`` and the prefix
    it seems to mean (``("rgx", "regexp")`` for ``rgx:^Hi``), or None.

    Only a short word in lower or upper case, close to a prefix and directly
    followed by the pattern, counts: ``Re: Hello``, ``Ticket:42`` and a
    capitalised word such as ``Global:Update`` stay plain text; ``re:`` and
    ``rx:`` count in lowercase only, so ``Re:Hello`` and ``RE:Hello`` are text.
    """
    match = _PREFIX_LIKE.match(value)
    if not match:
        return None
    word = match.group(1)
    if not (word.islower() or word.isupper()):
        return None
    close = difflib.get_close_matches(word.lower(), PREFIXES, n=1, cutoff=0.6)
    if close or word in ("re", "rx"):
        return word, close[0] if close else "regexp"
    return None


def _unknown_prefix(word: str, suggestion: str, place: str) -> str:
    return (
        f"Unknown prefix '{word}:' in {place}. Did you mean '{suggestion}:'? "
        "Prefixes: regexp:, glob:. "
    )


def normalized_address(value: str) -> str:
    """``<Alice@Example.com>`` -> ``alice@example.com``, as address filters compare."""
    return value.strip().strip("<>").lower()


def compile_regex(value: str, where: str = "") -> re.Pattern[str]:
    """A regular-expression argument, compiled: it speaks the filter vocabulary.

    ``regexp:X`` is the regular expression X; ``glob:X`` is the glob X, which
    matches a whole text, case counting, as the ``glob:`` of filters does
    (see ``glob_regex``); the prefixes are recognised in any case. Other text
    is a regular expression, as these arguments always took: ``^bob@``. A
    misspelt prefix (``rgx:^bob@``) is an error, as in filters. ``where``
    names the argument in errors: ``matching=`` or ``the address pattern``.
    """
    prefix, pattern = split_prefix(value)
    if prefix == "glob":
        return glob_regex(pattern)
    if prefix is None:
        _reject_misspelt_regex_prefix(value, where)
    return compile_raw_regex(pattern, where)


def _reject_misspelt_regex_prefix(value: str, where: str) -> None:
    misspelt = _misspelt_prefix(value)
    if misspelt:
        keyword_argument = where.endswith("=")
        place = f"{where}{value}" if keyword_argument else f"{where} '{value}'"
        instead = f"{where if keyword_argument else ''}regexp:{value}"
        raise ConfigurationError(
            _unknown_prefix(*misspelt, place.strip())
            + f"To search for it as a regular expression, write {instead}"
        )


def compile_raw_regex(pattern: str, where: str = "") -> re.Pattern[str]:
    """``pattern`` compiled as written, for a pattern whose prefix was read:
    ``regexp:`` in it is text to match."""
    try:
        return re.compile(pattern)
    except re.error as error:
        place = f" in {where}" if where else ""
        raise ConfigurationError(
            f"Invalid regular expression '{pattern}'{place}: {error}."
        ) from None


def glob_regex(pattern: str) -> re.Pattern[str]:
    """The glob ``pattern`` as a regular expression that ``search`` finds in
    a text only when the whole text matches, as ``fnmatch.fnmatchcase``
    does: ``*`` any text, ``?`` one character, ``[abc]``, ``[!abc]``.

    Like a written regular expression it has no global flags, and no
    groups except on Python 3.10 for a glob with two ``*`` or more: the
    fault gates join it with other address patterns, or search it apart.
    """
    return re.compile(r"\A" + fnmatch.translate(pattern))


class MessageFilter:
    """Selects messages by the filters a keyword was given.

    Plain values compare whole addresses (case-insensitively) for the address
    filters, and look for contained text for ``subject``, ``body`` and ``header``.
    A ``regexp:`` prefix searches a regular expression, a ``glob:`` prefix
    matches a glob pattern. ``matching`` is a regular expression (see
    ``compile_regex``): plain text is searched as one, and it takes the
    ``regexp:`` and ``glob:`` prefixes too.
    """

    def __init__(self, filters: Mapping[str, object] | None = None):
        self.filters = {k: v for k, v in (filters or {}).items() if v is not None}
        unknown = [name for name in self.filters if name not in FILTER_HELP]
        if unknown:
            raise ConfigurationError(
                f"Unknown filter '{unknown[0]}'. Allowed filters: "
                f"{', '.join(ALLOWED_FILTERS)}."
            )
        self._tests = [self._compile(n, str(v)) for n, v in self.filters.items()]
        tests = self._tests
        self.test: Callable[[ReceivedMessage], bool] = (
            tests[0] if len(tests) == 1 else lambda m: all(t(m) for t in tests)
        )
        """The filter as one function: the fastest way to apply it to many messages."""

    def __call__(self, message: ReceivedMessage) -> bool:
        return self.test(message)

    def __bool__(self) -> bool:
        return bool(self._tests)

    def describe(self) -> str:
        """``sender=a@x, subject=Hi`` or ``no filter``, for failure messages."""
        if not self.filters:
            return "no filter"
        return ", ".join(f"{name}={value}" for name, value in self.filters.items())

    def _compile(self, name: str, value: str) -> Callable[[ReceivedMessage], bool]:
        if name == "matching":
            regex = compile_regex(value, "matching=")
            return lambda m: regex.search(m.searchable_text) is not None
        if name == "header":
            return self._header_test(value)
        if name in ("sender", "from_address"):
            pattern = Pattern.parse(name, value, plain="address")
            return lambda m: pattern.test(getattr(m, name))
        if name == "recipient" and split_prefix(value)[0] is None:
            address = normalized_address(value)
            return lambda m: address in m.recipients_lowercase
        if name in ("recipient", "to", "cc"):
            pattern = Pattern.parse(name, value, plain="address")
            attribute = "recipients" if name == "recipient" else name
            return lambda m: pattern.any(getattr(m, attribute))
        if name == "attachment":
            pattern = Pattern.parse(name, value, plain="exact")
            return lambda m: pattern.any(a.filename for a in m.attachments)
        if name == "body":
            pattern = Pattern.parse(name, value, plain="contains")
            return lambda m: pattern.test(m.text) or pattern.test(m.html)
        pattern = Pattern.parse(name, value, plain="contains")
        return lambda m: pattern.test(m.subject)

    @staticmethod
    def _header_test(value: str) -> Callable[[ReceivedMessage], bool]:
        header, separator, expected = value.partition(":")
        header = header.strip()
        if not header:
            raise ConfigurationError(
                f"Invalid header filter '{value}': expected 'Name: text' or 'Name'."
            )
        if not separator:
            return lambda m: header in m.headers
        pattern = Pattern.parse("header", expected.strip(), plain="contains")
        return lambda m: pattern.any(m.headers.get_all(header))
