"""The mailbox as Mailpit's API shows it: IDs, read flags, tags, and JSON shapes.

A message's ID is its sequence number as a string (``"1"``, ``"2"``, ...): it
never changes and never comes back after a reset. The read flag and tags live
here, beside the mailbox; tags start as the message's ``X-Tags`` header and
the API can replace them. Deleting some messages hides them from the HTTP API
only (the mailbox keeps every accepted message until a reset); deleting all
empties the mailbox.

Everything here runs on the HTTP service's own thread: no locks are needed
beyond the mailbox's own.
"""

from __future__ import annotations

import base64
import hashlib
import re
import weakref
from collections.abc import Iterator
from datetime import datetime, timezone
from email.message import Message
from email.utils import getaddresses
from html.parser import HTMLParser

from ..errors import ConfigurationError
from ..inbox import Inboxes
from ..mailbox import Mailbox
from ..message import Attachment, ReceivedMessage

# message.py decides which parts are attachments; the API must list the same
# ones, so it reuses those two rules rather than keeping a copy of them.
from ..message import _attachment as attachment_of
from ..message import _is_attachment as is_attachment
from ..version import __version__
from .http_search import SearchError, Test, clean

SNIPPET_LENGTH = 250
_TAG_CHARACTERS = re.compile(r"[^a-zA-Z0-9\-._ ]")
_TOKEN_HEADER = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class MessageView:
    """One message with what the API needs from it, computed once."""

    def __init__(self, message: ReceivedMessage, store: MailStore):
        self.message = message
        self.id = str(message.sequence)
        self._store = store
        self._parts: list[tuple[str, Attachment]] | None = None
        self._text: str | None = None

    # The Searchable protocol (see http_search).

    def addresses(self, field: str) -> str:
        header = {"reply-to": "Reply-To"}.get(field, field.capitalize())
        values = self.message.headers.get_all(header)
        if field == "bcc":
            return clean(" ".join(self.message.bcc))
        return clean(" ".join(f"{n} {a}" for n, a in getaddresses(values)))

    def subject(self) -> str:
        return self.message.subject

    def message_id(self) -> str:
        return self.message.message_id

    def tags(self) -> list[str]:
        return self._store.tags_of(self)

    def read(self) -> bool:
        return self._store.is_read(self)

    def attachment_count(self) -> int:
        return len(self.attachments())

    def inline_count(self) -> int:
        return len(self.inlines())

    def in_inbox(self, name: str) -> bool:
        return self._store.in_inbox(self, name)

    def received(self) -> datetime:
        return self.message.received_at.astimezone(timezone.utc)

    def size(self) -> int:
        return self.message.size

    def text(self) -> str:
        if self._text is None:
            names = " ".join(a.filename for _, a in self.parts())
            self._text = clean(
                " ".join(
                    [
                        self.message.subject,
                        *(self.addresses(f) for f in ("from", "to", "cc", "bcc")),
                        self.message.text,
                        html_to_text(self.message.html),
                        names,
                    ]
                )
            )
        return self._text

    # Parts.

    def parts(self) -> list[tuple[str, Attachment]]:
        """Attachments and inline files with their MIME part IDs (``"2"``, ``"1.2"``)."""
        if self._parts is None:
            self._parts = [
                (part_id, attachment_of(part))
                for part_id, part in _leaves(self.message.parsed, "")
                if is_attachment(part)
            ]
        return self._parts

    def attachments(self) -> list[tuple[str, Attachment]]:
        return [(i, a) for i, a in self.parts() if not self._is_inline(a)]

    def inlines(self) -> list[tuple[str, Attachment]]:
        return [(i, a) for i, a in self.parts() if self._is_inline(a)]

    def _is_inline(self, attachment: Attachment) -> bool:
        """Embedded in the HTML body: has a Content-ID the body refers to."""
        cid = attachment.content_id
        return cid is not None and (
            attachment.inline or f"cid:{cid}" in self.message.html
        )

    def part(self, part_id: str) -> Attachment | None:
        return next((a for i, a in self.parts() if i == part_id), None)


class MailStore:
    """The mailbox seen through Mailpit's eyes: newest first, with state."""

    def __init__(self, mailbox: Mailbox, inboxes: Inboxes | None = None):
        self.mailbox = mailbox
        self.inboxes = inboxes
        self._inbox_members: dict[str, set[int]] = {}
        self._views: weakref.WeakKeyDictionary[ReceivedMessage, MessageView] = (
            weakref.WeakKeyDictionary()
        )
        self._read: set[str] = set()
        self._tags: dict[str, list[str]] = {}
        self._hidden: set[str] = set()

    def view(self, message: ReceivedMessage) -> MessageView:
        view = self._views.get(message)
        if view is None:
            view = self._views[message] = MessageView(message, self)
        return view

    def messages(self) -> list[MessageView]:
        """Every message not deleted over HTTP, newest first."""
        snapshot = self.mailbox.snapshot()
        if len(self._hidden) > len(snapshot) or len(self._read) > len(snapshot):
            self._forget_gone({str(m.sequence) for m in snapshot})
        return [
            self.view(m)
            for m in reversed(snapshot)
            if str(m.sequence) not in self._hidden
        ]

    def search(self, test: Test) -> list[MessageView]:
        """The messages ``test`` holds for, newest first.

        Raises :class:`SearchError` for a term that names what does not exist.
        """
        self._inbox_members = {}  # inboxes are read afresh for each search
        return [view for view in self.messages() if test(view)]

    def in_inbox(self, view: MessageView, name: str) -> bool:
        if name not in self._inbox_members:
            if self.inboxes is None:
                raise SearchError("This mailbox has no inboxes.")
            try:
                inbox = self.inboxes.get(name)
            except ConfigurationError as error:
                raise SearchError(str(error)) from None
            self._inbox_members[name] = {m.sequence for m in inbox.get_messages()}
        return view.message.sequence in self._inbox_members[name]

    def find(self, message_id: str) -> MessageView | None:
        """The message with this ID, or the newest one for ``latest``."""
        if message_id == "latest":
            messages = self.messages()
            return messages[0] if messages else None
        if not message_id.isdigit() or message_id in self._hidden:
            return None
        message = self.mailbox.find(int(message_id))
        return self.view(message) if message is not None else None

    # State.

    def is_read(self, view: MessageView) -> bool:
        return view.id in self._read

    def set_read(self, views: list[MessageView], read: bool) -> list[MessageView]:
        """Mark ``views``; return those whose flag changed."""
        changed = [v for v in views if (v.id in self._read) != read]
        for view in changed:
            (self._read.add if read else self._read.discard)(view.id)
        return changed

    def tags_of(self, view: MessageView) -> list[str]:
        if view.id not in self._tags:
            header = ",".join(view.message.headers.get_all("X-Tags"))
            self._tags[view.id] = clean_tags(header.split(","))
        return self._tags[view.id]

    def set_tags(self, view: MessageView, tags: list[str]) -> None:
        self._tags[view.id] = clean_tags(tags)

    def all_tags(self) -> list[str]:
        tags = {tag for view in self.messages() for tag in self.tags_of(view)}
        return sorted(tags, key=str.lower)

    def delete(self, views: list[MessageView]) -> None:
        self._hidden.update(view.id for view in views)

    def delete_all(self) -> None:
        self.mailbox.clear()
        self._forget_gone(set())

    def unread_count(self, views: list[MessageView]) -> int:
        return sum(1 for view in views if view.id not in self._read)

    def _forget_gone(self, present: set[str]) -> None:
        self._read &= present
        self._hidden &= present
        self._tags = {k: v for k, v in self._tags.items() if k in present}


def clean_tags(tags: list[str]) -> list[str]:
    """Mailpit's tag rule: letters, digits, ``-._`` and spaces; no empty or repeated tag."""
    cleaned = (" ".join(_TAG_CHARACTERS.sub("", tag).split()) for tag in tags)
    return sorted(dict.fromkeys(t for t in cleaned if t), key=str.lower)


# JSON shapes, field for field as Mailpit's API documents them.


def summary_json(view: MessageView) -> dict:
    """A ``MessageSummary``: one row of ``/api/v1/messages`` and ``/api/v1/search``."""
    message = view.message
    return {
        "ID": view.id,
        "MessageID": _bare_message_id(message.message_id),
        "Read": view.read(),
        "From": _address(message, "From") or {"Name": "", "Address": ""},
        "To": _addresses(message, "To"),
        "Cc": _addresses(message, "Cc"),
        "Bcc": [{"Name": "", "Address": a} for a in message.bcc],
        "ReplyTo": _addresses(message, "Reply-To"),
        "Subject": message.subject,
        "Created": _timestamp(message.received_at),
        "Username": message.auth_user or "",
        "Tags": view.tags(),
        "Size": message.size,
        "Attachments": len(view.attachments()),
        "Snippet": snippet(message),
    }


def message_json(view: MessageView) -> dict:
    """A ``Message``: ``/api/v1/message/{ID}``."""
    message = view.message
    return {
        "ID": view.id,
        "MessageID": _bare_message_id(message.message_id),
        "From": _address(message, "From"),
        "To": _addresses(message, "To"),
        "Cc": _addresses(message, "Cc"),
        "Bcc": [{"Name": "", "Address": a} for a in message.bcc],
        "ReplyTo": _addresses(message, "Reply-To"),
        "ReturnPath": message.sender,
        "Subject": message.subject,
        "ListUnsubscribe": _list_unsubscribe(message),
        "Date": _timestamp(message.date or message.received_at),
        "Tags": view.tags(),
        "Username": message.auth_user or "",
        "Text": message.text,
        "HTML": message.html,
        "Size": message.size,
        "Inline": [_attachment_json(i, a) for i, a in view.inlines()],
        "Attachments": [_attachment_json(i, a) for i, a in view.attachments()],
    }


def headers_json(message: ReceivedMessage) -> dict[str, list[str]]:
    """Headers as received (not decoded), names in Go's canonical form, sorted."""
    headers: dict[str, list[str]] = {}
    for name, value in message.parsed.raw_items():
        unfolded = re.sub(r"\r?\n[ \t]*", " ", str(value)).strip()
        headers.setdefault(canonical_header_name(str(name)), []).append(unfolded)
    return dict(sorted(headers.items()))


def canonical_header_name(name: str) -> str:
    """``message-id`` -> ``Message-Id``, as Go's net/textproto writes names."""
    if not _TOKEN_HEADER.match(name):
        return name
    return "-".join(word[:1].upper() + word[1:].lower() for word in name.split("-"))


def stats_json(store: MailStore) -> dict:
    """The ``stats`` event of ``/api/events``."""
    messages = store.messages()
    return {
        "Total": len(messages),
        "Unread": store.unread_count(messages),
        "Version": f"smtpmock {__version__}",
    }


def snippet(message: ReceivedMessage) -> str:
    text = message.text or html_to_text(message.html)
    words = " ".join(text.split())
    return words if len(words) <= SNIPPET_LENGTH else words[:SNIPPET_LENGTH] + "..."


def html_to_text(html: str) -> str:
    """The text a reader sees in ``html``, without tags, styles or scripts."""
    if not html:
        return ""
    collector = _TextCollector()
    try:
        collector.feed(html)
        collector.close()
    except Exception:  # HTMLParser is lenient; never let a summary fail
        pass
    return " ".join(collector.text)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("style", "script", "head", "title"):
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head", "title") and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.text.append(data.strip())


def _leaves(message: Message, path: str) -> Iterator[tuple[str, Message]]:
    """Leaf parts with their MIME part IDs; an attached message is one leaf.

    Walked with a stack, not recursion: hostile mail nests parts thousands deep.
    """
    stack = [(path, message)]
    while stack:
        part_path, part = stack.pop()
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list) and not _is_rfc822(part):
            children = [
                (f"{part_path}.{n}" if part_path else str(n), child)
                for n, child in enumerate(payload, start=1)
                if isinstance(child, Message)
            ]
            stack.extend(reversed(children))
        else:
            yield part_path or "1", part


def _is_rfc822(part: Message) -> bool:
    return part.get_content_type() == "message/rfc822"


def _attachment_json(part_id: str, attachment: Attachment) -> dict:
    content = attachment.content
    return {
        "PartID": part_id,
        "FileName": attachment.filename,
        "ContentType": attachment.content_type,
        "ContentID": attachment.content_id or "",
        "Size": attachment.size,
        "Checksums": {
            "MD5": hashlib.md5(content, usedforsecurity=False).hexdigest(),
            "SHA1": hashlib.sha1(content, usedforsecurity=False).hexdigest(),
            "SHA256": hashlib.sha256(content).hexdigest(),
        },
    }


def _addresses(message: ReceivedMessage, header: str) -> list[dict]:
    values = message.headers.get_all(header)
    return [{"Name": n, "Address": a} for n, a in getaddresses(values) if a]


def _address(message: ReceivedMessage, header: str) -> dict | None:
    addresses = _addresses(message, header)
    return addresses[0] if addresses else None


def _bare_message_id(value: str) -> str:
    return value.strip().removeprefix("<").removesuffix(">")


def _timestamp(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.astimezone()
    return aware.isoformat(timespec="milliseconds")


def _list_unsubscribe(message: ReceivedMessage) -> dict:
    header = message.headers.get("List-Unsubscribe", "")
    links = re.findall(r"<([^>]+)>", header)
    errors = "" if links or not header else "No valid links found"
    return {
        "Header": header,
        "Links": links,
        "Errors": errors,
        "HeaderPost": message.headers.get("List-Unsubscribe-Post", ""),
    }


def data_url(attachment: Attachment) -> str:
    encoded = base64.b64encode(attachment.content).decode("ascii")
    return f"data:{attachment.content_type};base64,{encoded}"
