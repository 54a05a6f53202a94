"""Hostile mail never breaks or stalls reading: the corpus, the limits, and the
bounded reader checked against the standard library's parser wherever both apply.

Speed is proven by benchmarks/hostile.py; these tests prove the readings.
"""

from __future__ import annotations

import email.policy
import re
import smtplib
import xml.etree.ElementTree as ET
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import run_robot
from hostile_corpus import (
    CORPUS,
    base64_at_scale,
    broken_boundaries,
    deep_multipart,
    deep_rfc822,
    encoded_word_subject,
    giant_header,
    giant_parameters,
    huge_address_list,
    long_url,
    many_headers,
    many_links,
    many_parts,
    ordinary,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from SMTPMockLibrary import MockSMTPServer, ReceivedMessage
from SMTPMockLibrary.links import _links_in_html, _trim
from SMTPMockLibrary.message import _header_value as structured_header_value
from SMTPMockLibrary.mime import (
    MAX_DEPTH,
    MAX_PARTS,
    cheap_addresses,
    cheap_parameters,
    decode_words,
    parse_tree,
)
from SMTPMockLibrary.report import EVIDENCE_MAX

STDLIB = BytesParser(policy=email.policy.default)

# Big enough to pass every limit, small enough for a unit test.
SMALL = {
    "deep_multipart": 300,
    "deep_rfc822": 300,
    "many_parts": 1500,
    "huge_address_list": 3000,
    "encoded_word_subject": 2000,
    "giant_header": 50_000,
    "many_headers": 3000,
    "giant_parameters": 2000,
    "broken_boundaries": 500,
    "base64_at_scale": 200_000,
    "long_url": 100_000,
    "many_links": 3000,
}


def received(raw: bytes, recipients: list[str] | None = None) -> ReceivedMessage:
    return ReceivedMessage(raw, "sender@example.com", recipients or ["zoe@example.com"])


def read_everything(message: ReceivedMessage) -> None:
    for name in (
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
        "defects",
        "size",
        "summary",
        "to_dict",
        "verification_code",
    ):
        value = getattr(message, name)
        if callable(value):
            value()
    for attachment in message.attachments:
        assert isinstance(attachment.content, bytes)
        str(attachment)
    dict(message.headers)
    repr(message)


# ------------------------------------------------------------------ the corpus


@pytest.mark.parametrize("name", list(CORPUS))
def test_every_accessor_reads_every_hostile_shape(name):
    raw = CORPUS[name](SMALL[name])
    message = received(raw)
    read_everything(message)
    assert message.raw == raw
    assert all(isinstance(defect, str) and defect for defect in message.defects)
    assert len(message.summary()) < 1000 and len(repr(message)) < 1000


def test_deep_multipart_is_read_to_the_limit_and_the_rest_kept_whole():
    raw = deep_multipart(1000)
    message = received(raw)
    assert message.subject == "Deep multipart"
    assert message.text.strip() == "outer text"
    assert any(f"deeper than {MAX_DEPTH} levels" in d for d in message.defects)
    (kept,) = [a for a in message.attachments if b"the innermost text" in a.content]
    assert kept.content_type == "multipart/mixed"
    assert kept.content in raw


def test_deep_forward_keeps_the_attached_message_as_received():
    raw = deep_rfc822(1000)
    message = received(raw)
    assert message.text.strip() == "forwarded below"
    (forwarded,) = message.attachments
    assert forwarded.content_type == "message/rfc822"
    assert forwarded.content.startswith(b"Subject: Fwd 1\r\n")
    assert forwarded.content.endswith(b"original text")
    assert forwarded.content in raw
    assert any(f"deeper than {MAX_DEPTH} levels" in d for d in message.defects)
    assert "original text" in message.searchable_text


def test_nesting_up_to_the_limit_is_read_whole():
    within = parse_tree(deep_multipart(MAX_DEPTH - 1))
    leaves = [p for p in within.root.walk() if not p.children]
    assert within.defects == []
    assert leaves[-1].depth == MAX_DEPTH
    assert leaves[-1].message.get_payload() == "the innermost text"
    beyond = parse_tree(deep_multipart(MAX_DEPTH))
    assert beyond.defects and "deeper than" in beyond.defects[0]
    assert next(p for p in beyond.root.walk() if p.opaque).depth == MAX_DEPTH


def test_parts_up_to_the_limit_are_read_and_the_rest_kept_unparsed():
    # The message, its text part and the attachments are parts.
    within = received(many_parts(MAX_PARTS - 2))
    assert len(within.attachments) == MAX_PARTS - 2
    assert not any("MIME parts" in d for d in within.defects)
    beyond = received(many_parts(MAX_PARTS * 3))
    assert len(beyond.attachments) == MAX_PARTS - 2
    assert beyond.attachments[-1].filename == f"f{MAX_PARTS - 3}.bin"
    assert beyond.text.strip() == "the text body"
    assert any(f"More than {MAX_PARTS:,} MIME parts" in d for d in beyond.defects)


def test_huge_address_lists_are_read_whole_and_summaries_capped():
    message = received(
        huge_address_list(20_000), [f"r{i}@example.com" for i in range(500)]
    )
    assert len(message.to) == 20_001
    assert message.to[-1] == "user19999@example.com"
    assert message.cc[0] == "user0@example.com"
    assert message.bcc == message.recipients
    assert any("simple reader" in d for d in message.defects)
    assert "and 490 more" in message.summary()
    assert len(message.summary()) < 1000


def test_giant_and_encoded_headers_are_decoded_by_the_simple_decoder():
    subject = received(encoded_word_subject(5000)).subject
    assert subject.startswith("wörd0wörd1wörd2") and subject.endswith("wörd4999")
    giant = received(giant_header(200_000))
    assert giant.from_address == "hostile@example.com"
    assert len(giant.headers["X-Giant"]) > 190_000
    assert any("X-Giant" in d for d in giant.defects)
    headers = received(many_headers(20_000))
    assert headers.subject == "Many headers"
    assert len(headers.headers.get_all("Received")) == 20_000
    assert headers.to == ["headers@example.com"]


def test_giant_parameters_give_the_file_name():
    (attachment,) = received(giant_parameters(3000)).attachments
    assert attachment.filename.startswith("é0é1é2") and len(attachment.filename) > 3000
    assert (attachment.content_type, attachment.content) == ("application/pdf", b"%PDF")


def test_broken_boundaries_read_as_the_standard_library_reads_them():
    raw = broken_boundaries(300)
    assert _dump(parse_tree(raw).root.message) == _dump(STDLIB.parsebytes(raw))
    message = received(raw)
    assert message.text.strip() == "broken but readable"
    assert any("never closes its boundary" in d for d in message.defects)


def test_base64_at_scale_and_long_urls():
    message = received(base64_at_scale(300_000))
    assert message.links == ["https://example.com/" + "a" * 200]
    (binary,) = message.attachments
    assert binary.filename == "random.bin" and binary.size == 150_000
    url = received(long_url(200_000)).links
    assert url == ["https://example.com/(((" + "x" * 100_000 + ")))"]


def test_many_links_are_all_found_in_order():
    links = received(many_links(5000)).links
    assert len(links) == 10_000
    assert (
        links[0] == "https://example.org/0" and links[-1] == "https://example.com/4999"
    )


def test_ordinary_mail_has_no_defects():
    message = received(ordinary())
    assert message.defects == []
    assert [a.filename for a in message.attachments] == ["unnamed.bin", "invoice.pdf"]


# ------------------------------------------------------- inline attachments


def test_inline_means_shown_by_the_html_or_an_inline_disposition_or_a_bare_content_id():
    message = EmailMessage()
    message["Subject"] = "Related"
    message.set_content("text")
    message.add_alternative('<img src="cid:logo@x"><img src="cid:named@x">', "html")
    html = message.get_payload()[1]
    html.add_related(b"PNG", "image", "png", cid="<logo@x>")
    # With a file name, add_related() writes "Content-Disposition: attachment".
    html.add_related(b"GIF", "image", "gif", cid="<named@x>", filename="named.gif")
    html.add_related(b"JPG", "image", "jpeg", disposition="inline", filename="p.jpg")
    html.add_related(b"BMP", "image", "bmp")
    for part in html.iter_parts():
        if part.get_content_type() in ("image/png", "image/bmp"):
            del part["Content-Disposition"]  # add_related() made them "inline"
    message.add_attachment(b"%PDF", "application", "pdf", filename="terms.pdf")
    attachments = received(message.as_bytes()).attachments
    by_type = {a.content_type: a for a in attachments}
    assert by_type["image/png"].content_id == "logo@x"
    assert by_type["image/png"].inline is True
    # "attachment", but the HTML body shows it: inline all the same.
    assert (by_type["image/gif"].content_id, by_type["image/gif"].inline) == (
        "named@x",
        True,
    )
    assert by_type["image/jpeg"].inline is True
    assert by_type["image/bmp"].inline is False
    assert by_type["application/pdf"].inline is False


# ------------------------------------------------- one hostile message in many


def test_one_hostile_message_never_hides_the_others():
    with MockSMTPServer() as server, smtplib.SMTP("127.0.0.1", server.port) as client:
        for name, make in CORPUS.items():
            client.sendmail(
                "app@example.com", [f"{name}@example.com"], make(SMALL[name])
            )
        welcome = ordinary(20_000, recipient="alice@example.com")
        client.sendmail("shop@example.com", ["alice@example.com"], welcome)
        assert all("_tree" not in vars(m) for m in server.messages)  # never parsed
        assert len(server.messages) == len(CORPUS) + 1

        def sequences(**filters: str) -> list[str]:
            return [m.recipients[0] for m in server.get_messages(**filters)]

        assert sequences(subject="Bestellung") == ["alice@example.com"]
        assert sequences(subject="Welcome") == []
        assert sequences(to="bob@example.com") == ["alice@example.com"]
        assert sequences(cc="user2999@example.com") == ["huge_address_list@example.com"]
        assert sequences(body="Danke") == ["alice@example.com"]
        assert sequences(attachment="invoice.pdf") == ["alice@example.com"]
        assert sequences(from_address="shop@example.com") == ["alice@example.com"]
        assert sequences(header="X-Giant") == ["giant_header@example.com"]
        assert sequences(matching="the innermost text") == [
            "deep_multipart@example.com"
        ]
        for message in server.messages:
            read_everything(message)


def test_a_failed_test_logs_hostile_mail_as_evidence_without_errors(tmp_path):
    corpus = Path(__file__).resolve().parent / "hostile_corpus.py"
    (tmp_path / "send_corpus.py").write_text(
        "import smtplib, sys\n"
        f"sys.path.insert(0, {str(corpus.parent)!r})\n"
        "from hostile_corpus import CORPUS\n"
        f"SMALL = {SMALL!r}\n"
        "def send_hostile_corpus(port):\n"
        "    with smtplib.SMTP('127.0.0.1', int(port)) as client:\n"
        "        for name, make in CORPUS.items():\n"
        "            client.sendmail('a@example.com', [name + '@example.com'],"
        " make(SMALL[name]))\n"
    )
    suite = tmp_path / "evidence.robot"
    suite.write_text(
        "*** Settings ***\n"
        "Library    SMTPMockLibrary\n"
        f"Library    {tmp_path / 'send_corpus.py'}\n\n"
        "*** Test Cases ***\n"
        "Hostile Mail As Evidence\n"
        "    ${port}=    Start Mock SMTP Server\n"
        "    Send Hostile Corpus    ${port}\n"
        f"    Wait Until Received Message Count Is    {len(CORPUS)}\n"
        "    Fail    Failed on purpose\n"
    )
    result = run_robot(suite, "--outputdir", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    root = ET.parse(tmp_path / "output.xml").getroot()
    (test,) = root.iter("test")
    assert test.find("status").get("status") == "FAIL"
    assert test.find("status").text == "Failed on purpose"
    problems = [m.text for m in root.iter("msg") if m.get("level") in ("ERROR", "WARN")]
    assert problems == []
    assert [e.text for e in root.iter("error")] == []
    texts = [m.text or "" for m in root.iter("msg")]
    evidence = f"Evidence: {len(CORPUS)} messages received by server"
    assert any(text.startswith(evidence) for text in texts), texts
    cards = [t for t in texts if "Message #" in t]
    assert len(cards) == min(len(CORPUS), EVIDENCE_MAX)
    assert "Deep multipart" in cards[0]
    if len(CORPUS) > EVIDENCE_MAX:
        assert any(f"and {len(CORPUS) - EVIDENCE_MAX} more" in t for t in texts)


# ----------------------------------- the bounded reader equals email.feedparser


def _dump(message: Message) -> tuple:
    payload = message._payload  # type: ignore[attr-defined]
    if isinstance(payload, list):
        payload = [_dump(part) for part in payload]
    return (
        message.get_unixfrom(),
        [(name, str(value)) for name, value in message.raw_items()],
        message.get_default_type(),
        payload,
        message.preamble,
        message.epilogue,
    )


def _same_as_stdlib(raw: bytes) -> None:
    assert _dump(parse_tree(raw).root.message) == _dump(STDLIB.parsebytes(raw))


PIECES = st.sampled_from(
    [
        b"Content-Type: multipart/mixed; boundary=B\r\n",
        b'Content-Type: multipart/alternative; boundary="C"\r\n',
        b"Content-Type: multipart/digest; boundary=D\r\n",
        b'Content-Type: multipart/mixed; boundary="B--"\r\n',
        b"Content-Type: multipart/mixed\r\n",
        b"--B\r\n",
        b"--B--\r\n",
        b"--C\r\n",
        b"--C--\r\n",
        b"--D\r\n",
        b"--D--\r\n",
        b"--B  \r\n",
        b"--B-- \t\r\n",
        b"--B",
        b"--C--",
        b"--B----\r\n",
        b"----B\r\n",
        b"--\r\n",
        b"Content-Type: text/plain; charset=utf-8\r\n",
        b"Content-Type: text/html\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Subject: x\r\n",
        b"From nobody\r\n",
        b"From: a@b\r\n",
        b" continued\r\n",
        b": nameless\r\n",
        b"bad line\r\n",
        b"\r\n",
        b"\n",
        b"\r",
        b"text\r\n",
        b"text",
        b"\x0b--B\r\n",
        b"\r--C\n",
        b"\xff\xfe\r\n",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(PIECES, max_size=40))
@example([b"Content-Type: message/rfc822\r\n", b"From nobody\r\n", b"\r\n", b"x"])
@example([b"Content-Type: multipart/mixed; boundary=B\r\n", b"\r\n", b"--B\r\n"] * 2)
def test_boundary_rules_are_those_of_the_standard_library(pieces):
    _same_as_stdlib(b"".join(pieces))


BOUNDARIES = st.text("abcXYZ0123'()+_,-./:=? ", min_size=1, max_size=12).map(
    lambda b: b.strip() or "b"
)
LEAVES = st.builds(
    lambda kind, body: kind + b"\r\n" + body,
    st.sampled_from(
        [
            b"Content-Type: text/plain; charset=utf-8\r\n",
            b"Content-Type: text/html\r\n",
            b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n",
            b'Content-Disposition: attachment; filename="a.txt"\r\n',
            b"",
        ]
    ),
    st.sampled_from([b"", b"line\r\n", b"two\r\nlines", b"--not a boundary\r\n"]),
)


def _multipart(boundary: str, parts: list[bytes], closed: bool) -> bytes:
    body = b"".join(
        b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts
    )
    close = b"--" + boundary.encode() + b"--\r\n" if closed else b""
    return (
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'.encode()
        + b"preamble\r\n"
        + body
        + close
    )


def _nest(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.builds(
            _multipart,
            BOUNDARIES,
            st.lists(children, min_size=1, max_size=4),
            st.booleans(),
        ),
        children.map(lambda inner: b"Content-Type: message/rfc822\r\n\r\n" + inner),
    )


STRUCTURES = st.recursive(LEAVES, _nest, max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(STRUCTURES)
def test_nested_structures_are_read_as_the_standard_library_reads_them(raw):
    _same_as_stdlib(b"Subject: nested\r\n" + raw)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    depth=st.integers(1, 3 * MAX_DEPTH),
    kinds=st.lists(st.sampled_from(["mixed", "rfc822", "digest"]), min_size=1),
    breadth=st.integers(0, 2 * MAX_PARTS),
)
def test_deep_and_wide_structures_never_make_an_accessor_raise(depth, kinds, breadth):
    opening, closing = [], []
    for level in range(depth):
        kind = kinds[level % len(kinds)]
        if kind == "rfc822":
            opening.append(b"Content-Type: message/rfc822\r\n\r\n")
            closing.append(b"")
        else:
            opening.append(
                f"Content-Type: multipart/{kind}; boundary=L{level}\r\n\r\n"
                f"--L{level}\r\n".encode()
            )
            closing.append(f"\r\n--L{level}--\r\n".encode())
    wide = b"".join(
        f"--W\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n".encode()
        for i in range(breadth)
    )
    raw = (
        b"Subject: deep and wide\r\n"
        + b"".join(opening)
        + b"Content-Type: multipart/mixed; boundary=W\r\n\r\n"
        + wide
        + b"--W--"
        + b"".join(reversed(closing))
    )
    message = received(raw)
    read_everything(message)
    assert message.raw == raw
    parts = 2 + depth + breadth
    if parts <= MAX_PARTS and depth < MAX_DEPTH:
        _same_as_stdlib(raw)
        assert message.defects == [] or breadth == 0  # "never opens its boundary"
    else:
        assert message.defects


# ---------------------------------------- the cheap readers agree where they apply


WORDS = st.text("abcxyzäöü€ 日本", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(WORDS, st.sampled_from(["plain", "q", "b"])), max_size=8))
def test_the_simple_decoder_agrees_with_the_structured_parser(words):
    from email.header import Header

    pieces = []
    for word, kind in words:
        if kind == "plain" and word.isascii() and word.strip():
            pieces.append(word.strip())
        elif word.strip():
            encoded = Header(word.strip(), "utf-8").encode()
            pieces.append(encoded if kind == "b" else encoded.replace("?b?", "?B?"))
    value = " ".join(pieces)
    assert decode_words(value) == structured_header_value("Subject", value)


ADDRESS = st.builds(
    lambda name, local, quoted: (
        f'"{name}" <{local}@example.com>'
        if quoted
        else (f"{name} <{local}@example.com>" if name else f"{local}@example.com")
    ),
    st.text("Abc Zoë.", max_size=10).map(str.strip),
    st.text("abcxyz019._+-", min_size=1, max_size=10),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(ADDRESS, min_size=1, max_size=10))
def test_the_address_reader_agrees_with_getaddresses(addresses):
    value = ", ".join(addresses)
    expected = [address for _, address in getaddresses([value]) if address]
    assert cheap_addresses(value) == expected


@settings(max_examples=200, deadline=None)
@given(
    name=st.text("abcé €.pdf-", min_size=1, max_size=20),
    style=st.sampled_from(["quoted", "rfc2231", "continued"]),
)
def test_the_parameter_reader_agrees_with_the_structured_parser(name, style):
    if style == "quoted":
        header = f'attachment; filename="{name}"'
    else:
        encoded = "".join(f"%{b:02X}" for b in name.encode())
        if style == "rfc2231":
            header = f"attachment; filename*=utf-8''{encoded}"
        else:
            half = len(encoded) // 2 // 3 * 3
            header = (
                f"attachment; filename*0*=utf-8''{encoded[:half]}; "
                f"filename*1*={encoded[half:]}"
            )
    part = EmailMessage()
    part["Content-Disposition"] = header
    disposition, params = cheap_parameters(header)
    assert disposition == part.get_content_disposition()
    assert params["filename"].strip() == part.get_filename()  # as _cheap_facts


# --------------------------------------------------------------------- links


def _old_trim(url: str) -> str:
    while url and url[-1] in ".,;:!?)]}>'\"":
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


@settings(max_examples=300, deadline=None)
@given(st.text("ab()[]{}.,;:!?>'\"/", max_size=30))
def test_the_linear_trim_gives_what_the_old_one_gave(tail):
    url = "https://example.com/" + tail
    assert _trim(url) == _old_trim(url)


class _ReferenceCollector(HTMLParser):
    """The link reading of html.parser, which links.py replaced for speed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            pairs = {
                ("a", "href"),
                ("area", "href"),
                ("link", "href"),
                ("form", "action"),
            }
            if (tag, name) in pairs and value:
                value = value.strip()
                if re.match(r"https?://[^\s<>\"'`]+", value, re.IGNORECASE):
                    self.links.append(value)

    def handle_data(self, data: str) -> None:
        self.links.extend(
            _trim(m.group())
            for m in re.finditer(r"https?://[^\s<>\"'`]+", data, re.IGNORECASE)
        )


HTML_PIECES = st.sampled_from(
    [
        '<a href="https://a.example.com/x?a=1&amp;b=2">a</a>',
        "<A HREF='https://b.example.com/'>B</A>",
        "<a href=https://c.example.com/unquoted>c</a>",
        '<area shape="rect" href="https://d.example.com/">',
        '<link rel="stylesheet" href="https://e.example.com/s.css">',
        '<form action="https://f.example.com/post" method="post"></form>',
        '<a title="x > y" href="https://g.example.com/">g</a>',
        '<a href="javascript:alert(1)">js</a>',
        '<a href = "https://h.example.com/spaced" >h</a>',
        "<p>Visit https://i.example.com/page. Or (https://j.example.com/y)!</p>",
        "text &amp; https://k.example.com/?q=1&amp;r=2 more",
        "<!-- https://hidden.example.com/ <a href='https://l.example.com/'> -->",
        "<!--[if mso]><v:rect href='https://m.example.com/'></v:rect><![endif]-->",
        "<style>p { background: url(https://n.example.com/bg.png) }</style>",
        "<br/>",
        "<img src='cid:logo@x' alt=\"a<b\">",
        "\r\n",
        " ",
        "<table><tr><td>cell</td></tr></table>",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(HTML_PIECES, max_size=15))
def test_the_html_link_reader_agrees_with_html_parser(pieces):
    html = "".join(pieces)
    reference = _ReferenceCollector()
    reference.feed(html)
    reference.close()
    assert _links_in_html(html) == reference.links
