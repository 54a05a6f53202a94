"""Received messages as HTML cards for log.html, with every piece of content escaped.

E-mail is untrusted input: text goes through ``html.escape`` and the HTML body
is shown only inside an ``<iframe sandbox>`` (no scripts, no forms, no
navigation, no network), never injected into the log as markup.

The cards take their colours from log.html's own CSS variables, so they
follow the reader's light or dark theme; the fallbacks are the light ones.
"""

from __future__ import annotations

import base64
import re
from html import escape

from .mailbox import Rejection
from .message import Attachment, ReceivedMessage

_MAIN_HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID")
_FRAME_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
)
_CARD_STYLE = (
    "border:1px solid var(--secondary-color,#ccc);border-radius:4px;"
    "padding:6px 10px;margin:4px 0;font-family:sans-serif;font-size:13px;"
    "color:var(--text-color,#000);background:var(--target-color,#f9f9f9)"
)
_LABEL_STYLE = "padding-right:12px;vertical-align:top;color:var(--elapsed-color,#666)"
_LINK_STYLE = "color:var(--link-color,#15c)"
_TEXT_LIMIT = 20_000
# Attached files up to this size get a download link in the card; inline
# images up to it are shown in the HTML body. Larger ones would bloat log.html.
EMBED_LIMIT = 256 * 1024
# A hostile message can have a 1 MB header: the card shows the start of it.
VALUE_LIMIT = 2_000
ADDRESSES_SHOWN = 50
EVIDENCE_OPEN = 3
EVIDENCE_MAX = 10
_CID = re.compile(r"""cid:([^"'\s)>]+)""", re.IGNORECASE)


def message_card(
    message: ReceivedMessage,
    *,
    expanded: bool = True,
    saved_paths: dict[str, str] | None = None,
) -> str:
    """An HTML card: envelope, main headers, text body, HTML body, attachments.

    ``expanded=False`` shows only the title line until the reader opens it.
    ``saved_paths`` maps attachment file names to where they were saved.
    """
    envelope = [
        ("Envelope sender", message.sender or "<> (null sender: a bounce)"),
        ("Envelope recipients", _addresses(message.recipients)),
    ]
    if message.bcc:
        envelope.append(("Bcc", _addresses(message.bcc)))
    envelope += [
        ("Client", f"{message.peer[0]}:{message.peer[1]}" if message.peer else ""),
        ("HELO/EHLO", message.helo or ""),
        (
            "Received at",
            message.received_at.isoformat(sep=" ", timespec="milliseconds"),
        ),
        ("Size", f"{message.size} bytes"),
    ]
    if message.tls:
        envelope.append(("TLS", message.tls_version or "yes"))
    if message.auth_user:
        envelope.append(("Authenticated as", message.auth_user))
    headers = [
        (name, value)
        for name in _MAIN_HEADERS
        for value in message.headers.get_all(name)
    ]
    title = f"Message #{message.sequence}: {message.subject or '(no subject)'}"
    parts = [
        f'<details{" open" if expanded else ""} style="{_CARD_STYLE}">',
        f"<summary><b>{escape(title)}</b></summary>",
        _table(envelope + headers),
    ]
    defects = getattr(message, "defects", None)
    if defects:
        items = "".join(f"<li>{escape(str(d))}</li>" for d in defects)
        parts.append(_section("Read only in part", f"<ul>{items}</ul>"))
    if message.text:
        parts.append(_section("Text body", _pre(message.text)))
    if message.html:
        html_body = with_inline_images(message.html, message.attachments)
        parts.append(_section("HTML body", sandboxed_frame(html_body)))
    if message.attachments:
        items = "".join(
            f"<li>{_attachment_item(a, (saved_paths or {}).get(a.filename))}</li>"
            for a in message.attachments
        )
        parts.append(_section("Attachments", f"<ul>{items}</ul>"))
    parts.append("</details>")
    return "".join(parts)


def evidence_cards(messages: list[ReceivedMessage]) -> list[str]:
    """Cards for a failed test: the first few open, the rest closed, at most ten."""
    shown = messages[:EVIDENCE_MAX]
    cards = [
        message_card(message, expanded=index < EVIDENCE_OPEN)
        for index, message in enumerate(shown)
    ]
    rest = len(messages) - len(shown)
    if rest:
        cards.append(
            f"<p>... and {rest} more {'message' if rest == 1 else 'messages'}, "
            "not shown: use "
            "<i>Log Received Messages</i> to see them all.</p>"
        )
    return cards


def with_inline_images(html_body: str, attachments: list[Attachment]) -> str:
    """``cid:`` references replaced by data URIs of the message's own parts.

    The sandboxed frame may load nothing but ``data:``, so this is how the
    images a sender embedded show, while remote images stay blocked.
    """
    images = {
        a.content_id: a
        for a in attachments
        if a.content_id
        and a.content_type.startswith("image/")
        and a.size <= EMBED_LIMIT
    }
    if not images:
        return html_body

    def data_uri(match: re.Match[str]) -> str:
        image = images.get(match.group(1))
        if image is None:
            return match.group(0)
        encoded = base64.b64encode(image.content).decode("ascii")
        return f"data:{image.content_type};base64,{encoded}"

    return _CID.sub(data_uri, html_body)


def sandboxed_frame(html_body: str) -> str:
    """The HTML body rendered in an iframe that can run nothing and load nothing."""
    document = (
        f'<meta http-equiv="Content-Security-Policy" content="{_FRAME_POLICY}">'
        + html_body
    )
    return (
        f'<iframe sandbox="" referrerpolicy="no-referrer" srcdoc="{escape(document)}" '
        'style="width:100%;height:300px;border:1px solid var(--secondary-color,#ccc);'
        'background:#fff"></iframe>'
    )


def transcript_html(lines: list[str]) -> str:
    return _pre("\n".join(lines) or "(no SMTP traffic recorded)")


def rejections_text(rejections: list[Rejection]) -> str:
    return "\n".join(str(r) for r in rejections)


def _attachment_item(attachment: Attachment, saved_path: str | None) -> str:
    label = escape(
        f"{attachment.filename} ({attachment.content_type}, {attachment.size} bytes"
        f"{', inline' if attachment.inline else ''})"
    )
    if saved_path:
        return f"{label}, saved as {escape(saved_path)}"
    if attachment.size > EMBED_LIMIT:
        return label
    # Served as octet-stream with a download name: the browser saves the file
    # and never renders it, whatever type the e-mail claimed.
    encoded = base64.b64encode(attachment.content).decode("ascii")
    return (
        f'<a style="{_LINK_STYLE}" download="{escape(attachment.filename)}" '
        f'href="data:application/octet-stream;base64,{encoded}">{label}</a>'
    )


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f'<tr><td style="{_LABEL_STYLE}">{escape(name)}</td>'
        f"<td>{escape(_clipped(value))}</td></tr>"
        for name, value in rows
    )
    return f"<table>{cells}</table>"


def _addresses(addresses: list[str]) -> str:
    shown = ", ".join(addresses[:ADDRESSES_SHOWN])
    rest = len(addresses) - ADDRESSES_SHOWN
    return shown + (f" and {rest} more" if rest > 0 else "")


def _clipped(value: str) -> str:
    rest = len(value) - VALUE_LIMIT
    return value if rest <= 0 else f"{value[:VALUE_LIMIT]} [... {rest} more characters]"


def _section(title: str, body: str) -> str:
    return f"<details open><summary>{escape(title)}</summary>{body}</details>"


def _pre(text: str) -> str:
    shown = text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + "\n[...]"
    return (
        '<pre style="white-space:pre-wrap;margin:2px 0;color:inherit;'
        f'background:transparent">{escape(shown)}</pre>'
    )
