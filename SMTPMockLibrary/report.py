"""Received messages as HTML cards for log.html, with every piece of content escaped.

E-mail is untrusted input: text goes through ``html.escape`` and the HTML body
is shown only inside an ``<iframe sandbox>`` (no scripts, no forms, no
navigation, no network), never injected into the log as markup.
"""

from __future__ import annotations

from html import escape

from .mailbox import Rejection
from .message import ReceivedMessage

_MAIN_HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID")
_FRAME_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
)
_STYLE = (
    "border:1px solid #bbb;border-radius:4px;padding:6px 10px;margin:4px 0;"
    "font-family:sans-serif;font-size:13px;background:#fafafa"
)
_TEXT_LIMIT = 20_000


def message_card(message: ReceivedMessage) -> str:
    """An HTML card: envelope, main headers, text body, HTML body, attachments."""
    envelope = [
        ("Envelope sender", message.sender),
        ("Envelope recipients", ", ".join(message.recipients)),
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
    parts = [
        f'<div style="{_STYLE}">',
        f"<b>Message #{message.sequence}: {escape(message.subject or '(no subject)')}</b>",
        _table(envelope + headers),
    ]
    if message.text:
        parts.append(_section("Text body", _pre(message.text)))
    if message.html:
        parts.append(_section("HTML body", sandboxed_frame(message.html)))
    if message.attachments:
        items = "".join(
            f"<li>{escape(a.filename)} ({escape(a.content_type)}, {a.size} bytes"
            f"{', inline' if a.inline else ''})</li>"
            for a in message.attachments
        )
        parts.append(_section("Attachments", f"<ul>{items}</ul>"))
    parts.append("</div>")
    return "".join(parts)


def sandboxed_frame(html_body: str) -> str:
    """The HTML body rendered in an iframe that can run nothing and load nothing."""
    document = (
        f'<meta http-equiv="Content-Security-Policy" content="{_FRAME_POLICY}">'
        + html_body
    )
    return (
        f'<iframe sandbox="" referrerpolicy="no-referrer" srcdoc="{escape(document)}" '
        'style="width:100%;height:300px;border:1px solid #ddd;background:#fff">'
        "</iframe>"
    )


def transcript_html(lines: list[str]) -> str:
    return _pre("\n".join(lines) or "(no SMTP traffic recorded)")


def rejections_text(rejections: list[Rejection]) -> str:
    return "\n".join(str(r) for r in rejections)


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f'<tr><td style="padding-right:12px;color:#555;vertical-align:top">'
        f"{escape(name)}</td><td>{escape(value)}</td></tr>"
        for name, value in rows
    )
    return f"<table>{cells}</table>"


def _section(title: str, body: str) -> str:
    return f"<details open><summary>{escape(title)}</summary>{body}</details>"


def _pre(text: str) -> str:
    shown = text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + "\n[...]"
    return f'<pre style="white-space:pre-wrap;margin:2px 0">{escape(shown)}</pre>'
