"""Verification codes: realistic sign-in, 2FA and shop mails sent over real SMTP,
and the rules (keywords, languages, what is never a code) one by one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import send
from hypothesis import given, settings
from hypothesis import strategies as st

from SMTPMockLibrary import MockSMTPServer, ReceivedMessage
from SMTPMockLibrary.codes import (
    MAX_SCANNED_CHARS,
    find_verification_codes,
    html_to_text,
    searched_text,
)
from SMTPMockLibrary.errors import ConfigurationError

TEMPLATES = Path(__file__).parents[1] / "atest" / "resources" / "codes"

# Each template, the code a person reading it would type, and every candidate.
EXPECTED = {
    "01_plain_signin.eml": ("048213", ["048213"]),
    "02_html_table_base64.eml": ("739204", ["739204"]),
    "03_spaced_digits.eml": ("482193", ["482193"]),
    "04_digit_cells.eml": ("517930", ["517930"]),
    "05_alphanumeric.eml": ("X7K9QP", ["X7K9QP"]),
    "06_hyphenated_subject.eml": ("OR-520417", ["OR-520417"]),
    "07_german.eml": ("583920", ["583920"]),
    "08_french.eml": ("274815", ["274815"]),
    "09_spanish_latin1.eml": ("9037", ["9037"]),
    "10_code_in_subject.eml": ("660417", ["660417"]),
    "11_code_in_link.eml": ("615204", ["615204", "5f2b9c"]),
    "12_date_and_order.eml": ("3391", ["3391"]),
    "13_no_code.eml": (None, []),
    "14_bare_number.eml": ("830512", ["830512"]),
    "15_italian.eml": ("662013", ["662013"]),
}


def test_every_template_has_an_expectation() -> None:
    assert sorted(p.name for p in TEMPLATES.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_templates_over_real_smtp(server, name: str) -> None:
    send(server.port, (TEMPLATES / name).read_bytes(), recipients=["u@example.com"])
    message = server.wait_for_message(timeout=5)
    code, candidates = EXPECTED[name]
    assert message.verification_code() == code
    assert message.verification_code(all=True) == candidates


def _code(text: str = "", subject: str = "", html: str = "") -> str | None:
    codes = find_verification_codes(subject, text, html)
    return codes[0] if codes else None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Your code is 482193.", "482193"),
        ("482193 is your Acme code. Don't share it.", "482193"),
        ("Enter the code below.\n\n482193\n\nIt expires in 10 minutes.", "482193"),
        ("Your verification code:\n\n   0042   \n", "0042"),
        ("Your PIN number is 0042", "0042"),
        ("Your TAN: 847362", "847362"),
        ("Your one-time password: 55 66 77", "556677"),
        ("Your verification code is 1234 5678", "12345678"),
        ("Your code: 48-21-93", "48-21-93"),
        ("Your code: ABCD-EFGH", "ABCD-EFGH"),
        ("Your code is QWERTZ", "QWERTZ"),
        ("Backup code 1: 8f3k2m9q", "8f3k2m9q"),
        ("YOUR VERIFICATION CODE IS 551100", "551100"),
        ("Order confirmation code: 482193", "482193"),
        ("Reset code for account 99881122: 440011", "440011"),
        ("Your new code is 111222. (Your previous code 333444 expired.)", "111222"),
        ("Your code is 482193, valid until 2026-11-25 18:00.", "482193"),
        ("Code: 4821. Call 555-0123 for help.", "4821"),
        ("Hi! Use code 2048 to log in.", "2048"),
        ("Ihr Sicherheitscode: 310775", "310775"),
        ("Ihr Einmalpasswort lautet 774411", "774411"),
        ("Votre code de confirmation : 220044", "220044"),
        ("Ce code n'est valable que 10 minutes : 558821", "558821"),
        ("Tu código es 6677", "6677"),
        ("Je verificatiecode is 905118", "905118"),
        ("Voer de code in: 482193", "482193"),
        ("Seu código de verificação é 118822", "118822"),
        ("Twój kod weryfikacyjny: 550011", "550011"),
        ("Din verifieringskod: 4411", "4411"),
        ("Ваш код подтверждения: 773311", "773311"),
        ("您的验证码是908172，5分钟内有效。", "908172"),
        ("認証コード：553201", "553201"),
        ("인증번호 [774411]을 입력해 주세요", "774411"),
        ("Use 830512 to sign in.", "830512"),
        ("Meeting ID: 885 2231 4410\nPasscode: 739204", "739204"),
        ("Acme: 550812 is your verification code. @acme.example #550812", "550812"),
    ],
)
def test_codes_in_text(text: str, code: str) -> None:
    assert _code(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "Use promo code SAVE20 at checkout.",
        "Please decode the attached file 4821 with Unicode 9.0",
        "Gutscheincode: WINTER2026",
        "Postcode: 1011 AB Amsterdam",
        "Code postal : 75001",
        "This code is valid until 25 November 2026.",
        "© 2026 Example Inc.",
        "Order #100234 placed on 2026-11-25. Total: $1,249.00",
        "Invoice 2026-0042 of 24/11/2026, 1.249,00 €",
        "Call +49 30 1234567 or (555) 012-3456.",
        "Requested from IP 192.168.10.254 at 14:30.",
        "Your account number is 99881122.",
        "Visit https://example.com/p/5521907733?ref=2026 or write to a1234@x.example",
        "THE CODE EXPIRES SOON",
        "Acme, 1600 Example Avenue, Springfield, IL 62704",
        "Use 2048 MB of storage.",
        "Your Visa card ending in 4821 was charged $12.00 on 11/25.",
        "Payment received with card •••• 4821. Thank you!",
        "Release 2026.11 of Widgets is available (build 48213).",
        "This week: 5 tips. 10000 readers can't be wrong.",
        "Flight LH 2041 departs 07:15 from gate B44 on 2026-12-01.",
        "",
    ],
)
def test_no_code(text: str) -> None:
    assert find_verification_codes("", text, "") == []


def test_code_in_subject() -> None:
    assert _code("Use the code in the subject.", subject="Your code: 735511") == (
        "735511"
    )


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("Subject: Your code\n\n482 193", "482193"),
        ("Subject: Sign in\n\nUse 482 193 to sign in.", "482193"),
    ],
)
def test_spaced_code_without_a_keyword_beside_it(
    server: MockSMTPServer, source: str, code: str
) -> None:
    assert server.deliver(source, "x@example.com").verification_code() == code


@pytest.mark.parametrize(
    "subject",
    ["Your code", "Ihr Code", "Votre code de vérification", "Tu código", "OTP"],
)
def test_subject_announces_the_code_at_the_top_of_the_body(subject: str) -> None:
    footer = "\n\nAcme Inc., Springfield, IL 62704"  # another lone number
    assert _code("48 21 93" + footer, subject=subject) == "482193"
    assert _code("482193" + footer, subject=subject) == "482193"
    assert _code("482193" + footer, subject="Hello") is None
    html = f"<p>482&nbsp;193</p><p>{footer}</p>"
    assert find_verification_codes(subject, "", html) == ["482193"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("Use 482 193 to sign in.", "482193"),
        ("48 21 93", "482193"),
        ("Your new device is ready.\n\n1234 5678", "12345678"),
    ],
)
def test_a_lone_spaced_number_is_a_code(body: str, code: str) -> None:
    assert _code(body, subject="Sign in") == code


@pytest.mark.parametrize(
    "body",
    [
        "Call us on +1 555 123 4567.",
        "Call us on 555 123 4567.",
        "Our office: 030 1234 5678",
        "Questions? (555) 123-4567",
        "Reach us at 912 345 678 any time.",
        "Service client : 01 23 45 67 89",
        "See you on 25 11 2026.",
        "See you on 25 11 26.",
        "It costs 1 249,00 EUR.",
        "Over 100 000 readers.",
        "Order 482 193 has shipped.",
        "Meeting 885 2231 4410",
    ],
)
def test_spaced_numbers_that_are_no_code(body: str) -> None:
    assert _code(body, subject="Hello") is None


def test_code_in_html_only() -> None:
    html = (
        "<html><head><title>Code 999999</title><style>.c{x:1234}</style></head>"
        "<body><table><tr><td>Verification code</td><td><b>63&nbsp;71&nbsp;20</b>"
        "</td></tr></table><script>var t = 4321;</script></body></html>"
    )
    assert find_verification_codes("", "", html) == ["637120"]


def test_a_link_parameter_named_like_a_code_wins_over_other_parameters() -> None:
    text = (
        "Open https://x.example/v?uid=1029384&token=ab12cd&otp=902114&lang=en\n"
        "or https://x.example/v?state=77aa99&pin=4455"
    )
    assert find_verification_codes("", text, "") == ["902114", "4455", "ab12cd"]


def test_long_link_parameters_and_promo_codes_are_not_codes() -> None:
    text = (
        "https://x.example/cb?code=4f9a8b7c6d5e4f3a2b1c&promo_code=SAVE10"
        "&zip_code=94103"
    )
    assert find_verification_codes("", text, "") == []


def test_html_entities_in_links_are_decoded() -> None:
    html = '<a href="https://x.example/verify?user=5&amp;code=310944">Verify</a>'
    assert find_verification_codes("", "", html) == ["310944"]


def test_pattern_first_group_or_whole_match() -> None:
    text = "Ticket-PIN: K7-QX-2P\nOther: 123456"
    assert find_verification_codes("", text, "", pattern=r"PIN: ([\w-]+)") == [
        "K7-QX-2P"
    ]
    assert find_verification_codes("", text, "", pattern=r"regexp:\d{6}") == ["123456"]
    assert find_verification_codes("", text, "", pattern=r"REGEXP:\d{6}") == ["123456"]
    assert find_verification_codes("", text, "", pattern=r"PIN: (\d{9})") == []


def test_pattern_searches_subject_text_html_text_and_html_source() -> None:
    html = '<p>code <b>A-1</b></p><a href="https://x.example/?k=B-2">x</a>'
    codes = find_verification_codes("S-0", "T-9", html, pattern=r"\b([A-Z])-\d\b")
    assert codes == ["S", "T", "A", "B"]


def test_pattern_errors_are_clear() -> None:
    with pytest.raises(
        ConfigurationError, match=r"Invalid regular expression '\(' in pattern=:"
    ):
        find_verification_codes("", "x", "", pattern="(")
    with pytest.raises(ConfigurationError, match="not a glob"):
        find_verification_codes("", "x", "", pattern="glob:*")
    with pytest.raises(ConfigurationError, match="not a glob"):
        find_verification_codes("", "x", "", pattern="Glob:*")


def test_huge_text_is_searched_up_to_the_cap() -> None:
    filler = "lorem ipsum 12 " * (MAX_SCANNED_CHARS // 10)
    assert _code("Your code is 739204. " + filler) == "739204"
    assert _code(filler + "Your code is 739204.") is None


@pytest.mark.parametrize(
    "hostile",
    ["1" * 500_000, "1 " * 250_000, "a@" * 250_000, "code " * 100_000, "-A" * 250_000],
)
def test_hostile_text_gives_an_answer(hostile: str) -> None:
    # Linear-time expressions and the cap make this finish in a fraction of a
    # second (measured figures in the report); here it must simply finish.
    assert isinstance(find_verification_codes(hostile, hostile, hostile), list)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("0123456789 -.:#+$€abcXYZ\ncodePIN"), max_size=200)
)
def test_every_candidate_has_the_shape_of_a_code(text: str) -> None:
    for code in find_verification_codes(text, text, f"<p>{text}</p>"):
        assert re.fullmatch(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*", code), code
        assert 4 <= len(code.replace("-", "")) <= 10


def test_html_without_closing_head_still_shows_its_body() -> None:
    html = "<html><head><title>Sign in<style>p{}</style><body><p>Code: 662200</p>"
    assert find_verification_codes("", "", html) == ["662200"]


def test_html_to_text() -> None:
    html = (
        "<div>Hello&nbsp;<b>Zoë</b></div><table><tr><td>1</td><td>2</td></tr></table>"
        "<script>alert(1)</script><style>p{}</style><p>Bye</p>"
    )
    assert html_to_text(html) == "Hello Zoë\n1 2\nBye"


def test_searched_text_shows_subject_bodies_and_links() -> None:
    shown = searched_text(
        "Welcome", "Hello there", '<p>Hi</p><a href="https://x.example/a">a</a>'
    )
    assert shown == (
        "Subject: Welcome\n\nHello there\n\n[HTML body as text]\nHi\na\n\n"
        "[Links]\nhttps://x.example/a"
    )
    assert searched_text("", "", "").endswith("(no text or HTML body)")


def test_message_method_returns_a_string_or_none() -> None:
    raw = b"Subject: Sign in\r\n\r\nYour code: 007007\r\n"
    message = ReceivedMessage(raw, "a@example.com", ["b@example.com"])
    assert message.verification_code() == "007007"
    assert message.verification_code(all=True) == ["007007"]
    assert message.verification_code(pattern=r"(\d{3})$") == "007"
    empty = ReceivedMessage(b"Subject: Hi\r\n\r\nHello\r\n", "a@x.test", ["b@x.test"])
    assert empty.verification_code() is None
    assert empty.verification_code(all=True) == []
