"""Finding the one-time code of a sign-in, 2FA or verification mail.

A code is a run of 4 to 10 digits or letters. The search prefers a code close
after (or just before) words such as *code*, *PIN*, *OTP*, *verification* or
*passcode* (in English, German, French, Spanish and other common languages),
in the same sentence rather than the next (the subject counts as the
paragraph above each body: *Your code* there announces a code at the top of
the body); then a link parameter named like a code (``?otp=...``,
``?code=...``); and falls back to a run of digits, or two or three spaced
groups of digits (``482 193``, ``48 21 93``), only when it is the only one in
the mail. Spaced digits are joined. Dates, years, times, prices, phone
numbers, IP addresses, order, invoice, customer and card numbers, promo codes,
postcodes, and the digits of URLs and e-mail addresses are never taken for a
code.

Only the first ``MAX_SCANNED_CHARS`` characters of each body are searched, and
every regular expression here runs in linear time, so a huge or hostile mail
costs a bounded time.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from html import unescape
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

from .errors import ConfigurationError
from .filters import compile_raw_regex, split_prefix
from .links import HTML_TOKEN, extract_links

MAX_SCANNED_CHARS = 200_000
"""Characters of the subject, the text body and the HTML body that are searched."""

# Words that announce a code. Stems of the "code" family match inside compound
# words too (Bestätigungscode, Sicherheitscode, verificatiecode, passcode).
_CODE_STEMS = r"codes?|codice|c[óo]digo|kod|kodu|kode|koodi|k[óo]d|код|кодом"
_CODE_WORDS = (
    r"pin|otp|totp|2fa|mfa|passcode|token|verification|verify|verifizierung"
    r"|v[ée]rification|verificaci[óo]n|verifica[çc][ãa]o|verifica|bestätigung"
    r"|one[- ]time[- ]pass(?:word|code)|einmal(?:passwort|kennwort)"
    r"|mot de passe (?:à usage unique|temporaire)"
    r"|contraseña (?:de un solo uso|temporal)|clave"
)
# Words after which a number is something else than a code.
_OTHER_NUMBER_WORDS = (
    r"order|orders|invoice|receipt|ticket|reference|ref|booking|reservation"
    r"|account|customer|client|case|tracking|shipment|parcel|number|no|nr|n[º°o]"
    r"|id|ip|phone|telephone|tel|mobile|fax|call|hotline|whatsapp|total|amount"
    r"|price|sum|street|st|suite|apt|box|bestellung|rechnung|auftrag|buchung"
    r"|kunde|kundin|sendung|vorgang|telefon|betrag|summe|preis|straße|str"
    r"|commande|facture|numéro|réservation|dossier|téléphone|tél|montant|prix"
    r"|rue|pedido|factura|número|reserva|cliente|teléfono|importe|precio|calle"
    r"|ordine|fattura|numero|n\.|importo|prezzo|telefono|bestelling|factuur|bedrag"
    r"|card|karte|carte|tarjeta|ending|endet|endend|build|version|release|seat|gate"
    r"|flight|flug|vol|vuelo|room|zimmer|chambre|habitación|platform|gleis"
)
_KEYWORD = re.compile(
    # The lookahead rejects most positions at once: without it, every space
    # would try each alternative.
    r"(?=[^\W_]|#)(?:"
    rf"(?P<stem>{_CODE_STEMS})(?!\w)"
    rf"|(?<!\w)(?P<word>{_CODE_WORDS}|(?-i:TAN))(?!\w)"
    rf"|(?<!\w)(?P<other>{_OTHER_NUMBER_WORDS})(?!\w)"
    r"|(?P<nummer>nummer|number)(?!\w)"
    r"|(?P<cjk>验证码|驗證碼|校验码|校驗碼|动态码|認証コード|確認コード|認証番号"
    r"|ワンタイムパスワード|인증번호|인증 ?코드|보안 ?코드)"
    r"|(?P<hash>#))",
    re.IGNORECASE,
)
# A "code" that is not a one-time code: promo code, postcode, código postal.
_NOT_A_ONE_TIME_CODE = re.compile(
    r"promo|promotional|promotion|discount|coupon|voucher|gift|referral|invite"
    r"|invitation|post|postal|zip|area|country|dialing|qr|bar|source|tracking"
    r"|gutschein|rabatt|aktions|postleit|vorwahl|réduction|descuento|regalo"
    r"|cupón|swift|bic|iban|sort|tax|vat|product|article|artikel|hs",
    re.IGNORECASE,
)
# Decode, encode, Unicode: words that end in "code" without being one.
_NOT_A_CODE_PREFIX = re.compile(r"de|en|uni|" + _NOT_A_ONE_TIME_CODE.pattern, re.I)

_SPACE = "[ \u00a0\u2007\u2009\u202f]"
_CANDIDATE = re.compile(
    r"(?<![A-Za-z0-9_\-])"
    r"(?:(?P<hyphenated>[A-Za-z0-9]{1,10}(?:-[A-Za-z0-9]{1,10}){1,3})"
    rf"|(?P<spaced>\d{{1,4}}(?:{_SPACE}\d{{1,4}}){{1,9}})"
    r"|(?P<single>[A-Za-z0-9]{4,10}))"
    r"(?![A-Za-z0-9_\-])"
)
_DATE_LIKE = re.compile(
    r"(?:19|20)\d\d-(?:0?[1-9]|1[0-2])(?:-(?:0?[1-9]|[12]\d|3[01]))?"
    r"|(?:0?[1-9]|[12]\d|3[01])-(?:0?[1-9]|[12]\d|3[01])-(?:\d\d|(?:19|20)\d\d)"
)
_DAY, _MONTH_NUMBER = r"(?:0[1-9]|[12]\d|3[01])", r"(?:0[1-9]|1[0-2])"
_SPACED_DATE = re.compile(  # 25 11 26, 11 25 26, 26 11 25
    rf"{_DAY} {_MONTH_NUMBER} \d\d|{_MONTH_NUMBER} {_DAY} \d\d"
    rf"|\d\d {_MONTH_NUMBER} {_DAY}"
)
_UNIT_SUFFIX = re.compile(
    r"\d+(?:st|nd|rd|th|am|pm|h|min|mins|sec|s|ms|px|pt|em|kb|mb|gb|tb|km|kg|mg|ml"
    r"|cm|mm|mhz|ghz|hz|fps|dpi|p|k|x|v)",
    re.IGNORECASE,
)
# Text that a code never lives in: URLs, e-mail addresses, phone numbers.
_MASKED = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+"
    r"|\+\d{1,4}(?:[ .\-/]?\(?\d{1,5}\)?){1,6}"
    r"|\(\d{2,5}\)[ .\-]?\d{2,5}(?:[ .\-]\d{2,5}){0,3}",
    re.IGNORECASE,
)
_ADDRESS_LOCAL_PART = re.compile(r"[A-Za-z0-9._%+\-]{1,64}$")
_ADDRESS_DOMAIN = re.compile(r"@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}")
_CURRENCY_BEFORE = re.compile(
    r"(?:[$€£¥₹₽₩]|usd|eur|gbp|chf|jpy|cad|aud|sek|nok|dkk|pln|r\$|kr\.?)\s?$",
    re.IGNORECASE,
)
_CURRENCY_AFTER = re.compile(
    r"^\s?(?:[$€£¥₹₽₩%]|usd|eur|gbp|chf|euros?|dollars?|pesos?|kr\b|zł)",
    re.IGNORECASE,
)
_MONTH = (
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|januar|februar|märz"
    r"|mai|juni|juli|okt|dez|janvier|février|mars|avril|juin|juillet|août"
    r"|septembre|octobre|novembre|décembre|enero|febrero|marzo|abril|mayo|junio"
    r"|julio|agosto|septiembre|octubre|noviembre|diciembre|january|february"
    r"|march|april|june|july|august|september|october|november|december"
)
_YEAR_CONTEXT = re.compile(
    rf"(?:(?<![a-zà-ÿ])(?:{_MONTH})\.?,?\s+(?:de\s+)?"
    r"(?:\d{1,2}(?:st|nd|rd|th)?\.?,?\s+(?:de\s+)?)?"
    r"|©\s*|\(c\)\s*|copyright\s+|since\s+|seit\s+|depuis\s+|desde\s+)$",
    re.IGNORECASE,
)
# "1600 Example Avenue", "2048 MB", "1500 points": a number that is no code.
_QUANTITY_OR_ADDRESS = re.compile(
    r"\s{1,3}(?:avenue|ave|street|st|road|rd|boulevard|blvd|lane|ln|way|drive|dr"
    r"|suite|floor|straße|strasse|str|weg|platz|allee|gasse|rue|calle|avenida"
    r"|plaza|via|piazza|km|mi|m|kg|g|mb|gb|kb|tb|points|punkte"
    r"|puntos|minutes|minuten|min|seconds|sekunden|hours|stunden|days|tage|jours"
    r"|días|users|members|mitglieder|people|personen|items|artikel|orders)(?!\w)",
    re.IGNORECASE,
)
_LINK_CODE_NAMES = {"otp", "totp", "code", "pin", "passcode", "codigo", "código"}
_LINK_TOKEN_NAMES = {"token", "verification", "verify", "confirm", "confirmation"}
_LINK_VALUE = re.compile(
    r"(?=(?:-?[A-Za-z0-9]){4,10}$)[A-Za-z0-9]+(?:-[A-Za-z0-9]+){0,3}"
)
_NAME_PARTS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

_WINDOW = 80  # how far, in characters and penalties, a keyword announces a code
_SEPARATION_PENALTY = 40  # for a sentence end or another candidate in between
_SENTENCE_END = re.compile(r"[.!?。](?=\s)\s*|\n[ \t]*\n\s*")
_OTHER_NUMBER_WINDOW = 30  # "Order #", "Tel." closer than this rule a number out
_SCORE_STEP = 20
# A code of letters only must follow "code:" or "code is" directly.
_LETTERS_CODE_GAP = re.compile(
    r"\s{0,3}(?:[:=\uff1a]|is|ist|est|es|è|é|lautet:?)\s{0,3}", re.IGNORECASE
)
_LINK_CODE_SCORE = 3  # ?code=... is nearly as good as "code: ..."
_LINK_TOKEN_SCORE = 30
_FALLBACK_SCORE = 1000


@dataclass(frozen=True)
class _Keyword:
    start: int
    end: int
    announces_code: bool


@dataclass(frozen=True)
class _Candidate:
    code: str
    score: int
    order: int


def find_verification_codes(
    subject: str, text: str, html: str, *, pattern: str | None = None
) -> list[str]:
    """Every one-time code found in a message, the most likely first.

    ``subject``, ``text`` and ``html`` are the decoded subject and bodies.
    A code near a word such as *code* or *PIN* comes first; the subject is
    read as the paragraph above each body, so a subject *Your code* announces
    a code at the top of the body. Without such a word, a run of digits, or
    two or three spaced groups of digits, is taken when it is the only one in
    the mail. Spaced digits are joined (``482 193`` -> ``482193``).
    With ``pattern`` (a regular expression, optionally prefixed ``regexp:``),
    the codes are its matches instead: its first group, or the whole match
    when it has no group, in the subject, the text body, the HTML body as text
    and then the HTML source.
    """
    if pattern is not None:
        return _pattern_matches(_compile_pattern(pattern), subject, text, html)
    subject, text, html = _capped(subject), _capped(text), _capped(html)
    candidates = _candidates_in_text(subject, order=0)
    heading = _subject_end(subject)
    for body in (text, html_to_text(html)):
        candidates.extend(
            _candidates_in_text(body, order=len(candidates), heading=heading)
        )
    candidates.extend(_candidates_in_links(text, html, order=len(candidates)))
    best: dict[str, _Candidate] = {}
    for candidate in candidates:  # each code once, at its best place
        known = best.get(candidate.code)
        if known is None or candidate.score < known.score:
            best[candidate.code] = candidate
    fallbacks = [c for c in best.values() if c.score == _FALLBACK_SCORE]
    if len(fallbacks) > 1 or len(fallbacks) < len(best):
        # Without a keyword, a run of digits is a code only when it is alone
        # (several are an address, a receipt) and nothing better was found.
        for candidate in fallbacks:
            del best[candidate.code]
    ranked = sorted(best.values(), key=lambda c: (c.score, c.order))
    return [candidate.code for candidate in ranked]


def searched_text(subject: str, text: str, html: str) -> str:
    """The text a code is searched in, as a failure shows it."""
    parts = [f"Subject: {_capped(subject)}"]
    if text:
        parts.append(_capped(text))
    if html:
        parts.append(f"[HTML body as text]\n{html_to_text(_capped(html))}")
    if not text and not html:
        parts.append("(no text or HTML body)")
    links = extract_links(_capped(text), _capped(html))
    if links:
        parts.append("[Links]\n" + "\n".join(links))
    return "\n\n".join(parts)


def html_to_text(html: str) -> str:
    """What a reader sees of an HTML body: text, one line per block, cells spaced.

    One linear pass with the HTML tokenizer of the link reader: no tag can
    make it backtrack, whatever the mail holds.
    """
    if not html:
        return ""
    html = _capped(html)
    parts: list[str] = []
    hidden = 0
    position = 0
    for token in HTML_TOKEN.finditer(html):
        if token.start() > position and not hidden:
            parts.append(_SPACES.sub(" ", unescape(html[position : token.start()])))
        position = token.end()
        name, closing = _tag_name(token)
        if name == "body" and not closing:  # mail often forgets </head> or </title>
            hidden = 0
        elif name in _HIDDEN:
            hidden = max(0, hidden - 1) if closing else hidden + 1
        elif name in _BLOCKS:
            parts.append("\n")
        elif name in _CELLS:
            parts.append(" ")
    if position < len(html) and not hidden:
        parts.append(_SPACES.sub(" ", unescape(html[position:])))
    lines = (
        _RUNS_OF_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n")
    )
    return "\n".join(line for line in lines if line)


_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "div", "dl", "dt", "dd"}
    | {"footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr"}
    | {"li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody"}
    | {"thead", "tfoot", "tr", "ul"}
)
_CELLS = frozenset({"td", "th"})
_HIDDEN = frozenset({"head", "title", "template"})  # script and style: whole tokens
_SPACES = re.compile(r"\s+")
_RUNS_OF_SPACES = re.compile(" {2,}")
_END_TAG = re.compile(r"</\s*([a-zA-Z][^\s/>]*)")


def _tag_name(token: re.Match[str]) -> tuple[str, bool]:
    """The tag's lowercase name and whether it closes; ("", False) for the rest."""
    if token["tag"]:
        return token["tag"].lower(), False
    end = _END_TAG.match(token.group())
    return (end.group(1).lower(), True) if end else ("", False)


def _capped(text: str) -> str:
    return text[:MAX_SCANNED_CHARS]


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    prefix, expression = split_prefix(pattern)
    if prefix == "glob":
        raise ConfigurationError(
            f"Invalid pattern '{pattern}': a code is extracted with a regular "
            "expression (its first group, or the whole match), not a glob."
        )
    return compile_raw_regex(expression, "pattern=")


def _pattern_matches(
    regex: re.Pattern[str], subject: str, text: str, html: str
) -> list[str]:
    found: dict[str, None] = {}
    sources = (subject, text, html_to_text(html), html)
    for source in sources:
        for match in regex.finditer(_capped(source)):
            code = match.group(1) if regex.groups else match.group()
            if code:
                found.setdefault(code, None)
    return list(found)


def _candidates_in_text(
    text: str, *, order: int, heading: str = ""
) -> list[_Candidate]:
    """The codes of a text; ``heading``, read as the paragraph above it, can
    announce them but holds none of them."""
    if not text:
        return []
    body_start = len(heading) + 2 if heading else 0
    text = _masked(f"{heading}\n\n{text}" if heading else text)
    keywords = _Keywords(text)
    shapes = [
        shape
        for match in _CANDIDATE.finditer(text)
        for shape in _shapes(match)
        if _looks_like_code(shape.code, shape.kind)
        and not _is_other_number(text, shape.code, shape.start, shape.end)
        and not keywords.overlaps(shape.start, shape.end)  # "CODE" is no code
    ]
    context = _Context(
        text,
        keywords,
        [shape.start for shape in shapes],
        [m.start() for m in _SENTENCE_END.finditer(text)],
    )
    found: list[_Candidate] = []
    for shape in shapes:
        score = _score(context, shape) if shape.start >= body_start else None
        if score is not None:
            found.append(_Candidate(shape.code, score, order + len(found)))
    return found


def _subject_end(subject: str) -> str:
    """The end of the subject, the part near enough to announce a code at the
    top of a body, cut after a space rather than inside a word."""
    if len(subject) <= _WINDOW:
        return subject
    return subject[-_WINDOW:].partition(" ")[2]


def _masked(text: str) -> str:
    """The text with URLs, e-mail addresses and phone numbers blanked out."""
    text = _MASKED.sub(lambda m: " " * len(m.group()), text)
    if "@" not in text:
        return text
    # Addresses are found from their "@": a regular expression trying every
    # position as the start of a local part would cost 64 steps per character.
    pieces, done = [], 0
    at = text.find("@")
    while at != -1:
        local = _ADDRESS_LOCAL_PART.search(text, max(done, at - 64), at)
        domain = _ADDRESS_DOMAIN.match(text, at)
        if local and domain:
            pieces += [text[done : local.start()], " " * (domain.end() - local.start())]
            done = domain.end()
        at = text.find("@", max(at + 1, done))
    return "".join([*pieces, text[done:]])


class _Keywords:
    """The words of a text that announce a code, or another kind of number."""

    def __init__(self, text: str):
        self.all: list[_Keyword] = []
        for match in _KEYWORD.finditer(text):
            announces = bool(match.group("stem") or match.group("word"))
            announces = announces or bool(match.group("cjk"))
            if match.group("stem"):
                announces = not _names_another_code(text, match.start(), match.end())
            elif announces is False and self.all and self.all[-1].announces_code:
                # "PIN number", "Code-Nummer": still the code's name.
                announces = match.start() - self.all[-1].end <= 2
            self.all.append(_Keyword(match.start(), match.end(), announces))
        self._ends = [keyword.end for keyword in self.all]
        self._announcing = [k for k in self.all if k.announces_code]
        self._announcing_ends = [keyword.end for keyword in self._announcing]
        self._announcing_starts = [keyword.start for keyword in self._announcing]
        self._other = [k for k in self.all if not k.announces_code]
        self._other_ends = [keyword.end for keyword in self._other]

    def overlaps(self, start: int, end: int) -> bool:
        index = bisect_right(self._ends, start)
        return index < len(self.all) and self.all[index].start < end

    def announcing_before(self, position: int) -> _Keyword | None:
        index = bisect_right(self._announcing_ends, position)
        return self._announcing[index - 1] if index else None

    def announcing_after(self, position: int) -> _Keyword | None:
        index = bisect_left(self._announcing_starts, position)
        return self._announcing[index] if index < len(self._announcing) else None

    def other_before(self, position: int) -> _Keyword | None:
        index = bisect_right(self._other_ends, position)
        return self._other[index - 1] if index else None


def _names_another_code(text: str, start: int, end: int) -> bool:
    """``promo code``, ``Postcode``, ``código postal``: not a one-time code."""
    word_start = start
    while word_start > max(0, start - 30) and text[word_start - 1].isalpha():
        word_start -= 1
    if word_start < start and _NOT_A_CODE_PREFIX.fullmatch(text[word_start:start]):
        return True
    previous_word = re.search(
        r"(\w+)\W{0,3}$", text[max(0, word_start - 24) : word_start]
    )
    next_word = re.match(r"\W{0,3}(?:de\s+)?(\w+)", text[end : end + 24])
    return any(
        word is not None and _NOT_A_ONE_TIME_CODE.fullmatch(word.group(1))
        for word in (previous_word, next_word)
    )


class _Shape(NamedTuple):
    code: str
    start: int
    end: int
    kind: str  # single, hyphenated, spaced, or part of a longer digit sequence
    sequence_start: int  # where the sequence of a "part" starts


def _shapes(match: re.Match[str]) -> list[_Shape]:
    """The code(s) a candidate match stands for."""
    value, start, end = match.group(), match.start(), match.end()
    if match.group("hyphenated"):
        return [_Shape(value, start, end, "hyphenated", start)]
    if match.group("single"):
        return [_Shape(value, start, end, "single", start)]
    groups = [(g.group(), start + g.start()) for g in re.finditer(r"\d+", value)]
    # "482 193", "48 21 93": groups of one length; what follows is something else.
    same = 1
    while same < len(groups) and len(groups[same][0]) == len(groups[0][0]):
        same += 1
    digits = "".join(group for group, _ in groups[:same])
    if same > 1 and 4 <= len(digits) <= 10:
        last, at = groups[same - 1]
        kind = "spaced" if same == len(groups) else "part"  # "555 123 4567"
        return [_Shape(digits, start, at + len(last), kind, start)]
    # Not one code (a phone number, an amount): its long groups may each be one.
    return [
        _Shape(group, at, at + len(group), "part", start)
        for group, at in groups
        if len(group) >= 4
    ]


@dataclass(frozen=True)
class _Context:
    text: str
    keywords: _Keywords
    candidate_starts: list[int]
    sentence_ends: list[int]

    def distance(self, start: int, end: int) -> int:
        """Characters from ``start`` to ``end``, plus a penalty for each sentence
        end and each other candidate in between: a keyword announces the code
        that follows it, not one in the next paragraph."""
        ends = bisect_left(self.sentence_ends, end) - bisect_left(
            self.sentence_ends, start
        )
        others = bisect_left(self.candidate_starts, end) - bisect_left(
            self.candidate_starts, start
        )
        return end - start + _SEPARATION_PENALTY * (ends + others)

    def candidate_between(self, start: int, end: int) -> bool:
        return bisect_left(self.candidate_starts, end) > bisect_left(
            self.candidate_starts, start
        )


def _score(context: _Context, shape: _Shape) -> int | None:
    """How likely the shape is the one-time code (lower is likelier), or None."""
    code, start, end = shape.code, shape.start, shape.end
    keywords = context.keywords
    announcing = keywords.announcing_before(start)
    other = keywords.other_before(shape.sequence_start)
    if (
        other is not None
        and shape.sequence_start - other.end <= _OTHER_NUMBER_WINDOW
        and (announcing is None or announcing.end <= other.end)
        and not context.candidate_between(other.end, shape.sequence_start)
    ):
        return None  # "Order #100234", "account 99881122", "Tel. 030 1234 5678"
    scores = []
    has_digits = any(c.isdigit() for c in code)
    if (
        announcing is not None
        and start - announcing.end <= _WINDOW
        and (
            has_digits
            or _LETTERS_CODE_GAP.fullmatch(context.text, announcing.end, start)
        )
    ):
        scores.append(context.distance(announcing.end, start))
    announced = keywords.announcing_after(end)
    if announced is not None and announced.start - end <= _WINDOW and has_digits:
        scores.append(15 + 2 * context.distance(end, announced.start))
    score = min(scores, default=_WINDOW + 1)
    if score <= _WINDOW:
        # Codes a few characters apart are as likely: the earlier one wins.
        return score // _SCORE_STEP * _SCORE_STEP
    if _may_stand_alone(context.text, shape):
        return _FALLBACK_SCORE
    return None


def _may_stand_alone(text: str, shape: _Shape) -> bool:
    """Whether the shape may be a code with no word announcing it: a run of
    digits (``830512``) or a short spaced one (``482 193``), which is no year,
    round number or quantity."""
    code = shape.code
    if shape.kind == "spaced":
        if not _is_short_spaced_number(text[shape.start : shape.end]):
            return False
    elif shape.kind != "single":
        return False
    return (
        code.isdigit()
        and not _is_year(code)
        and not code.endswith("000")  # 10000 readers, 5000 points, 100 000
        and not _QUANTITY_OR_ADDRESS.match(text, shape.end)
    )


def _is_short_spaced_number(written: str) -> bool:
    """``482 193``, ``48 21 93``, ``1234 5678``: two or three groups, 8 digits
    at most (``912 345 678`` and ``01 23 45 67 89`` are phone numbers), and
    no date (``25 11 26``)."""
    groups = written.split()
    digits = sum(len(group) for group in groups)
    return (
        len(groups) <= 3
        and digits <= 8
        and not _SPACED_DATE.fullmatch(" ".join(groups))
    )


def _looks_like_code(code: str, kind: str) -> bool:
    alphanumerics = code.replace("-", "")
    if not 4 <= len(alphanumerics) <= 10:
        return False
    if code.isdigit():
        return True
    if kind == "hyphenated":
        return not _DATE_LIKE.fullmatch(code) and not any(c.islower() for c in code)
    if code.isalpha():
        return code.isupper()
    if _UNIT_SUFFIX.fullmatch(code):
        return False
    digits = sum(c.isdigit() for c in code)
    return not any(c.islower() for c in code) or (len(code) >= 6 and digits >= 2)


def _is_other_number(text: str, code: str, start: int, end: int) -> bool:
    """A date, time, amount, version, IP address, or a number after "#" or "+"."""
    before, after = text[max(0, start - 6) : start], text[end : end + 6]
    if len(before) >= 2 and before[-1] in ".,:/" and before[-2].isdigit():
        return True
    if len(after) >= 2 and after[0] in ".,:/" and after[1].isdigit():
        return True
    if before.endswith(("#", "+", "№", "*", "•")) or after.startswith("%"):
        return True
    if _CURRENCY_BEFORE.search(before) or _CURRENCY_AFTER.match(after):
        return True
    return _is_year(code) and bool(
        _YEAR_CONTEXT.search(text[max(0, start - 30) : start])
    )


def _is_year(code: str) -> bool:
    return len(code) == 4 and code.isdigit() and 1900 <= int(code) <= 2099


def _candidates_in_links(text: str, html: str, *, order: int) -> list[_Candidate]:
    found: list[_Candidate] = []
    for link in extract_links(text, html):
        parts = urlsplit(link)
        fragment_query = parts.fragment.partition("?")[2] or parts.fragment
        for name, value in [*parse_qsl(parts.query), *parse_qsl(fragment_query)]:
            score = _link_parameter_score(name)
            value = value.strip()
            if score is not None and _LINK_VALUE.fullmatch(value):
                found.append(_Candidate(value, score, order + len(found)))
    return found


def _link_parameter_score(name: str) -> int | None:
    parts = {part.lower() for part in _NAME_PARTS.findall(name)}
    if any(_NOT_A_ONE_TIME_CODE.fullmatch(part) for part in parts):
        return None
    if parts & _LINK_CODE_NAMES:
        return _LINK_CODE_SCORE
    if parts & _LINK_TOKEN_NAMES:
        return _LINK_TOKEN_SCORE
    return None
