"""Requesting the links of a message the way a reader's click would, without a browser.

The client is the standard library's ``urllib``: it follows redirects (301,
302, 303, 307 and 308, at most 10), keeps the cookies a redirect sets, uses
the system's certificate store and the ``*_proxy`` environment variables. Only
``http`` and ``https`` are requested: ``mailto:``, ``tel:`` and every other
scheme are skipped, and a redirect to another scheme is an error.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import Message
from html.parser import HTMLParser
from http.client import HTTPException, HTTPResponse
from http.cookiejar import CookieJar
from typing import IO, Any
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .filters import Pattern
from .message import Headers, ReceivedMessage
from .version import __version__

MAX_BODY_BYTES = 10 * 1024 * 1024
"""``open_link`` reads at most this much of a response body."""

USER_AGENT = f"SMTPMockLibrary/{__version__} (link check)"
_HTTP_SCHEMES = ("http", "https")
_REDIRECTS = (301, 302, 303, 307, 308)


class LinkError(RuntimeError):
    """A link could not be opened at all: no connection, a timeout, a bad URL."""

    ROBOT_SUPPRESS_NAME = True


@dataclass(frozen=True)
class LinkResult:
    """How requesting one link went.

    ``status`` is the HTTP status of the last answer (after redirects), ``url``
    the final address, ``error`` what went wrong when there was no usable
    answer (``None`` otherwise), ``skipped`` why the link was not requested
    (``mailto:``, ``tel:``, an ignored link). ``ok`` is true for a 2xx or 3xx
    answer without error, and for a skipped link.
    """

    link: str
    status: int | None = None
    reason: str = ""
    url: str | None = None
    error: str | None = None
    skipped: str | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        if self.skipped is not None:
            return True
        return self.error is None and self.status is not None and self.status < 400

    def __str__(self) -> str:
        if self.skipped is not None:
            return f"{self.link}: skipped ({self.skipped})"
        if self.error is not None:
            status = f"{self.status} " if self.status is not None else ""
            return f"{self.link}: {status}{self.error}"
        redirected = f" at {self.url}" if self.url and self.url != self.link else ""
        return f"{self.link}: {self.status} {self.reason}".rstrip() + redirected


@dataclass(frozen=True)
class LinkResponse:
    """The answer to opening a link: ``status``, ``url`` after redirects,
    ``text`` (the body decoded with its charset), ``headers`` (looked up
    case-insensitively), ``content`` (the body's bytes) and ``reason``."""

    status: int
    url: str
    text: str = field(repr=False)
    headers: Headers = field(repr=False)
    content: bytes = field(repr=False)
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status < 400


def check_links(
    urls: Iterable[str],
    *,
    timeout: float = 10.0,
    ignore: str | Iterable[str] | None = None,
    parallel: int = 8,
) -> list[LinkResult]:
    """Requests every link, ``parallel`` at a time, and says how each went.

    Results are in the order of ``urls``, each link once. ``timeout`` is the
    number of seconds to wait for a connection and then for each part of the
    answer. ``ignore`` is a pattern, or a list of them, in the filter
    vocabulary: plain text is contained in the link, ``regexp:`` searches a
    regular expression and ``glob:`` matches the whole link. Ignored links,
    ``mailto:``, ``tel:`` and other non-http(s) links are returned as skipped.
    Only the status line and headers are read, never the body.
    """
    if parallel < 1:
        raise ConfigurationError(f"Parallel must be 1 or more, got {parallel}.")
    _check_timeout(timeout)
    patterns = _ignore_patterns(ignore)
    links = list(dict.fromkeys(urls))

    def check(link: str) -> LinkResult:
        scheme = urlsplit(link).scheme.lower()
        if scheme not in _HTTP_SCHEMES:
            return LinkResult(link, skipped=f"{scheme or 'no'} scheme, not http(s)")
        for pattern in patterns:
            if pattern.test(link):
                return LinkResult(link, skipped=f"ignore={pattern.text}")
        return _request_status(link, timeout)

    if not links:
        return []
    with ThreadPoolExecutor(max_workers=min(parallel, len(links))) as pool:
        return list(pool.map(check, links))


def open_link(url: str, *, timeout: float = 10.0) -> LinkResponse:
    """Opens ``url`` as a click would (redirects followed) and returns the answer.

    An HTTP error status (404, 500, ...) is an answer too: it is returned, not
    raised. Raises :class:`LinkError` when there is no answer: no connection,
    a timeout, an invalid or non-http(s) URL, a redirect loop.
    """
    _check_timeout(timeout)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in _HTTP_SCHEMES:
        raise LinkError(f"Cannot open '{url}': only http(s) links can be opened.")
    deadline = time.monotonic() + timeout
    try:
        with _open(url, timeout) as response:
            return _response(response, response.status, deadline)
    except urllib.error.HTTPError as error:
        with error:
            if error.code in _REDIRECTS:  # a redirect that could not be followed
                raise LinkError(
                    f"Opening '{url}' failed: {_redirect_failure(error)}."
                ) from None
            return _response(error, error.code, deadline)
    except Exception as error:
        raise LinkError(
            f"Opening '{url}' failed: {_describe(error, timeout)}."
        ) from None


def image_links(html: str) -> list[str]:
    """The http(s) addresses of the images of an HTML body, once each.

    ``<img src>``, ``<img srcset>`` (every candidate), ``<input type=image>``
    and the ``background`` attribute that e-mail layouts use on tables and
    cells. Embedded images (``cid:``, ``data:``) are not links and are left out.
    """
    if not html:
        return []
    collector = _ImageCollector()
    try:
        collector.feed(html)
        collector.close()
    except Exception:  # HTMLParser is lenient, but never let a lookup fail
        pass
    return list(dict.fromkeys(collector.images))


def check_message_links(
    message: ReceivedMessage,
    *,
    images: bool = False,
    timeout: float = 10.0,
    ignore: str | Iterable[str] | None = None,
    parallel: int = 8,
) -> list[LinkResult]:
    """:func:`check_links` on the links of ``message``, and its images with
    ``images=True``."""
    links = [*message.links, *(image_links(message.html) if images else [])]
    return check_links(links, timeout=timeout, ignore=ignore, parallel=parallel)


def open_message_link(
    message: ReceivedMessage, matching: str | None = None, *, timeout: float = 10.0
) -> LinkResponse:
    """:func:`open_link` on the first link of ``message`` that ``matching``
    selects (see :func:`select_link`)."""
    return open_link(select_link(message.links, matching), timeout=timeout)


def select_link(links: list[str], matching: str | None = None) -> str:
    """The first of ``links`` that ``matching`` selects, or the first link.

    ``matching`` speaks the filter vocabulary: plain text is contained in the
    link, ``regexp:`` searches a regular expression, ``glob:`` matches the
    whole link. Raises :class:`LinkError` listing the links when none fits.
    """
    if matching is None:
        chosen = links
    else:
        pattern = Pattern.parse("matching", matching, plain="contains")
        chosen = [link for link in links if pattern.test(link)]
    if chosen:
        return chosen[0]
    if not links:
        raise LinkError("The message has no http(s) links.")
    listing = "\n".join(f"  {link}" for link in links)
    raise LinkError(f"No link matches '{matching}'. The message's links:\n{listing}")


def describe_broken(results: Iterable[LinkResult]) -> str:
    """One line per broken link (status or error), for failure messages."""
    return "\n".join(f"  {result}" for result in results if not result.ok)


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    def redirect_request(  # type: ignore[no-untyped-def]
        self, req, fp, code, msg, headers, newurl
    ):
        if urlsplit(newurl).scheme.lower() not in _HTTP_SCHEMES:
            raise urllib.error.HTTPError(
                newurl, code, f"redirect to a non-http(s) URL {newurl}", headers, fp
            )
        # Python 3.10 does not follow 308; it means the same as 307 for a GET.
        code = 307 if code == 308 else code
        return super().redirect_request(req, fp, code, msg, headers, newurl)

    http_error_308 = urllib.request.HTTPRedirectHandler.http_error_302


class _ImageCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        found = []
        if tag == "img" or (
            tag == "input" and (values.get("type") or "").lower() == "image"
        ):
            found.append(values.get("src"))
            srcset = values.get("srcset") or ""
            found.extend(item.strip().split(" ")[0] for item in srcset.split(","))
        found.append(values.get("background"))
        for value in found:
            if value and urlsplit(value.strip()).scheme.lower() in _HTTP_SCHEMES:
                self.images.append(value.strip())


def _open(url: str, timeout: float) -> HTTPResponse:
    # One cookie jar per link: a redirect that sets a session cookie works,
    # and no link sees another link's cookies.
    opener = urllib.request.build_opener(
        _RedirectHandler(), urllib.request.HTTPCookieProcessor(CookieJar())
    )
    request = urllib.request.Request(
        url, headers={"User-Agent": USER_AGENT, "Accept": "*/*"}
    )
    response = opener.open(request, timeout=timeout)
    assert isinstance(response, HTTPResponse)
    return response


def _request_status(link: str, timeout: float) -> LinkResult:
    started = time.monotonic()

    def elapsed() -> float:
        return round(time.monotonic() - started, 3)

    try:
        with _open(link, timeout) as response:
            return LinkResult(
                link,
                status=response.status,
                reason=response.reason,
                url=response.geturl(),
                elapsed=elapsed(),
            )
    except urllib.error.HTTPError as error:
        with error:
            if error.code in _REDIRECTS:  # a redirect that could not be followed
                return LinkResult(
                    link,
                    error.code,
                    url=error.geturl(),
                    error=_redirect_failure(error),
                    elapsed=elapsed(),
                )
            return LinkResult(
                link, error.code, error.reason, url=error.geturl(), elapsed=elapsed()
            )
    except Exception as error:
        return LinkResult(link, error=_describe(error, timeout), elapsed=elapsed())


def _response(
    response: HTTPResponse | urllib.error.HTTPError, status: int, deadline: float
) -> LinkResponse:
    content = _read(response, deadline)
    headers: Message = response.headers
    charset = headers.get_content_charset() or "utf-8"
    try:
        text = content.decode(charset, "replace")
    except LookupError:
        text = content.decode("utf-8", "replace")
    return LinkResponse(
        status=status,
        url=response.geturl(),
        text=text,
        headers=Headers([(str(k), str(v)) for k, v in headers.items()]),
        content=content,
        reason=str(response.reason),
    )


def _read(response: IO[bytes] | Any, deadline: float) -> bytes:
    chunks, size = [], 0
    while size < MAX_BODY_BYTES:
        if time.monotonic() > deadline:
            raise TimeoutError("the body was still arriving at the timeout")
        chunk = response.read(min(65536, MAX_BODY_BYTES - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _redirect_failure(error: urllib.error.HTTPError) -> str:
    if error.headers is not None and not (
        error.headers.get("Location") or error.headers.get("URI")
    ):
        return "a redirect without a Location header"
    reason = " ".join(str(error.reason).split())
    if "infinite loop" in reason:  # urllib says so for loops and for > 10 hops
        return "redirect loop, or more than 10 redirects"
    return reason


def _describe(error: BaseException, timeout: float) -> str:
    reason: object = error
    if isinstance(error, urllib.error.URLError) and not isinstance(
        error, urllib.error.HTTPError
    ):
        reason = error.reason
    if isinstance(reason, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return f"host not found ({reason.strerror or reason})"
    if isinstance(reason, HTTPException):
        return f"bad answer: {type(reason).__name__} {reason}".rstrip()
    if isinstance(reason, ValueError):
        return f"invalid URL ({reason})"
    return f"{type(reason).__name__}: {reason}" if str(reason) else repr(reason)


def _check_timeout(timeout: float) -> None:
    if not timeout > 0:
        raise ConfigurationError(f"Timeout must be more than zero, got {timeout}.")


def _ignore_patterns(ignore: str | Iterable[str] | None) -> list[Pattern]:
    if ignore is None:
        return []
    values = [ignore] if isinstance(ignore, str) else list(ignore)
    return [Pattern.parse("ignore", str(v), plain="contains") for v in values if v]
