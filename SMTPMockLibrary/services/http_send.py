"""``POST /api/v1/send``: Mailpit's send request turned into a real message."""

from __future__ import annotations

import base64
import binascii
import mimetypes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

# Headers the request sets through its own fields, never through "Headers".
_RESTRICTED = {
    "to",
    "from",
    "cc",
    "bcc",
    "reply-to",
    "date",
    "subject",
    "content-type",
    "mime-version",
}


class SendError(ValueError):
    """A send request that cannot become a message; the text says why."""


def build_message(request: Any) -> tuple[bytes, str, list[str]]:
    """The message, envelope sender and recipients for a Mailpit send request."""
    if not isinstance(request, dict):
        raise SendError("The send request must be a JSON object.")
    message = EmailMessage()
    if not isinstance(request.get("From"), dict) or not request["From"].get("Email"):
        raise SendError("The send request needs From.Email.")
    sender = _address(request["From"], "From")
    message["From"] = _header_address(request["From"], "From")
    recipients: list[str] = []
    for field in ("To", "Cc"):
        entries = _list(request, field)
        if entries:
            message[field] = ", ".join(_header_address(e, field) for e in entries)
            recipients += [_address(e, field) for e in entries]
    bcc = _list(request, "Bcc")
    recipients += [_plain_address(b, "Bcc") for b in bcc]
    if not recipients:
        raise SendError("The send request needs at least one To, Cc or Bcc address.")
    reply_to = _list(request, "ReplyTo")
    if reply_to:
        message["Reply-To"] = ", ".join(
            _header_address(e, "Reply-To") for e in reply_to
        )
    message["Subject"] = _string(request, "Subject")
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="smtpmock.localhost")
    tags = [str(tag) for tag in _list(request, "Tags")]
    if tags:
        message["X-Tags"] = ", ".join(tags)
    restricted = _RESTRICTED | ({"x-tags"} if tags else set())
    headers = request.get("Headers") or {}
    if not isinstance(headers, dict):
        raise SendError("Headers must be an object of header names and values.")
    for name, value in headers.items():
        if name.lower() in restricted:
            raise SendError(f'cannot overwrite header: "{name}"')
        message[name] = str(value)
    message.set_content(_string(request, "Text"))
    html = _string(request, "HTML")
    if html:
        message.add_alternative(html, subtype="html")
    for entry in _list(request, "Attachments"):
        _attach(message, entry)
    # CRLF, as every message received over SMTP is stored, and as IMAP and
    # POP3 serve it.
    return message.as_bytes(policy=SMTP), sender, recipients


def _attach(message: EmailMessage, entry: Any) -> None:
    if not isinstance(entry, dict) or not entry.get("Filename"):
        raise SendError("Each attachment needs Filename and base64 Content.")
    filename = str(entry["Filename"])
    content = str(entry.get("Content", "")).rsplit(",", 1)[-1]
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as error:
        raise SendError(
            f'error decoding base64 attachment "{filename}": {error}'
        ) from None
    content_type = (
        entry.get("ContentType")
        or mimetypes.guess_type(filename)[0]
        or "application/octet-stream"
    )
    maintype, _, subtype = str(content_type).partition("/")
    content_id = entry.get("ContentID")
    if not message.is_multipart():
        message.make_mixed()
    message.add_attachment(
        data,
        maintype=maintype,
        subtype=subtype or "octet-stream",
        filename=filename,
        disposition="inline" if content_id else "attachment",
        cid=f"<{content_id}>" if content_id else None,
    )


def _list(request: dict, field: str) -> list:
    value = request.get(field) or []
    if not isinstance(value, list):
        raise SendError(f"{field} must be a list.")
    return value


def _string(request: dict, field: str) -> str:
    value = request.get(field) or ""
    if not isinstance(value, str):
        raise SendError(f"{field} must be a string.")
    return value


def _address(entry: Any, field: str) -> str:
    if not isinstance(entry, dict):
        raise SendError(f'{field} entries must be objects like {{"Email": "..."}}.')
    return _plain_address(entry.get("Email", ""), field)


def _plain_address(value: Any, field: str) -> str:
    address = parseaddr(str(value))[1]
    if not address or "@" not in address:
        raise SendError(f"invalid {field} address: {value}")
    return address


def _header_address(entry: dict, field: str) -> str:
    address = _address(entry, field)
    username, _, domain = address.rpartition("@")
    return str(
        Address(
            display_name=str(entry.get("Name") or ""), username=username, domain=domain
        )
    )
