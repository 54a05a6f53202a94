"""A received e-mail: its envelope, its exact bytes, and a lazily decoded view."""

from __future__ import annotations

import email.policy
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING, Literal, overload
from urllib.parse import unquote

from .codes import find_verification_codes
from .files import save_attachments, save_eml
from .links import extract_links
from .mime import (
    MAX_DEPTH,
    MAX_PARTS,
    STRUCTURED_LIMIT,
    Part,
    Tree,
    cheap_addresses,
    decode_words,
    parse_tree,
    part_of,
    stored_payload,
)

if TYPE_CHECKING:  # linkcheck imports this module, so it is imported when used
    from collections.abc import Iterable

    from .linkcheck import LinkResponse, LinkResult

HEADER_BUDGET = 64 * 1024
"""Characters of header values decoded by the structured parser per message
(the main headers first); the others are decoded by the simple decoder."""
ADDRESS_LIMIT = 16 * 1024
"""Longest address header read by :func:`email.utils.getaddresses`; longer
ones are read by the one-pass reader."""
SHOWN_RECIPIENTS = 10
SHOWN_SUBJECT = 200
_MAIN_HEADERS = frozenset(
    ["from", "to", "cc", "reply-to", "subject", "date", "message-id", "sender"]
)


@dataclass(frozen=True)
class Attachment:
    """A file attached to (or embedded in) a received message.

    ``inline`` is true for a part shown inside the body rather than offered
    as a file: the HTML body shows it (``cid:`` and its ``Content-ID``),
    whatever its ``Content-Disposition`` says (``EmailMessage.add_related(...,
    cid=..., filename=...)`` writes ``attachment``); or its disposition is
    ``inline``; or it has no disposition and has a ``Content-ID``. Any other
    part is a file the reader is offered, not inline.

    A part the reader did not open because of its limits (see
    ``ReceivedMessage.defects``) is listed as an attachment too, with its
    bytes as received.
    """

    filename: str
    content_type: str
    content: bytes = field(repr=False)
    content_id: str | None = None
    inline: bool = False

    @property
    def size(self) -> int:
        return len(self.content)

    def __str__(self) -> str:
        return f"{self.filename} ({self.content_type}, {self.size} bytes)"


class Headers(Mapping[str, str]):
    """Decoded headers, looked up case-insensitively.

    ``headers["Subject"]`` gives the first value, ``headers.get_all("Received")``
    every value of a repeated header, in order.
    """

    def __init__(self, items: list[tuple[str, str]]):
        self._items = items
        self._first: dict[str, str] = {}
        for name, value in items:
            self._first.setdefault(name.lower(), value)

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        seen = set()
        for name, _ in self._items:
            if name.lower() not in seen:
                seen.add(name.lower())
                yield name

    def __len__(self) -> int:
        return len(self._first)

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self._items if key.lower() == name.lower()]

    def items_all(self) -> list[tuple[str, str]]:
        """Every header in the order received, repeated ones included."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


# Most mail has no ESMTP options: one shared empty list, never mutated here.
_NO_OPTIONS: list[str] = []


class ReceivedMessage:
    """One message the server accepted with ``250``.

    The envelope (``sender``, ``recipients``, ``peer``, ``helo``, ...) and the
    exact bytes (``raw``) are stored on arrival; everything decoded from the
    content (``subject``, ``text``, ``attachments``, ...) is parsed on first
    access and cached, so a message nobody looks at is never parsed.

    Reading never raises and its work is bounded, whatever the bytes: a
    malformed or hostile message gives its best reading. Past these limits
    the rest is kept as received rather than read:

    - nesting deeper than 100 levels (multipart parts and attached messages
      alike): the deeper part is kept whole, as an attachment of its bytes;
    - more than 1,000 MIME parts (or 10,000 boundary lines): the rest of the
      message is not split into parts;
    - header values longer than 8 KB, or past the first 64 KB of header
      values (the main headers are read first), and MIME headers of parts
      past 32 KB: decoded by a simple one-pass decoder (unfolding and
      RFC 2047 encoded words) instead of the standard library's structured
      parser; address headers longer than 16 KB are read the same way;
    - ``summary()`` and ``repr()`` show at most 10 recipients and 200
      characters of the subject.

    ``defects`` lists, as short sentences, what was cut and where (and
    structural faults such as a boundary that never closes); it is empty for
    ordinary mail. ``raw`` is always exactly the bytes received, and
    ``source`` and ``matching=`` filters search all of it.
    """

    # The envelope in slots: a stored message costs little more than its
    # bytes. What is decoded later lives in __dict__, made on first use.
    __slots__ = (
        "__dict__",
        "__weakref__",
        "auth_user",
        "claimed",
        "helo",
        "mail_options",
        "peer",
        "raw",
        "rcpt_options",
        "received_at",
        "recipients",
        "sender",
        "sequence",
        "tls",
        "tls_version",
    )

    def __init__(
        self,
        raw: bytes,
        sender: str,
        recipients: list[str],
        *,
        peer: tuple[str, int] | None = None,
        helo: str | None = None,
        received_at: datetime | None = None,
        sequence: int = 0,
        tls: bool = False,
        tls_version: str | None = None,
        auth_user: str | None = None,
        mail_options: list[str] | None = None,
        rcpt_options: list[str] | None = None,
    ):
        self.raw = raw
        self.sender = sender
        self.recipients = recipients
        self.peer = peer
        self.helo = helo
        self.received_at = received_at or datetime.now()
        self.sequence = sequence
        self.tls = tls
        self.tls_version = tls_version
        self.auth_user = auth_user
        self.mail_options = mail_options or _NO_OPTIONS
        self.rcpt_options = rcpt_options or _NO_OPTIONS
        self.claimed = False

    @cached_property
    def recipients_lowercase(self) -> frozenset[str]:
        """For the recipient filter, which scans whole mailboxes."""
        return frozenset([r.lower() for r in self.recipients])

    def __repr__(self) -> str:
        return (
            f"<ReceivedMessage #{self.sequence} from {self.sender!r} "
            f"to {self.recipients[:SHOWN_RECIPIENTS]!r}{_more(self.recipients)} "
            f"subject {_clip(self.subject, SHOWN_SUBJECT)!r}>"
        )

    def summary(self) -> str:
        """One line: sender, recipients and subject, as failure messages show
        (at most 10 recipients and 200 characters of the subject)."""
        return (
            f"from <{self.sender}> to {_shown_recipients(self.recipients)}"
            f" subject {_clip(self.subject, SHOWN_SUBJECT)!r}"
        )

    @property
    def size(self) -> int:
        return len(self.raw)

    @cached_property
    def source(self) -> str:
        """The raw message as text, line endings as ``\\n``."""
        return self.raw.decode("utf-8", "replace").replace("\r\n", "\n")

    @cached_property
    def _tree(self) -> Tree:
        try:
            return parse_tree(self.raw)
        except Exception as error:  # a bug of ours must not hide the message
            message = EmailMessage(policy=email.policy.default)
            message.set_payload(self.raw.decode("ascii", "surrogateescape"))
            root = Part(message, 0, 0, len(self.raw), opaque=True)
            reason = f"{type(error).__name__}: {error}"
            return Tree(root, [f"The structure could not be read ({reason})."], 1)

    @cached_property
    def parsed(self) -> EmailMessage:
        """The message as an :mod:`email` object (``email.policy.default``),
        split into parts within the limits above."""
        return self._tree.root.message

    @cached_property
    def _decoded_headers(self) -> tuple[Headers, list[str]]:
        return _decode_headers(self.parsed)

    @property
    def headers(self) -> Headers:
        return self._decoded_headers[0]

    @cached_property
    def defects(self) -> list[str]:
        """What reading this message cut or found broken, as short sentences
        (empty for ordinary mail): parts past the nesting or part limits,
        headers read by the simple decoder, boundaries never opened or
        closed. The bytes themselves are always all in ``raw``."""
        for name in ("From", "To", "Cc", "Reply-To"):
            self._address_list(name)
        return [
            *self._tree.defects,
            *self._decoded_headers[1],
            *self._address_defects,
        ]

    @property
    def subject(self) -> str:
        return self.headers.get("Subject", "")

    @property
    def message_id(self) -> str:
        return self.headers.get("Message-ID", "").strip()

    @property
    def reply_to(self) -> list[str]:
        return self._addresses("Reply-To")

    @property
    def from_address(self) -> str:
        """The plain address of the ``From`` header (empty when missing)."""
        addresses = self._addresses("From")
        return addresses[0] if addresses else ""

    @property
    def to(self) -> list[str]:
        return self._addresses("To")

    @property
    def cc(self) -> list[str]:
        return self._addresses("Cc")

    @property
    def bcc(self) -> list[str]:
        """Envelope recipients that appear in neither ``To`` nor ``Cc``."""
        visible = {address.lower() for address in self.to + self.cc}
        return [r for r in self.recipients if r.lower() not in visible]

    @cached_property
    def date(self) -> datetime | None:
        value = self.headers.get("Date")
        if not value:
            return None
        try:
            return parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None

    @property
    def text(self) -> str:
        return self._bodies[0]

    @property
    def html(self) -> str:
        return self._bodies[1]

    @cached_property
    def attachments(self) -> list[Attachment]:
        root = self._tree.root
        found = [_attachment(part) for part in _attachment_parts(root)]
        shown = (
            _cid_references(self.html) if any(a.content_id for a in found) else set()
        )
        return [
            replace(a, inline=True) if a.content_id in shown and not a.inline else a
            for a in found
        ]

    @cached_property
    def links(self) -> list[str]:
        """Every http(s) link of the text and HTML bodies, in order, no duplicates."""
        return extract_links(self.text, self.html)

    # --- verification codes and link checks (issue 11) ---------------------

    @overload
    def verification_code(
        self, pattern: str | None = None, all: Literal[False] = False
    ) -> str | None: ...

    @overload
    def verification_code(
        self, pattern: str | None = None, *, all: Literal[True]
    ) -> list[str]: ...

    def verification_code(
        self, pattern: str | None = None, all: bool = False
    ) -> str | list[str] | None:
        """The one-time code of a sign-in, 2FA or verification mail, as a string.

        Prefers a run of 4-10 digits or letters near words such as *code*,
        *PIN*, *OTP*, *verification* or *passcode* (also *Bestätigungscode*,
        *code de vérification*, *código*, ...) in the subject, the text body or
        the HTML body's text; then a link parameter named like a code
        (``?otp=``, ``?code=``, ``?pin=``); then a lone run of digits, or of
        two or three spaced groups of digits (``482 193``). The subject counts
        as the paragraph above the body: a subject such as *Your code*
        announces a code at the top of the body. Dates, years, prices, phone
        numbers, order and invoice numbers and the digits of links are never
        taken. Spaced digits are joined (``482 193`` -> ``482193``), a
        hyphenated code is returned as written (``G-482193``), leading zeros
        are kept.

        ``pattern`` is a regular expression for unusual formats: the code is
        its first group, or the whole match. ``all=True`` returns every
        candidate, the most likely first. Returns ``None`` (or ``[]``) when the
        message has no code.

        >>> message.verification_code()
        '482193'
        >>> message.verification_code(pattern=r"Ticket-PIN: (\\w{6})")
        'K7QX2P'
        """
        codes = find_verification_codes(
            self.subject, self.text, self.html, pattern=pattern
        )
        return codes if all else (codes[0] if codes else None)

    def check_links(
        self,
        *,
        images: bool = False,
        timeout: float = 10.0,
        ignore: str | Iterable[str] | None = None,
        parallel: int = 8,
    ) -> list[LinkResult]:
        """Requests every link (and with ``images=True`` every image) of the
        message over HTTP, ``parallel`` at a time, redirects followed.

        Returns a :class:`~SMTPMockLibrary.linkcheck.LinkResult` per link, in
        order, each with ``ok``, ``status``, ``url`` (after redirects) and
        ``error``. ``timeout`` is in seconds; ``ignore`` takes patterns in the
        filter vocabulary (contained text, ``regexp:``, ``glob:``).

        >>> broken = [r for r in message.check_links(timeout=5) if not r.ok]
        >>> assert not broken, "\\n".join(map(str, broken))
        """
        from .linkcheck import check_message_links

        return check_message_links(
            self, images=images, timeout=timeout, ignore=ignore, parallel=parallel
        )

    def open_link(
        self, matching: str | None = None, *, timeout: float = 10.0
    ) -> LinkResponse:
        """Opens the first link that ``matching`` selects (contained text,
        ``regexp:`` or ``glob:``; the first link without it), as a click would.

        Returns a :class:`~SMTPMockLibrary.linkcheck.LinkResponse` with
        ``status``, ``url`` after redirects, ``text`` and ``headers``; an HTTP
        error status is returned too. Raises ``LinkError`` when no link matches
        or there is no answer.

        >>> response = message.open_link(matching="/confirm")
        >>> assert response.status == 200 and "Thank you" in response.text
        """
        from .linkcheck import open_message_link

        return open_message_link(self, matching, timeout=timeout)

    # --- end of verification codes and link checks --------------------------

    def save_as_eml(self, path: str | os.PathLike[str]) -> str:
        """Write the exact bytes received to ``path`` (an ``.eml`` file any
        mail client opens), creating its directory; return the path."""
        return save_eml(self, path)

    def save_attachments(self, directory: str | os.PathLike[str]) -> list[str]:
        """Write every attachment to ``directory`` and return the paths.

        File names are made safe for the file system and never lead outside
        ``directory``, whatever the e-mail says; a name already taken gets
        ``-2``, ``-3``... before the extension.
        """
        return save_attachments(self.attachments, directory)

    @cached_property
    def searchable_text(self) -> str:
        """What ``matching=`` searches: source, decoded headers and text parts."""
        headers = "\n".join(f"{n}: {v}" for n, v in self.headers.items_all())
        parts = [_decode_text(part) for part in _text_parts(self._tree.root)]
        return "\n".join([self.source, headers, *parts])

    @cached_property
    def _bodies(self) -> tuple[str, str]:
        text = html = None
        for part in _body_parts(self._tree.root):
            subtype = part.subtype
            if subtype == "plain" and text is None:
                text = _decode_text(part)
            elif subtype == "html" and html is None:
                html = _decode_text(part)
            if text is not None and html is not None:
                break
        return text or "", html or ""

    def _addresses(self, name: str) -> list[str]:
        return list(self._address_list(name))

    @cached_property
    def _address_lists(self) -> dict[str, list[str]]:
        return {}

    @cached_property
    def _address_defects(self) -> list[str]:
        return []

    def _address_list(self, name: str) -> list[str]:
        cached = self._address_lists.get(name)
        if cached is None:
            values = self.headers.get_all(name)
            length = sum(len(value) for value in values)
            if length <= ADDRESS_LIMIT:
                cached = [a for _, a in _safe_getaddresses(values) if a]
            else:
                cached = [a for value in values for a in cheap_addresses(value)]
                self._address_defects.append(
                    f"The {name} header ({length:,} characters, "
                    f"{len(cached):,} addresses) was read by the simple reader."
                )
            self._address_lists[name] = cached
        return cached

    def to_dict(self) -> dict:
        """The message as plain data, with the attribute names as keys."""
        return {
            "sequence": self.sequence,
            "sender": self.sender,
            "recipients": list(self.recipients),
            "peer": list(self.peer) if self.peer else None,
            "helo": self.helo,
            "received_at": self.received_at.isoformat(),
            "tls": self.tls,
            "tls_version": self.tls_version,
            "auth_user": self.auth_user,
            "mail_options": list(self.mail_options),
            "rcpt_options": list(self.rcpt_options),
            "subject": self.subject,
            "from_address": self.from_address,
            "to": self.to,
            "cc": self.cc,
            "bcc": self.bcc,
            "reply_to": self.reply_to,
            "message_id": self.message_id,
            "date": self.date.isoformat() if self.date else None,
            "headers": dict(self.headers),
            "text": self.text,
            "html": self.html,
            "links": self.links,
            "attachments": [
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                    "content_id": a.content_id,
                    "inline": a.inline,
                    "content": a.content,
                }
                for a in self.attachments
            ],
            "size": self.size,
            "defects": list(self.defects),
            "source": self.source,
            "raw": self.raw,
        }


def _decode_headers(message: EmailMessage) -> tuple[Headers, list[str]]:
    """Headers decoded by the structured parser within :data:`HEADER_BUDGET`
    (main headers first), the others by the simple decoder; and what was cut."""
    items = [(str(name), str(value)) for name, value in message.raw_items()]
    order = sorted(
        range(len(items)), key=lambda i: (items[i][0].lower() not in _MAIN_HEADERS, i)
    )
    values = [""] * len(items)
    budget = HEADER_BUDGET
    long_ones: list[str] = []
    over_budget = 0
    for index in order:
        name, raw_value = items[index]
        if len(raw_value) > STRUCTURED_LIMIT:
            long_ones.append(f"{name} ({len(raw_value):,} characters)")
            values[index] = decode_words(raw_value)
        elif len(raw_value) > budget:
            over_budget += 1
            budget = 0
            values[index] = decode_words(raw_value)
        else:
            budget -= len(raw_value)
            values[index] = _header_value(name, raw_value)
    defects = []
    if long_ones:
        shown = ", ".join(long_ones[:5]) + (" ..." if len(long_ones) > 5 else "")
        defects.append(
            f"{len(long_ones):,} header(s) longer than {STRUCTURED_LIMIT:,} "
            f"characters decoded by the simple decoder: {shown}."
        )
    if over_budget:
        defects.append(
            f"{over_budget:,} header(s) past the first {HEADER_BUDGET // 1024} KB "
            "of header values decoded by the simple decoder."
        )
    return Headers(
        [(name, value) for (name, _), value in zip(items, values, strict=True)]
    ), defects


def _safe_getaddresses(values: list[str]) -> list[tuple[str, str]]:
    try:
        return getaddresses(values)
    except Exception:  # the address parser has edge cases that raise
        return [("", address) for value in values for address in cheap_addresses(value)]


def _header_value(name: str, raw_value: str) -> str:
    try:
        value = str(email.policy.default.header_fetch_parse(name, raw_value))
    except Exception:  # the header parser has edge cases that raise
        value = _decode_words_loosely(raw_value)
    return _unfold(value)


def _decode_words_loosely(raw_value: str) -> str:
    from email.header import decode_header, make_header

    try:
        return str(make_header(decode_header(raw_value)))
    except Exception:
        return raw_value


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]*", " ", value).strip()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _shown_recipients(recipients: list[str]) -> str:
    shown = ", ".join(f"<{r}>" for r in recipients[:SHOWN_RECIPIENTS])
    return shown + _more(recipients)


def _more(recipients: list[str]) -> str:
    more = len(recipients) - SHOWN_RECIPIENTS
    return f" and {more:,} more" if more > 0 else ""


# _is_attachment and _attachment also take the email.message.Message parts of
# `parsed`: services/http_mailpit.py walks those.


_CID_REFERENCE = re.compile(r"""cid:([^"'\s)>]+)""", re.IGNORECASE)


def _cid_references(html: str) -> set[str]:
    """The Content-IDs the HTML body shows with ``cid:``."""
    return {unquote(match) for match in _CID_REFERENCE.findall(html)}


def _walk(root: Part, *, into_attached_messages: bool) -> Iterator[Part]:
    """Leaf parts in order; attached ``message/rfc822`` parts are entered or not."""
    stack = [root]
    while stack:
        part = stack.pop()
        if part.content_type == "message/rfc822":
            if into_attached_messages and part.children:
                stack.append(part.children[0])
            else:
                yield part
        elif part.children:
            stack.extend(reversed(part.children))
        else:
            yield part


def _is_attachment(part: Part | Message) -> bool:
    part = part if isinstance(part, Part) else part_of(part)
    if part.opaque or part.content_type == "message/rfc822":
        return True
    if part.disposition == "attachment" or part.filename:
        return True
    return part.maintype not in ("text", "multipart")


def _body_parts(root: Part) -> Iterator[Part]:
    for part in _walk(root, into_attached_messages=False):
        if part.maintype == "text" and not _is_attachment(part):
            yield part
    # A forwarded message with no body of its own: read the forwarded one.
    for part in _walk(root, into_attached_messages=True):
        if part.maintype == "text" and not _is_attachment(part):
            yield part


def _text_parts(root: Part) -> Iterator[Part]:
    for part in _walk(root, into_attached_messages=True):
        if part.maintype == "text":
            yield part


def _attachment_parts(root: Part) -> Iterator[Part]:
    for part in _walk(root, into_attached_messages=False):
        if _is_attachment(part):
            yield part


def _attachment(part: Part | Message) -> Attachment:
    part = part if isinstance(part, Part) else part_of(part)
    if part.content_type == "message/rfc822" and part.children:
        inner = part.children[0]
        if inner.raw:
            content = inner.raw[inner.start : inner.end]  # as received
        else:
            content = _message_bytes(inner.message)
    elif part.opaque:
        content = _stored_payload(part)
    else:
        content = _payload_bytes(part)
    filename = part.filename or ""
    if not filename:
        extension = "eml" if part.content_type == "message/rfc822" else "bin"
        filename = f"unnamed.{extension}"
    content_id = part.content_id.strip().strip("<>") if part.content_id else None
    disposition = part.disposition
    return Attachment(
        filename=_unfold(str(filename)),
        content_type=part.content_type,
        content=content,
        content_id=content_id,
        inline=disposition == "inline" or (disposition is None and bool(content_id)),
    )


def _message_bytes(message: Message) -> bytes:
    """A message as bytes, even when its headers hold undecodable bytes."""
    for policy in (message.policy, email.policy.compat32):
        try:
            return message.as_bytes(policy=policy)
        except Exception:
            continue
    return message.as_string(policy=email.policy.compat32).encode("utf-8", "replace")


def _stored_payload(part: Part) -> bytes:
    payload = stored_payload(part.message)
    return (
        payload.encode("ascii", "surrogateescape") if isinstance(payload, str) else b""
    )


def _payload_bytes(part: Part) -> bytes:
    """The part's content with its transfer encoding undone."""
    payload = None
    if len(part.transfer_encoding) <= 64:  # longer ones are no encoding we know
        try:
            payload = part.message.get_payload(decode=True)
        except Exception:
            payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.message.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _decode_text(part: Part) -> str:
    """The part's text in its declared charset, line endings as ``\n``."""
    payload = _payload_bytes(part)
    charset = part.charset or "utf-8"
    for candidate in (charset, "utf-8"):
        try:
            text = payload.decode(candidate)
            break
        except (LookupError, UnicodeDecodeError):
            continue
    else:
        text = payload.decode("utf-8", "replace")
    return text.replace("\r\n", "\n")


__all__ = ["MAX_DEPTH", "MAX_PARTS", "Attachment", "Headers", "ReceivedMessage"]
