"""Finding the links a reader would click in a text and an HTML body."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?)]}>'\""
_LINK_ATTRIBUTES = {
    ("a", "href"),
    ("area", "href"),
    ("link", "href"),
    ("form", "action"),
}


def extract_links(text: str, html: str) -> list[str]:
    """Http(s) links of ``text`` then ``html``, in order of appearance, once each."""
    found = [*_links_in_text(text), *_links_in_html(html)]
    return list(dict.fromkeys(found))


def _links_in_text(text: str) -> list[str]:
    return [_trim(match.group()) for match in _URL.finditer(text)]


def _trim(url: str) -> str:
    while url and url[-1] in _TRAILING_PUNCTUATION:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _links_in_html(html: str) -> list[str]:
    if not html:
        return []
    collector = _LinkCollector()
    try:
        collector.feed(html)
        collector.close()
    except Exception:  # HTMLParser is lenient, but never let a link lookup fail
        pass
    return collector.links


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (tag, name) in _LINK_ATTRIBUTES and value:
                value = value.strip()
                if _URL.match(value):
                    self.links.append(value)

    def handle_data(self, data: str) -> None:
        self.links.extend(_links_in_text(data))
