"""Reading received mail the way a person reads it."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from corpus import (
    CSV_TEXT,
    MALFORMED,
    PDF_BYTES,
    PNG_PIXEL,
    charset_message,
    forwarded_message,
    rich_message,
)
from helpers import send
from hypothesis import example, given, settings
from hypothesis import strategies as st

from SMTPMockLibrary import ReceivedMessage
from SMTPMockLibrary.errors import ConfigurationError


def received(raw: bytes, recipients: list[str] | None = None) -> ReceivedMessage:
    return ReceivedMessage(raw, "sender@example.com", recipients or ["zoe@example.com"])


@pytest.fixture
def rich(server) -> ReceivedMessage:
    send(
        server.port,
        rich_message(),
        sender="joerg@example.com",
        recipients=[
            "zoe@example.com",
            "bob@example.com",
            "carol@example.com",
            "hidden@example.com",
        ],
    )
    return server.messages[0]


def test_rich_message_headers_and_addresses(rich):
    assert rich.subject == "Ihre Rechnung für März – 日本語"
    assert rich.from_address == "joerg@example.com"
    assert rich.headers["from"] == "Jörg Müller <joerg@example.com>"
    assert rich.to == ["zoe@example.com", "bob@example.com"]
    assert rich.cc == ["carol@example.com"]
    assert rich.bcc == ["hidden@example.com"]
    assert rich.reply_to == ["support@example.com"]
    assert rich.message_id == "<rich-1@example.com>"
    assert rich.date == datetime.datetime(
        2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc
    )
    assert rich.headers["X-TAG"] == "first"
    assert rich.headers.get_all("x-tag") == ["first", "second"]
    assert "Subject" in rich.headers


def test_rich_message_bodies_and_links(rich):
    assert rich.text.startswith("Hallo Zoë,")
    assert "<b>Zoë</b>" in rich.html
    assert rich.links == [
        "https://shop.example.com/invoice?id=1&x=2",
        "https://shop.example.com/account",
    ]


def test_rich_message_attachments(rich):
    by_name = {a.filename: a for a in rich.attachments}
    assert list(by_name) == ["logo.png", "report.csv", "Rechnung-März.pdf"]
    logo = by_name["logo.png"]
    assert (logo.content_type, logo.content, logo.inline) == (
        "image/png",
        PNG_PIXEL,
        True,
    )
    assert logo.content_id and logo.content_id.endswith("@example.com")
    assert by_name["report.csv"].content == CSV_TEXT.encode()
    assert by_name["report.csv"].inline is False
    pdf = by_name["Rechnung-März.pdf"]
    assert (pdf.content_type, pdf.content, pdf.size) == (
        "application/pdf",
        PDF_BYTES,
        len(PDF_BYTES),
    )


def test_saving_where_a_file_is_in_the_way_names_the_file(rich, tmp_path):
    blocker = tmp_path / "report"
    blocker.write_text("not a directory")
    for target in (blocker, blocker / "attachments"):
        with pytest.raises(ConfigurationError) as error:
            rich.save_attachments(target)
        assert str(error.value) == (
            f"Cannot save into '{target}': '{blocker}' is a file, not a directory."
        )
    saved = rich.save_attachments(tmp_path / "new" / "attachments")
    assert [Path(path).name for path in saved] == [
        "logo.png",
        "report.csv",
        "Rechnung-März.pdf",
    ]


def test_raw_source_and_size(rich):
    assert rich.raw.startswith(b"From: ")
    assert "\r\n" not in rich.source
    assert rich.size == len(rich.raw)


def test_rfc2231_encoded_filename():
    raw = (
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
        b"Content-Type: text/plain\r\n\r\nbody\r\n--B\r\n"
        b"Content-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%E2%82%AC.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--B--\r\n"
    )
    (attachment,) = received(raw).attachments
    assert attachment.filename == "Grüße €.pdf"
    assert attachment.content == b"%PDF"


@pytest.mark.parametrize("encoding", ["base64", "quoted-printable"])
@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("utf-8", "Grüße, 你好, привет"),
        ("iso-8859-1", "Grüße aus Köln, ça va?"),
        ("windows-1252", "Smart “quotes” – and € euro"),
        ("shift_jis", "日本語のテキスト"),
        ("iso-2022-jp", "日本語のテキスト"),
        ("euc-jp", "日本語のテキスト"),
        ("gb2312", "中文文本"),
        ("big5", "中文文本"),
        ("euc-kr", "한국어 텍스트"),
    ],
)
def test_text_is_decoded_with_the_declared_charset(charset, text, encoding):
    assert (
        received(charset_message(charset, text, encoding)).text.rstrip("\r\n") == text
    )


def test_forwarded_message_is_an_attachment_and_its_text_is_searchable():
    message = received(forwarded_message().as_bytes())
    assert message.text.strip() == "See below."
    (attachment,) = message.attachments
    assert attachment.content_type == "message/rfc822"
    assert b"Subject: Original" in attachment.content
    assert "The original text" in message.searchable_text


def test_forwarded_message_without_own_body_shows_the_forwarded_text():
    raw = (
        b"Subject: Fwd\r\nContent-Type: message/rfc822\r\n\r\n"
        b"Subject: Inner\r\nContent-Type: text/plain\r\n\r\ninner text\r\n"
    )
    assert received(raw).text.strip() == "inner text"


def test_links_in_text_and_html_with_entities_and_punctuation():
    message = received(
        b"Content-Type: multipart/alternative; boundary=B\r\n\r\n--B\r\n"
        b"Content-Type: text/plain\r\n\r\n"
        b"Visit https://a.example.com/x. Or (https://b.example.com/y), "
        b"or https://en.example.org/wiki/Foo_(bar)!\r\n--B\r\n"
        b"Content-Type: text/html\r\n\r\n"
        b'<a href="https://a.example.com/x">again</a> '
        b'<a href="https://c.example.com/?a=1&amp;b=2">c</a> '
        b'<a href="javascript:alert(1)">js</a> <a href="mailto:x@y">m</a>\r\n--B--\r\n'
    )
    assert message.links == [
        "https://a.example.com/x",
        "https://b.example.com/y",
        "https://en.example.org/wiki/Foo_(bar)",
        "https://c.example.com/?a=1&b=2",
    ]


def test_a_message_nobody_reads_is_never_parsed(server):
    send(server.port)
    send(server.port)
    server.get_messages(recipient="alice@example.com")
    assert all("parsed" not in vars(m) for m in server.messages)


ACCESSORS = (
    "subject",
    "headers",
    "date",
    "message_id",
    "reply_to",
    "from_address",
    "to",
    "cc",
    "bcc",
    "text",
    "html",
    "attachments",
    "links",
    "source",
    "searchable_text",
    "size",
    "summary",
    "to_dict",
)


def read_everything(message: ReceivedMessage) -> None:
    for name in ACCESSORS:
        value = getattr(message, name)
        if callable(value):
            value()
    for attachment in message.attachments:
        assert isinstance(attachment.content, bytes)
        str(attachment)
    dict(message.headers)


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_mail_never_makes_an_accessor_raise(case):
    message = received(MALFORMED[case])
    read_everything(message)
    assert message.raw == MALFORMED[case]


def test_malformed_mail_gives_its_best_reading():
    assert (
        received(MALFORMED["missing closing boundary"]).text.strip() == "visible text"
    )
    assert received(MALFORMED["unknown charset"]).text.strip() == "text in unknown"
    assert received(MALFORMED["8-bit header"]).subject.startswith("Gr")
    assert received(MALFORMED["empty body"]).text == ""
    assert received(MALFORMED["bad date and addresses"]).date is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_make_an_accessor_raise(raw):
    read_everything(received(raw))


MIME_PIECES = st.sampled_from(
    [
        b"Content-Type: multipart/mixed; boundary=B\r\n",
        b"--B\r\n",
        b"--B--\r\n",
        b"Content-Type: text/plain; charset=utf-8\r\n",
        b"Content-Type: text/html\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC.txt\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Subject: =?utf-8?B?w7w=?=\r\n",
        b"Subject: =?bogus?Q?=FF?=\r\n",
        b'From: "\xff" <a@b>\r\n',
        b"\r\n",
        b"=C3=\r\n",
        b"SGVsbG8=\r\n",
        b"<a href='https://x.example/&amp;'>x</a>\r\n",
        b"\xff\xfe\x00\r\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(MIME_PIECES, max_size=40))
@example(  # an attached message whose headers are not valid text
    [
        b"Content-Type: message/rfc822\r\n",
        b"\r\n",
        b"Content-Type: multipart/mixed; boundary=B\r\n",
        b"\xff\xfe\x00\r\n",
    ]
)
def test_arbitrary_mime_structures_never_make_an_accessor_raise(pieces):
    read_everything(received(b"".join(pieces)))
