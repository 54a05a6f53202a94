"""A received e-mail: its envelope, its exact bytes, and a lazily decoded view."""

from __future__ import annotations

import email.policy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING

from .codes import find_verification_codes
from .links import extract_links

if TYPE_CHECKING:  # linkcheck imports this module, so it is imported when used
    from collections.abc import Iterable

    from .linkcheck import LinkResponse, LinkResult

_PARSER = BytesParser(policy=email.policy.default)


@dataclass(frozen=True)
class Attachment:
    """A file attached to (or embedded in) a received message."""

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


class ReceivedMessage:
    """One message the server accepted with ``250``.

    The envelope (``sender``, ``recipients``, ``peer``, ``helo``, ...) and the
    exact bytes (``raw``) are stored on arrival; everything decoded from the
    content (``subject``, ``text``, ``attachments``, ...) is parsed on first
    access and cached, so a message nobody looks at is never parsed.
    """

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
        # For the recipient filter, which scans whole mailboxes.
        self.recipients_lowercase = frozenset([r.lower() for r in recipients])
        self.peer = peer
        self.helo = helo
        self.received_at = received_at or datetime.now()
        self.sequence = sequence
        self.tls = tls
        self.tls_version = tls_version
        self.auth_user = auth_user
        self.mail_options = mail_options or []
        self.rcpt_options = rcpt_options or []
        self.claimed = False

    def __repr__(self) -> str:
        return (
            f"<ReceivedMessage #{self.sequence} from {self.sender!r} "
            f"to {self.recipients!r} subject {self.subject!r}>"
        )

    def summary(self) -> str:
        """One line: sender, recipients and subject, as failure messages show."""
        return (
            f"from <{self.sender}> to {', '.join(f'<{r}>' for r in self.recipients)}"
            f" subject {self.subject!r}"
        )

    @property
    def size(self) -> int:
        return len(self.raw)

    @cached_property
    def source(self) -> str:
        """The raw message as text, line endings as ``\\n``."""
        return self.raw.decode("utf-8", "replace").replace("\r\n", "\n")

    @cached_property
    def parsed(self) -> EmailMessage:
        """The message parsed by :mod:`email` with ``email.policy.default``."""
        message = _PARSER.parsebytes(self.raw)
        assert isinstance(message, EmailMessage)
        return message

    @cached_property
    def headers(self) -> Headers:
        return Headers(
            [
                (name, _header_value(name, value))
                for name, value in _raw_headers(self.parsed)
            ]
        )

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
        return [_attachment(part) for part in _attachment_parts(self.parsed)]

    @cached_property
    def links(self) -> list[str]:
        """Every http(s) link of the text and HTML bodies, in order, no duplicates."""
        return extract_links(self.text, self.html)

    # --- verification codes and link checks (issue 11) ---------------------

    def verification_code(
        self, pattern: str | None = None, all: bool = False
    ) -> str | list[str] | None:
        """The one-time code of a sign-in, 2FA or verification mail, as a string.

        Prefers a run of 4-10 digits or letters near words such as *code*,
        *PIN*, *OTP*, *verification* or *passcode* (also *Bestätigungscode*,
        *code de vérification*, *código*, ...) in the subject, the text body or
        the HTML body's text; then a link parameter named like a code
        (``?otp=``, ``?code=``, ``?pin=``); then a lone run of digits. Dates,
        years, prices, phone numbers, order and invoice numbers and the digits
        of links are never taken. Spaced digits are joined (``482 193`` ->
        ``482193``), a hyphenated code is returned as written (``G-482193``),
        leading zeros are kept.

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

    @cached_property
    def searchable_text(self) -> str:
        """What ``matching=`` searches: source, decoded headers and text parts."""
        headers = "\n".join(f"{n}: {v}" for n, v in self.headers.items_all())
        parts = [_decode_text(part) for part in _text_parts(self.parsed)]
        return "\n".join([self.source, headers, *parts])

    @cached_property
    def _bodies(self) -> tuple[str, str]:
        text = html = None
        for part in _body_parts(self.parsed):
            subtype = part.get_content_subtype()
            if subtype == "plain" and text is None:
                text = _decode_text(part)
            elif subtype == "html" and html is None:
                html = _decode_text(part)
            if text is not None and html is not None:
                break
        return text or "", html or ""

    def _addresses(self, name: str) -> list[str]:
        values = self.headers.get_all(name)
        return [address for _, address in getaddresses(values) if address]

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
                }
                for a in self.attachments
            ],
            "size": self.size,
            "source": self.source,
        }


def _raw_headers(message: Message) -> list[tuple[str, str]]:
    # Message._headers holds the unparsed (name, value) pairs; raw_items() is the
    # public way to reach them and never runs the header parser.
    return [(str(name), str(value)) for name, value in message.raw_items()]


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


def _walk(message: Message, *, into_attached_messages: bool) -> Iterator[Message]:
    """Leaf parts in order; attached ``message/rfc822`` parts are entered or not."""
    payload = message.get_payload()
    if message.get_content_type() == "message/rfc822":
        inner = payload[0] if isinstance(payload, list) and payload else None
        if into_attached_messages and isinstance(inner, Message):
            yield from _walk(inner, into_attached_messages=True)
        else:
            yield message
    elif message.is_multipart() and isinstance(payload, list):
        for part in payload:
            if isinstance(part, Message):
                yield from _walk(part, into_attached_messages=into_attached_messages)
    else:
        yield message


def _is_attachment(part: Message) -> bool:
    if part.get_content_type() == "message/rfc822":
        return True
    disposition = _safe(part.get_content_disposition)
    if disposition == "attachment" or _safe(part.get_filename):
        return True
    return part.get_content_maintype() not in ("text", "multipart")


def _body_parts(message: Message) -> Iterator[Message]:
    for part in _walk(message, into_attached_messages=False):
        if part.get_content_maintype() == "text" and not _is_attachment(part):
            yield part
    # A forwarded message with no body of its own: read the forwarded one.
    for part in _walk(message, into_attached_messages=True):
        if part.get_content_maintype() == "text" and not _is_attachment(part):
            yield part


def _text_parts(message: Message) -> Iterator[Message]:
    for part in _walk(message, into_attached_messages=True):
        if part.get_content_maintype() == "text":
            yield part


def _attachment_parts(message: Message) -> Iterator[Message]:
    for part in _walk(message, into_attached_messages=False):
        if _is_attachment(part):
            yield part


def _attachment(part: Message) -> Attachment:
    content_type = part.get_content_type()
    if content_type == "message/rfc822":
        inner = part.get_payload()
        inner_message = inner[0] if isinstance(inner, list) and inner else None
        content = (
            _message_bytes(inner_message) if isinstance(inner_message, Message) else b""
        )
    else:
        content = _payload_bytes(part)
    filename = _safe(part.get_filename) or ""
    if not filename:
        extension = "eml" if content_type == "message/rfc822" else "bin"
        filename = f"unnamed.{extension}"
    content_id = part.get("Content-ID")
    return Attachment(
        filename=_unfold(str(filename)),
        content_type=content_type,
        content=content,
        content_id=str(content_id).strip().strip("<>") if content_id else None,
        inline=_safe(part.get_content_disposition) != "attachment",
    )


def _message_bytes(message: Message) -> bytes:
    """An attached message as bytes, even when its headers hold undecodable bytes."""
    for policy in (message.policy, email.policy.compat32):
        try:
            return message.as_bytes(policy=policy)
        except Exception:
            continue
    return message.as_string(policy=email.policy.compat32).encode("utf-8", "replace")


def _payload_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _decode_text(part: Message) -> str:
    """The part's text in its declared charset, line endings as ``\n``."""
    payload = _payload_bytes(part)
    charset = _safe(part.get_content_charset) or "utf-8"
    for candidate in (charset, "utf-8"):
        try:
            text = payload.decode(candidate)
            break
        except (LookupError, UnicodeDecodeError):
            continue
    else:
        text = payload.decode("utf-8", "replace")
    return text.replace("\r\n", "\n")


def _safe(method):  # type: ignore[no-untyped-def]
    try:
        return method()
    except Exception:
        return None
