"""Finding the links a reader would click in a text and an HTML body.

Both readers take time linear in their input, whatever it holds: the HTML is
split by one regular expression pass rather than by :class:`html.parser.HTMLParser`,
which rescans the rest of the document for every unterminated ``</``, ``<?``
or ``<![CDATA[`` and so takes minutes on a hostile body of a few hundred KB.
"""

from __future__ import annotations

import re
from html import unescape

_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING_PUNCTUATION = frozenset(".,;:!?)]}>'\"")
_LINK_ATTRIBUTES = {
    ("a", "href"),
    ("area", "href"),
    ("link", "href"),
    ("form", "action"),
}
# One token per match, each ending where HTML ends it (or at the end of the
# text when it is never closed), so the pass never backtracks over the rest.
_ATTRIBUTES = r"""(?:[^>"']|"[^"]*"?|'[^']*'?)*"""
HTML_TOKEN = re.compile(
    r"<!--.*?(?:-->|\Z)"
    rf"|<(?P<raw>script|style)(?=[\s/>]){_ATTRIBUTES}>?.*?(?:</(?P=raw)\s*>|\Z)"
    rf"|<(?P<tag>[a-zA-Z][^\t\n\r\f />\x00]*)(?P<attributes>{_ATTRIBUTES})>?"
    r"|<[/!?][^>]*>?",
    re.DOTALL | re.IGNORECASE,
)
# html.parser's tolerant attribute syntax.
_ATTRIBUTE = re.compile(
    r"""((?<=['"\s/])[^\s/>][^\s/=>]*)(\s*=+\s*"""
    r"""('[^']*'|"[^"]*"|(?!['"])[^>\s]*))?(?:\s|/(?!>))*"""
)


def extract_links(text: str, html: str) -> list[str]:
    """Http(s) links of ``text`` then ``html``, in order of appearance, once each."""
    found = [*_links_in_text(text), *_links_in_html(html)]
    return list(dict.fromkeys(found))


def _links_in_text(text: str) -> list[str]:
    return [_trim(match.group()) for match in _URL.finditer(text)]


def _trim(url: str) -> str:
    """``url`` without the punctuation that ends the sentence around it; a
    closing parenthesis stays when it closes one opened in the URL."""
    opened, closed = url.count("("), url.count(")")
    end = len(url)
    while end and url[end - 1] in _TRAILING_PUNCTUATION:
        if url[end - 1] == ")":
            if opened >= closed:
                break
            closed -= 1
        end -= 1
    return url[:end]


def _links_in_html(html: str) -> list[str]:
    """Links of ``<a href>``, ``<area href>``, ``<link href>`` and ``<form
    action>``, and http(s) URLs written in the text, in document order."""
    links: list[str] = []
    position = 0
    for token in HTML_TOKEN.finditer(html):
        if token.start() > position:
            links.extend(_links_in_text(unescape(html[position : token.start()])))
        position = token.end()
        if token["raw"]:
            # Script and style text is read as written, like html.parser does.
            body = html[token.start() : token.end()]
            links.extend(_links_in_text(body[body.find(">") + 1 :]))
        elif token["tag"]:
            links.extend(_tag_links(html, token))
    if position < len(html):
        links.extend(_links_in_text(unescape(html[position:])))
    return links


def _tag_links(html: str, token: re.Match[str]) -> list[str]:
    tag = token["tag"].lower()
    if not any(tag == name for name, _ in _LINK_ATTRIBUTES):
        return []
    links = []
    start, end = token.span("attributes")
    for attribute in _ATTRIBUTE.finditer(html, start, end):
        name, rest, value = attribute.groups()
        if (tag, name.lower()) not in _LINK_ATTRIBUTES or not rest or not value:
            continue
        if value[:1] == value[-1:] and value[:1] in ("'", '"'):
            value = value[1:-1]
        value = unescape(value).strip()
        if _URL.match(value):
            links.append(value)
    return links
