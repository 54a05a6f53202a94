"""Realistic messages, composed with the email package or by hand when malformed."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

PNG_PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CSV_TEXT = "name,amount\nAlice,10\nBob,20\n"


def rich_message() -> EmailMessage:
    """Encoded subject, accented display name, alternatives, CSV, PDF, inline image."""
    message = EmailMessage()
    message["From"] = "Jörg Müller <joerg@example.com>"
    message["To"] = "Zoë Ångström <zoe@example.com>, bob@example.com"
    message["Cc"] = "Carol <carol@example.com>"
    message["Reply-To"] = "support@example.com"
    message["Subject"] = "Ihre Rechnung für März – 日本語"
    message["Date"] = formatdate(1700000000, usegmt=True)
    message["Message-ID"] = "<rich-1@example.com>"
    message["X-Tag"] = "first"
    message["X-Tag"] = "second"
    message.set_content(
        "Hallo Zoë,\n\nIhre Rechnung: https://shop.example.com/invoice?id=1&x=2.\n"
    )
    image_cid = make_msgid(domain="example.com")
    message.add_alternative(
        "<html><body><p>Hallo <b>Zoë</b>,</p>"
        '<p><a href="https://shop.example.com/invoice?id=1&amp;x=2">Rechnung</a> '
        '<a href="https://shop.example.com/account">Konto</a></p>'
        f'<img src="cid:{image_cid[1:-1]}"></body></html>',
        subtype="html",
    )
    message.get_payload()[1].add_related(
        PNG_PIXEL,
        maintype="image",
        subtype="png",
        cid=image_cid,
        filename="logo.png",
        disposition="inline",
    )
    message.add_attachment(
        CSV_TEXT.encode(), maintype="text", subtype="csv", filename="report.csv"
    )
    message.add_attachment(
        PDF_BYTES, maintype="application", subtype="pdf", filename="Rechnung-März.pdf"
    )
    return message


def charset_message(charset: str, text: str, encoding: str = "base64") -> bytes:
    body = text.encode(charset)
    import base64
    import quopri

    encoded = (
        base64.encodebytes(body) if encoding == "base64" else quopri.encodestring(body)
    )
    return (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: charset\r\n"
        b"MIME-Version: 1.0\r\n"
        + f'Content-Type: text/plain; charset="{charset}"\r\n'.encode()
        + f"Content-Transfer-Encoding: {encoding}\r\n\r\n".encode()
        + encoded.replace(b"\n", b"\r\n")
    )


def forwarded_message() -> EmailMessage:
    inner = EmailMessage()
    inner["From"] = "original@example.com"
    inner["To"] = "boss@example.com"
    inner["Subject"] = "Original"
    inner.set_content("The original text with https://original.example.com/")
    outer = EmailMessage()
    outer["From"] = "boss@example.com"
    outer["To"] = "team@example.com"
    outer["Subject"] = "Fwd: Original"
    outer.set_content("See below.")
    outer.add_attachment(inner)
    return outer


MALFORMED = {
    "missing closing boundary": (
        b"From: a@example.com\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
        b"--XX\r\nContent-Type: text/plain\r\n\r\nvisible text\r\n"
    ),
    "broken base64": (
        b"From: a@example.com\r\nSubject: b64\r\nContent-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8g!!!d29y\r\n"
    ),
    "unknown charset": (
        b"From: a@example.com\r\nSubject: =?x-unknown?Q?abc?=\r\n"
        b"Content-Type: text/plain; charset=x-unknown\r\n\r\ntext in unknown\r\n"
    ),
    "8-bit header": (
        b"From: J\xf6rg <a@example.com>\r\nSubject: Gr\xfc\xdfe \xff\r\n\r\nbody\r\n"
    ),
    "header without colon": (
        b"From: a@example.com\r\nThis line has no colon\r\nSubject: x\r\n\r\nbody\r\n"
    ),
    "empty body": b"From: a@example.com\r\nSubject: empty\r\n\r\n",
    "empty message": b"",
    "bad date and addresses": (
        b"From: <<<@@@>>>\r\nTo: ,,,;;\r\nDate: yesterday-ish\r\n"
        b"Message-ID: <unterminated\r\n\r\nx\r\n"
    ),
    "multipart without boundary": (
        b"Content-Type: multipart/alternative\r\n\r\n--\r\n--\r\n"
    ),
    "nested rfc822 garbage": (
        b"Content-Type: message/rfc822\r\n\r\n\x00\x01\x02 garbage\r\n"
    ),
}
