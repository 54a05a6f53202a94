"""Splitting received bytes into MIME parts with bounded work, whatever they hold.

The standard library's parser recurses once per nesting level and checks every
line against every enclosing boundary, so deep or wide structures make it raise
``RecursionError`` or take minutes. :func:`parse_tree` reads the same structure
the same way (every boundary rule of :mod:`email.feedparser`, checked against
it by a differential test) in one linear pass over the lines that start with
``--``, and stops at :data:`MAX_DEPTH` levels and :data:`MAX_PARTS` parts: what
lies beyond is kept as opaque bytes and named in :attr:`Tree.defects`. Header
blocks and decoding stay the standard library's; header values too long for
its structured parser go through the cheap readers of this module instead.
"""

from __future__ import annotations

import binascii
import codecs
import email.policy
import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.parser import Parser
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

MAX_DEPTH = 100
"""Nesting levels read (multipart and attached messages alike), as Postfix's
``mime_nesting_limit``; a deeper part is kept whole as an opaque part."""
MAX_PARTS = 1000
"""MIME parts read; the rest of the message after the last one is kept opaque."""
MAX_BOUNDARY_LINES = 10 * MAX_PARTS
"""Boundary lines read: repeated boundary lines make no parts but cost time."""
STRUCTURED_LIMIT = 8192
"""Longest header value given to the standard library's structured parser."""
STRUCTURED_BUDGET = 32 * 1024
"""Characters of MIME headers (``Content-Type`` and friends of every part)
given to the structured parser per message; later parts use the cheap reader."""

PART_ATTRIBUTE = "_smtpmock_part"
"""The attribute of each :class:`EmailMessage` of a tree that holds its Part."""
_POLICY = email.policy.default
_HEADER_PARSER = Parser(policy=_POLICY)
# A line starting with "--": its text after "--", and its line break.
_CANDIDATE = re.compile(r"(?<![^\r\n])--(?P<rest>[^\r\n]*)(?P<eol>\r\n|\r|\n|\Z)")
# The same without the look-behind, several times faster: right unless a line
# ends with a lone \r, which "^" does not see as a line end.
_CANDIDATE_AFTER_LF = re.compile(r"^--(?P<rest>[^\r\n]*)(?P<eol>\r\n|\r|\n|\Z)", re.M)
_LONE_CR = re.compile(r"\r(?!\n)")
_HEADER_BLOCK = re.compile(
    r"(?:(?:From |[\x21-\x39\x3b-\x7e]*:|[\t ])[^\r\n]*(?:\r\n|\r|\n|\Z))*"
)
_BLANK_LINE = re.compile(r"\r\n|\r|\n")
_TRAILING_EOL = re.compile(r"(\r\n|\r|\n)\Z")
_LEADING_EOL = re.compile(r"\r\n|\r|\n")
_FOLD = re.compile(r"\r\n[ \t]*|[\r\n][ \t]*")
_MIME_HEADERS = (
    "content-type",
    "content-disposition",
    "content-transfer-encoding",
    "content-id",
)


@dataclass
class Part:
    """One MIME entity: its headers and payload as :mod:`email` holds them
    (``message``), where its bytes are, and the facts every accessor needs,
    read once."""

    message: EmailMessage = field(repr=False)
    depth: int
    start: int
    end: int = 0
    raw: bytes = field(default=b"", repr=False)
    children: list[Part] = field(default_factory=list)
    opaque: bool = False
    content_type: str = "text/plain"
    boundary: str | None = None
    disposition: str | None = None
    filename: str | None = None
    charset: str | None = None
    content_id: str | None = None
    transfer_encoding: str = ""

    @property
    def maintype(self) -> str:
        return self.content_type.partition("/")[0]

    @property
    def subtype(self) -> str:
        return self.content_type.partition("/")[2]

    def walk(self) -> Iterator[Part]:
        """This part and every part inside it, in order, without recursing."""
        stack = [self]
        while stack:
            part = stack.pop()
            yield part
            stack.extend(reversed(part.children))


@dataclass
class Tree:
    """The parts of a message; what was cut or broken, as short sentences; and
    how many parts were read."""

    root: Part
    defects: list[str]
    parts: int


def part_of(message: Message) -> Part:
    """The :class:`Part` of a message of a tree, or one read now for any other
    :class:`~email.message.Message` (its facts read by the structured parser)."""
    part = getattr(message, PART_ATTRIBUTE, None)
    if isinstance(part, Part):
        return part
    payload = message.get_payload()
    part = Part(message, 0, 0)  # type: ignore[arg-type]
    _structured_facts(part)
    if isinstance(payload, list):
        part.children = [part_of(c) for c in payload if isinstance(c, Message)]
    return part


def stored_payload(message: Message) -> object:
    """The payload as the parser stored it: ``get_payload()`` would replace
    undecodable bytes, and parse the transfer encoding header each time."""
    return getattr(message, "_payload", None)


def parse_tree(raw: bytes) -> Tree:
    """The MIME structure of ``raw``, read with bounded work."""
    return _TreeReader(raw).read()


class _Truncated(Exception):
    """The part or boundary-line limit was reached: stop reading structure."""


class _TreeReader:
    def __init__(self, raw: bytes):
        # What email.parser.BytesParser does first: one character per byte, so
        # that offsets in the text are offsets in the raw bytes.
        self.raw = raw
        self.text = raw.decode("ascii", "surrogateescape")
        self.defects: list[str] = []
        self.parts = 0
        self.boundary_lines = 0
        self.budget = STRUCTURED_BUDGET
        self.truncated_at: int | None = None
        self.depth_cuts: list[tuple[int, int]] = []
        self.root: Part | None = None
        self.index: _LineIndex | None = None

    def read(self) -> Tree:
        try:
            self._entity(0, {}, 0, "text/plain")
        except _Truncated:
            rest = len(self.text) - (self.truncated_at or 0)
            self.defects.insert(
                0,
                f"More than {MAX_PARTS:,} MIME parts or {MAX_BOUNDARY_LINES:,} "
                f"boundary lines: the last {rest:,} bytes (from byte "
                f"{self.truncated_at:,}) are kept unparsed.",
            )
        if self.depth_cuts:
            start, size = self.depth_cuts[0]
            more = len(self.depth_cuts) - 1
            self.defects.insert(
                0,
                f"Nesting deeper than {MAX_DEPTH} levels: the part at byte "
                f"{start:,} ({size:,} bytes)"
                + (f" and {more:,} more" if more else "")
                + " kept unparsed.",
            )
        assert self.root is not None
        return Tree(self.root, self.defects, self.parts)

    # -- entities

    def _entity(
        self,
        start: int,
        active: dict[str, int],
        depth: int,
        default_type: str,
        first_line: str = "",
    ) -> Part:
        """The entity starting at ``start`` (after ``first_line``, a line the
        parent gave back) and ending at the first line that is a boundary line
        of ``active``, or at the end of the message."""
        self.parts += 1
        if self.parts > MAX_PARTS:
            self.truncated_at = start
            raise _Truncated
        stop = self._next_eof(start, active)
        block = _HEADER_BLOCK.match(self.text, start, stop)
        header_end = block.end() if block else start
        message = self._headers(first_line + self.text[start:header_end])
        if default_type != "text/plain":
            message.set_default_type(default_type)
        body_start, prefix = self._body_start(start, header_end, stop, first_line)
        part = Part(message, depth, start, stop, self.raw)
        setattr(message, PART_ATTRIBUTE, part)
        if self.root is None:
            self.root = part
        self._read_facts(part)
        message_type = (
            part.maintype == "message"
            and part.content_type != "message/delivery-status"
        )
        if (message_type or part.maintype == "multipart") and depth >= MAX_DEPTH:
            part.opaque = True
            self.depth_cuts.append((start, stop - start))
        elif part.maintype == "multipart" and part.boundary is not None:
            self._multipart(part, body_start, prefix, active)
            return part
        elif message_type:
            child = self._entity(body_start, active, depth + 1, "text/plain", prefix)
            part.children.append(child)
            message.set_payload([child.message])
            return part
        elif part.maintype == "multipart":
            self._defect(start, "is multipart without a boundary")
        message.set_payload(prefix + self.text[body_start:stop])
        return part

    def _multipart(
        self, part: Part, body_start: int, prefix: str, active: dict[str, int]
    ) -> None:
        """Reads the parts of a multipart as email.feedparser does."""
        boundary = part.boundary
        assert boundary is not None
        own = {boundary: part.depth}
        inner = {**active, boundary: part.depth}
        message, stop = part.message, part.end
        found = self._next_line(body_start, own, stop)
        if found is None or found[1]:
            # No opening boundary line: everything up to the end is the payload.
            end = found[0].start if found is not None else stop
            message.set_payload(prefix + self.text[body_start:end])
            message.epilogue = ""
            self._defect(part.start, f"never opens its boundary {boundary!r}")
            return
        line = found[0]
        preamble = prefix + self.text[body_start : line.start]
        if preamble:
            message.preamble = _TRAILING_EOL.sub("", preamble)
        children: list[Message | str] = []
        message.set_payload(children)
        while True:
            # `line` opens a part; repeated boundary lines open nothing.
            position = line.end
            self._count_boundary_line(position)
            while True:
                following = _CANDIDATE.match(self.text, position, stop)
                if following is None or _classify(following, own) is None:
                    break
                position = following.end()
                self._count_boundary_line(position)
            child = self._entity(position, inner, part.depth + 1, _child_type(part))
            part.children.append(child)
            children.append(child.message)
            _strip_last_eol(child)
            found = self._next_line(child.end, own, stop)
            if found is None:
                self._defect(part.start, f"never closes its boundary {boundary!r}")
                return
            line, close = found
            if close:
                epilogue = self.text[line.end : stop]
                if not line.eol:
                    epilogue = _LEADING_EOL.sub("", epilogue, count=1)
                message.epilogue = epilogue
                return

    # -- lines

    def _next_eof(self, position: int, active: dict[str, int]) -> int:
        if not active:
            return len(self.text)
        found = self._next_line(position, active, len(self.text))
        return found[0].start if found is not None else len(self.text)

    def _next_line(
        self, position: int, boundaries: dict[str, int], stop: int
    ) -> tuple[_Line, bool] | None:
        """The next boundary line of ``boundaries`` from ``position`` (before
        ``stop``), and whether it closes its multipart."""
        if self.index is None:
            self.index = _LineIndex(self.text)
        best: tuple[_Line, bool] | None = None
        for boundary in boundaries:
            for key, close in ((boundary, False), (boundary + "--", True)):
                line = self.index.next(key, position)
                if (
                    line is not None
                    and line.start < stop
                    and (best is None or line.start < best[0].start)
                ):
                    best = (line, close)
        return best

    def _count_boundary_line(self, position: int) -> None:
        self.boundary_lines += 1
        if self.boundary_lines > MAX_BOUNDARY_LINES:
            self.truncated_at = position
            raise _Truncated

    # -- headers

    def _headers(self, block: str) -> EmailMessage:
        if not block:
            return EmailMessage(policy=_POLICY)
        message = _HEADER_PARSER.parsestr(block, headersonly=True)
        assert isinstance(message, EmailMessage)
        message.set_payload("")  # the header reader's, if it gave a line back
        return message

    def _body_start(
        self, start: int, header_end: int, stop: int, first_line: str
    ) -> tuple[int, str]:
        """Where the body starts, and a line the header reader gave back."""
        prefix = ""
        last_line_start = _last_line_start(self.text, start, header_end)
        if (
            header_end > start
            and (last_line_start > start or first_line)
            and self.text.startswith("From ", last_line_start)
        ):
            # email.feedparser gives a last "From " line back to the body,
            # after taking the blank line that follows it.
            prefix = self.text[last_line_start:header_end]
        separator = _BLANK_LINE.match(self.text, header_end, stop)
        return (separator.end() if separator else header_end), prefix

    def _read_facts(self, part: Part) -> None:
        values: dict[str, list[str]] = {name: [] for name in _MIME_HEADERS}
        for name, value in part.message.raw_items():
            if name.lower() in values:
                values[name.lower()].append(str(value))
        cost = sum(len(value) for found in values.values() for value in found)
        if cost > STRUCTURED_LIMIT:
            self._defect(
                part.start,
                f"has {cost:,} characters of MIME headers: read by the simple reader",
            )
            _cheap_facts(part, values)
        elif cost > self.budget:
            if self.budget > 0:
                self._defect(
                    part.start,
                    "is where the MIME headers exceed "
                    f"{STRUCTURED_BUDGET // 1024} KB: this part and the next ones "
                    "are read by the simple reader",
                )
                self.budget = 0
            _cheap_facts(part, values)
        else:
            self.budget -= cost
            _structured_facts(part)

    def _defect(self, position: int, text: str) -> None:
        if len(self.defects) < 20:
            self.defects.append(f"The part at byte {position:,} {text}.")


class _Line(NamedTuple):
    """A line that starts with ``--``: where it starts and ends, and whether
    it ends with a line break."""

    start: int
    end: int
    eol: bool


class _LineIndex:
    """Where the lines that start with ``--`` are, by their text after ``--``
    (without trailing blanks), found in one pass: finding the next line of a
    boundary is then a lookup, however deep the nesting."""

    def __init__(self, text: str):
        self.text = text
        self.starts: dict[str, list[int]] = {}
        starts = self.starts
        lone_cr = "\r" in text and _LONE_CR.search(text) is not None
        for match in (_CANDIDATE if lone_cr else _CANDIDATE_AFTER_LF).finditer(text):
            key = match["rest"].rstrip(" \t")
            found = starts.get(key)
            if found is None:
                starts[key] = [match.start()]
            else:
                found.append(match.start())

    def next(self, key: str, position: int) -> _Line | None:
        starts = self.starts.get(key)
        if not starts:
            return None
        index = bisect_left(starts, position)
        if index == len(starts):
            return None
        match = _CANDIDATE.match(self.text, starts[index])
        assert match is not None
        return _Line(match.start(), match.end(), bool(match["eol"]))


def _classify(line: re.Match[str], boundaries: dict[str, int]) -> bool | None:
    """Whether a ``--`` line closes (True) or opens (False) a multipart of
    ``boundaries``, or None when it is no boundary line of theirs."""
    key = line["rest"].rstrip(" \t")
    if key in boundaries:
        return False
    if key.endswith("--") and key[:-2] in boundaries:
        return True
    return None


def _child_type(part: Part) -> str:
    return "message/rfc822" if part.content_type == "multipart/digest" else "text/plain"


def _strip_last_eol(child: Part) -> None:
    """The line break before a boundary belongs to the boundary (RFC 2046):
    email.feedparser takes it from the payload (or epilogue) of the part
    parsed last."""
    chain = [child]
    while chain[-1].children and chain[-1].maintype == "message":
        chain.append(chain[-1].children[-1])
    last = chain[-1].message
    before = after = None
    if chain[-1].maintype == "multipart":
        if last.epilogue == "":
            last.epilogue = None
        elif last.epilogue is not None:
            before = last.epilogue
            last.epilogue = after = _TRAILING_EOL.sub("", before)
    else:
        payload = stored_payload(last)
        if isinstance(payload, str):
            before = payload
            after = _TRAILING_EOL.sub("", payload)
            last.set_payload(after)
    if before is not None and after is not None:
        for part in chain:
            part.end -= len(before) - len(after)


def _last_line_start(text: str, start: int, end: int) -> int:
    if end <= start:
        return start
    index = end - 1
    if text[index] == "\n" and index > start and text[index - 1] == "\r":
        index -= 1
    breaks = max(text.rfind("\n", start, index), text.rfind("\r", start, index))
    return breaks + 1 if breaks >= start else start


# -- facts about a part


def _structured_facts(part: Part) -> None:
    message = part.message
    part.content_type = _safe(message.get_content_type, "text/plain")
    if part.maintype == "multipart":
        part.boundary = _safe(message.get_boundary, None)
    part.disposition = _safe(message.get_content_disposition, None)
    part.filename = _safe(message.get_filename, None)
    part.charset = _safe(message.get_content_charset, None)
    content_id = _safe(lambda: message.get("Content-ID"), None)
    part.content_id = str(content_id) if content_id is not None else None
    part.transfer_encoding = _safe(
        lambda: str(message.get("Content-Transfer-Encoding", "")).strip().lower(), ""
    )


def _cheap_facts(part: Part, values: dict[str, list[str]]) -> None:
    def first(name: str) -> str | None:
        found = values[name]
        return str(found[0]) if found else None

    content_type = first("content-type")
    name = None
    if content_type is None:
        part.content_type = part.message.get_default_type()
    else:
        main, params = cheap_parameters(content_type)
        part.content_type = main if main.count("/") == 1 else "text/plain"
        part.charset = params.get("charset", "").lower() or None
        if part.maintype == "multipart" and params.get("boundary"):
            part.boundary = params["boundary"].rstrip()
        name = params.get("name")
    disposition = first("content-disposition")
    if disposition is not None:
        main, params = cheap_parameters(disposition)
        part.disposition = main.lower() or None
        part.filename = params.get("filename")
    if part.filename is None and name is not None:
        part.filename = name
    if part.filename is not None:
        part.filename = part.filename.strip()  # as Message.get_filename()
    content_id = first("content-id")
    part.content_id = unfold(content_id) if content_id is not None else None
    part.transfer_encoding = unfold(first("content-transfer-encoding") or "").lower()


_PARAMETER = re.compile(
    r';\s*(?P<name>[^\s=;"]+)\s*=\s*(?P<value>"(?:[^"\\]|\\.)*"?|[^;]*)', re.S
)
_CONTINUATION = re.compile(r"(?P<name>.+?)\*(?P<index>\d+)(?P<encoded>\*)?")
MAX_CONTINUATIONS = 1000


def cheap_parameters(value: str) -> tuple[str, dict[str, str]]:
    """``Content-Type``/``Content-Disposition`` value and parameters, read in
    one pass: quoted strings, RFC 2231 (charsets, at most
    :data:`MAX_CONTINUATIONS` continuations) and RFC 2047 encoded words."""
    value = unfold(value)
    main, _, _ = value.partition(";")
    params: dict[str, str] = {}
    pieces: dict[str, list[tuple[int, str, bool]]] = {}
    for match in _PARAMETER.finditer(value, len(main)):
        name = match["name"].lower()
        raw = match["value"].strip()
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1] if raw.endswith('"') else raw[1:])
        continued = _CONTINUATION.fullmatch(name)
        if continued:
            bucket = pieces.setdefault(continued["name"], [])
            if len(bucket) < MAX_CONTINUATIONS:
                bucket.append(
                    (int(continued["index"]), raw, bool(continued["encoded"]))
                )
        elif name.endswith("*"):
            params.setdefault(name[:-1], _rfc2231(raw, True))
        else:
            params.setdefault(name, decode_words(raw))
    for name, parts in pieces.items():
        parts.sort(key=lambda piece: piece[0])
        if parts[0][2]:
            charset, _, rest = parts[0][1].partition("'")
            _, _, first = rest.partition("'")
            data = unquote_to_bytes(first) + b"".join(
                unquote_to_bytes(v) if enc else v.encode("utf-8", "surrogateescape")
                for _, v, enc in parts[1:]
            )
            params.setdefault(name, _decode_bytes(data, charset))
        else:
            params.setdefault(name, "".join(v for _, v, _ in parts))
    return main.strip().lower(), params


def _rfc2231(value: str, encoded: bool) -> str:
    if not encoded or value.count("'") < 2:
        return value
    charset, _, rest = value.partition("'")
    _, _, text = rest.partition("'")
    return _decode_bytes(unquote_to_bytes(text), charset)


# -- cheap header decoding

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(?<=\?=)[ \t]+(?==\?)")


def unfold(value: str) -> str:
    return _FOLD.sub(" ", value).strip()


def decode_words(value: str) -> str:
    """A header value unfolded, its RFC 2047 encoded words decoded: the cheap
    reading of an unstructured header, in one pass whatever its length."""
    value = unfold(value)
    if "=?" in value:
        value = _ENCODED_WORD.sub(_decode_word, _BETWEEN_WORDS.sub("", value))
    if _has_surrogates(value):
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


def _decode_word(match: re.Match[str]) -> str:
    charset, encoding, text = match.groups()
    try:
        if encoding in "bB":
            data = binascii.a2b_base64(text + "=" * (-len(text) % 4))
        else:
            data = binascii.a2b_qp(text.encode("ascii", "surrogateescape"), header=True)
    except (binascii.Error, ValueError):
        return match.group()
    return _decode_bytes(data, charset.partition("*")[0])


def _decode_bytes(data: bytes, charset: str) -> str:
    codec = _codec(charset)
    try:
        return data.decode(codec, "replace")
    except (LookupError, ValueError, TypeError):  # a codec that is not for text
        return data.decode("utf-8", "replace")


@lru_cache(maxsize=64)
def _codec(charset: str) -> str:
    """The codec for a declared charset, UTF-8 for an unknown one."""
    try:
        return codecs.lookup(charset).name if charset else "utf-8"
    except (LookupError, ValueError, TypeError):
        return "utf-8"


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_ADDRESS_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"?|\((?:[^()\\]|\\.)*\)?|<[^<>]*>?|[,;:]|[^",;:()<>]+|[()<>]',
    re.S,
)


def cheap_addresses(value: str) -> list[str]:
    """The addresses of a decoded address-list header, read in one pass: the
    ``<angle>`` address of each element, or its bare ``local@domain``."""
    addresses: list[str] = []
    angle = None
    bare: list[str] = []
    for token in _ADDRESS_TOKEN.findall(value):
        first = token[0]
        if first in ",;:":
            if first == ":" and angle is None:
                bare = []  # a group's display name, "team: a@x, b@x;"
                continue
            _add_address(addresses, angle, bare)
            angle, bare = None, []
        elif first == "<":
            angle = token[1:].rstrip(">").strip()
        elif first not in '"(' and first not in ")>":
            bare.append(token.strip())
    _add_address(addresses, angle, bare)
    return addresses


def _add_address(addresses: list[str], angle: str | None, bare: list[str]) -> None:
    if angle is not None:
        if angle:
            addresses.append(angle)
        return
    text = "".join(bare).strip()
    if text and "@" in text and " " not in text:
        addresses.append(text)


def _safe(function, default):  # type: ignore[no-untyped-def]
    try:
        return function()
    except Exception:
        return default
