"""Hostile mail: the shapes a buggy template loop or a fuzzer sends.

Every generator returns the bytes of one message that a real SMTP server
accepts (lines of at most 998 bytes, CRLF line endings, no lone dots to
escape: the client does that), parameterized by its scale, so that tests use
small sizes and the benchmark large ones.

    python utest/hostile_corpus.py DIRECTORY [--scale N]

writes the corpus as ``hostile_<name>.eml`` files, for the acceptance suite.
"""

from __future__ import annotations

import argparse
import base64
import random
from collections.abc import Callable
from pathlib import Path

CRLF = b"\r\n"


def _head(subject: str, recipient: str, extra: bytes = b"") -> bytes:
    return (
        f"From: Hostile <hostile@example.com>\r\nTo: {recipient}\r\n"
        f"Subject: {subject}\r\nMIME-Version: 1.0\r\n".encode()
        + extra
    )


def deep_multipart(depth: int = 1000, recipient: str = "deep@example.com") -> bytes:
    """Multipart parts nested ``depth`` levels, a readable text part on top."""
    opening = []
    closing = []
    for level in range(depth):
        opening.append(
            f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n'
            f"--b{level}\r\n".encode()
        )
        closing.append(f"\r\n--b{level}--\r\n".encode())
    innermost = b"Content-Type: text/plain\r\n\r\nthe innermost text"
    top = (
        _head("Deep multipart", recipient)
        + b'Content-Type: multipart/mixed; boundary="top"\r\n\r\n'
        + b"--top\r\nContent-Type: text/plain\r\n\r\nouter text\r\n--top\r\n"
    )
    return (
        top
        + b"".join(opening)
        + innermost
        + b"".join(reversed(closing))
        + b"\r\n--top--\r\n"
    )


def deep_rfc822(depth: int = 1000, recipient: str = "forward@example.com") -> bytes:
    """A message forwarded as ``message/rfc822`` inside itself ``depth`` times."""
    opening = b"".join(
        f"Subject: Fwd {level}\r\nContent-Type: message/rfc822\r\n\r\n".encode()
        for level in range(depth)
    )
    return (
        _head("Deep forward", recipient)
        + b'Content-Type: multipart/mixed; boundary="top"\r\n\r\n'
        + b"--top\r\nContent-Type: text/plain\r\n\r\nforwarded below\r\n--top\r\n"
        + opening
        + b"Subject: The original\r\nContent-Type: text/plain\r\n\r\noriginal text"
        + b"\r\n--top--\r\n"
    )


def many_parts(count: int = 20_000, recipient: str = "parts@example.com") -> bytes:
    """One multipart with ``count`` tiny attachments after a text part."""
    parts = [
        b"--P\r\nContent-Type: text/plain\r\n\r\nthe text body\r\n",
        *(
            f"--P\r\nContent-Type: application/octet-stream\r\n"
            f'Content-Disposition: attachment; filename="f{i}.bin"\r\n\r\n'
            f"{i}\r\n".encode()
            for i in range(count)
        ),
        b"--P--\r\n",
    ]
    return (
        _head("Many parts", recipient)
        + b'Content-Type: multipart/mixed; boundary="P"\r\n\r\n'
        + b"".join(parts)
    )


def huge_address_list(
    count: int = 50_000, recipient: str = "list@example.com"
) -> bytes:
    """``To:`` and ``Cc:`` headers with ``count`` addresses each, one per line."""
    addresses = ",\r\n ".join(
        f'"User {i}" <user{i}@example.com>' for i in range(count)
    ).encode()
    return (
        b"From: Hostile <hostile@example.com>\r\n"
        + f"To: {recipient},\r\n ".encode()
        + addresses
        + b"\r\nCc: "
        + addresses
        + b"\r\nSubject: Huge address list\r\n\r\nbody\r\n"
    )


def encoded_word_subject(
    count: int = 32_000, recipient: str = "words@example.com"
) -> bytes:
    """A subject of ``count`` RFC 2047 encoded words, folded one per line."""
    words = "\r\n ".join(
        f"=?utf-8?q?w=C3=B6rd{i}?=" if i % 2 else f"=?utf-8?b?{_b64(f'wörd{i}')}?="
        for i in range(count)
    )
    return (
        b"From: hostile@example.com\r\n"
        + f"To: {recipient}\r\nSubject: {words}\r\n\r\nbody\r\n".encode()
    )


def giant_header(size: int = 1_000_000, recipient: str = "header@example.com") -> bytes:
    """An unstructured ``X-Giant`` header of ``size`` bytes, and a giant
    ``From`` display name full of quotes, comments and encoded words."""
    line = "a" * 76
    lines = "\r\n ".join(line for _ in range(max(1, size // 79)))
    display = " ".join(
        ('"q\\"uoted"', "(comment (nested))", "=?utf-8?q?=C3=A9?=")[i % 3]
        for i in range(max(1, size // 200))
    )
    display = "\r\n ".join(display[i : i + 900] for i in range(0, len(display), 900))
    return (
        f"From: {display} <hostile@example.com>\r\nTo: {recipient}\r\n"
        f"Subject: Giant header\r\nX-Giant: {lines}\r\n\r\nbody\r\n"
    ).encode()


def many_headers(count: int = 100_000, recipient: str = "headers@example.com") -> bytes:
    """``count`` ``Received`` headers before the ordinary ones."""
    received = b"".join(
        f"Received: from relay{i}.example.com by mx.example.com; "
        f"Tue, 14 Nov 2023 22:13:20 +0000\r\n".encode()
        for i in range(count)
    )
    return received + _head("Many headers", recipient) + b"\r\nbody\r\n"


def giant_parameters(
    count: int = 20_000, recipient: str = "params@example.com"
) -> bytes:
    """A part whose file name is an RFC 2231 continuation of ``count`` pieces."""
    pieces = ";\r\n filename*0*=utf-8''%C3%A90" + "".join(
        f";\r\n filename*{i}*=%C3%A9{i}" for i in range(1, count)
    )
    return (
        _head("Giant parameters", recipient)
        + b'Content-Type: multipart/mixed; boundary="G"\r\n\r\n'
        + b"--G\r\nContent-Type: text/plain\r\n\r\ntext\r\n--G\r\n"
        + b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        + f"Content-Disposition: attachment{pieces}"
        "\r\n\r\nJVBERg==\r\n--G--\r\n".encode()
    )


def broken_boundaries(
    count: int = 20_000, recipient: str = "broken@example.com"
) -> bytes:
    """Boundaries declared and never closed, lines that nearly match them,
    a nested part reusing its parent's boundary, and no closing line at all."""
    noise = b"".join(
        f"--B{i % 7}x\r\n--\r\n--B0 --\r\n-- B1\r\n".encode() for i in range(count)
    )
    nested = b"".join(
        f'--B{i}\r\nContent-Type: multipart/related; boundary="B{i + 1}"\r\n\r\n'.encode()
        for i in range(50)
    )
    return (
        _head("Broken boundaries", recipient)
        + b'Content-Type: multipart/mixed; boundary="B0"\r\n\r\n'
        + b"--B0\r\nContent-Type: text/plain\r\n\r\nbroken but readable\r\n"
        + nested
        + b'--B50\r\nContent-Type: multipart/mixed; boundary="B50"\r\n\r\n'
        + b"--B50\r\nContent-Type: text/html\r\n\r\n<p>reused</p>\r\n"
        + noise
    )


def base64_at_scale(size: int = 4_000_000, recipient: str = "b64@example.com") -> bytes:
    """A base64 text body that decodes to one line of ``size`` bytes holding
    links with long runs of trailing punctuation, and a base64 attachment."""
    chunk = "see https://example.com/" + "a" * 200 + ")" * 300 + ".,;" * 100 + " "
    text = (chunk * max(1, size // 2 // len(chunk))).encode()
    rng = random.Random(15)
    binary = rng.randbytes(max(1, size // 2))
    return (
        _head("Base64 at scale", recipient)
        + b'Content-Type: multipart/mixed; boundary="S"\r\n\r\n'
        + b"--S\r\nContent-Type: text/plain; charset=utf-8\r\n"
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + _b64_lines(text)
        + b"--S\r\nContent-Type: application/octet-stream\r\n"
        + b'Content-Disposition: attachment; filename="random.bin"\r\n'
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + _b64_lines(binary)
        + b"--S--\r\n"
    )


def long_url(length: int = 1_000_000, recipient: str = "url@example.com") -> bytes:
    """A quoted-printable body holding one URL of ``length`` characters that
    ends in ``length // 2`` closing parentheses (the quadratic trim's worst case)."""
    url = "https://example.com/" + "(" * 3 + "x" * (length // 2) + ")" * (length // 2)
    body = _soft_wrap(url.encode())
    return (
        _head("Long URL", recipient)
        + b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable"
        + b"\r\n\r\n"
        + body
        + CRLF
    )


def many_links(count: int = 50_000, recipient: str = "links@example.com") -> bytes:
    """An HTML body with ``count`` anchors and a text body with as many URLs."""
    html = b"".join(
        f'<a href="https://example.com/{i}">{i}</a>\r\n'.encode() for i in range(count)
    )
    text = b"".join(f"https://example.org/{i}.\r\n".encode() for i in range(count))
    return (
        _head("Many links", recipient)
        + b'Content-Type: multipart/alternative; boundary="L"\r\n\r\n'
        + b"--L\r\nContent-Type: text/plain\r\n\r\n"
        + text
        + b"--L\r\nContent-Type: text/html\r\n\r\n"
        + html
        + b"--L--\r\n"
    )


def ordinary(size: int = 50_000, recipient: str = "ordinary@example.com") -> bytes:
    """An ordinary newsletter of about ``size`` bytes: text, HTML, an inline
    image and a PDF, as a mail library composes it."""
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Shop <shop@example.com>"
    message["To"] = f"Zoë <{recipient}>, bob@example.com"
    message["Subject"] = "Ihre Bestellung – Nr. 42"
    paragraph = "Danke für Ihre Bestellung: https://shop.example.com/order/42.\n"
    text = paragraph * max(1, size // 4 // len(paragraph))
    message.set_content(text)
    message.add_alternative(
        "<p>" + text.replace("\n", "</p>\n<p>") + '<img src="cid:logo@x"></p>',
        subtype="html",
    )
    message.get_payload()[1].add_related(
        b"\x89PNG" + bytes(size // 8), "image", "png", cid="<logo@x>"
    )
    message.add_attachment(
        b"%PDF" + bytes(size // 8), "application", "pdf", filename="invoice.pdf"
    )
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


CORPUS: dict[str, Callable[..., bytes]] = {
    "deep_multipart": deep_multipart,
    "deep_rfc822": deep_rfc822,
    "many_parts": many_parts,
    "huge_address_list": huge_address_list,
    "encoded_word_subject": encoded_word_subject,
    "giant_header": giant_header,
    "many_headers": many_headers,
    "giant_parameters": giant_parameters,
    "broken_boundaries": broken_boundaries,
    "base64_at_scale": base64_at_scale,
    "long_url": long_url,
    "many_links": many_links,
}
"""Every hostile shape, by name; each takes its scale as first argument."""

# The scale of each shape in the issue's reports (``deep_multipart(1000)`` made
# every accessor raise); about 1 to 5 MB each.
ISSUE_SCALE = {
    "deep_multipart": 1000,
    "deep_rfc822": 1000,
    "many_parts": 20_000,
    "huge_address_list": 50_000,
    "encoded_word_subject": 32_000,
    "giant_header": 1_000_000,
    "many_headers": 50_000,
    "giant_parameters": 20_000,
    "broken_boundaries": 20_000,
    "base64_at_scale": 2_000_000,
    "long_url": 1_000_000,
    "many_links": 30_000,
}


def sized(name: str, size: int, recipient: str | None = None) -> bytes:
    """The shape ``name`` scaled to about ``size`` bytes (at least its smallest)."""
    make = CORPUS[name]
    probe_scale = max(1, ISSUE_SCALE[name] // 20)
    probe = len(make(probe_scale))
    scale = max(1, int(probe_scale * size / probe))
    return make(scale) if recipient is None else make(scale, recipient)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _b64_lines(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", CRLF)


def _soft_wrap(data: bytes, width: int = 75) -> bytes:
    """Quoted-printable soft line breaks: one logical line, many physical ones."""
    escaped = data.replace(b"=", b"=3D")
    return b"=\r\n".join(escaped[i : i + width] for i in range(0, len(escaped), width))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the issue's scale"
    )
    args = parser.parse_args()
    args.directory.mkdir(parents=True, exist_ok=True)
    for name, make in CORPUS.items():
        path = args.directory / f"hostile_{name}.eml"
        path.write_bytes(make(max(1, int(ISSUE_SCALE[name] * args.scale))))
        print(path)


if __name__ == "__main__":
    main()
