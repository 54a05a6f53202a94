"""Link checks against a real HTTP server on 127.0.0.1 that answers 200, 301,
308, 404, 500, slowly, in a loop, or only with a cookie."""

from __future__ import annotations

import importlib.util
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from helpers import compose, send

from SMTPMockLibrary.errors import ConfigurationError
from SMTPMockLibrary.linkcheck import (
    LinkError,
    check_links,
    describe_broken,
    image_links,
    open_link,
    select_link,
)

SITE_SCRIPT = Path(__file__).parents[1] / "atest" / "resources" / "codes_links_http.py"


def _load_site_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("codes_links_http", SITE_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


site_module = _load_site_module()


@pytest.fixture(scope="module")
def site() -> Iterator:
    running = site_module.LinkSite().start()
    yield running
    running.stop()


@pytest.fixture
def quiet_site() -> Iterator:
    """A site of its own, with no slow answer of another test still running."""
    running = site_module.LinkSite().start()
    yield running
    running.stop()


def test_ok_page(site) -> None:
    [result] = check_links([site.url("/ok")], timeout=5)
    assert (result.status, result.reason, result.url) == (200, "OK", site.url("/ok"))
    assert result.ok and result.error is None and result.skipped is None
    assert str(result) == f"{site.url('/ok')}: 200 OK"


@pytest.mark.parametrize("path", ["/redirect", "/redirect-308", "/temporary"])
def test_redirects_are_followed(site, path: str) -> None:
    [result] = check_links([site.url(path)], timeout=5)
    assert (result.status, result.url, result.ok) == (200, site.url("/ok"), True)
    assert str(result).endswith(f": 200 OK at {site.url('/ok')}")


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [("/missing", 404, "Not Found"), ("/error", 500, "Internal Server Error")],
)
def test_error_statuses_are_broken(site, path: str, status: int, reason: str) -> None:
    [result] = check_links([site.url(path)], timeout=5)
    assert (result.status, result.reason, result.ok) == (status, reason, False)
    assert result.error is None
    assert str(result) == f"{site.url(path)}: {status} {reason}"


def test_slow_answer_within_the_timeout_is_fine(site) -> None:
    [result] = check_links([site.url("/slow?seconds=0.3")], timeout=5)
    assert result.ok and result.status == 200
    assert result.elapsed >= 0.3


def test_answer_slower_than_the_timeout_is_an_error(site) -> None:
    [result] = check_links([site.url("/slow?seconds=3")], timeout=0.5)
    assert not result.ok and result.status is None
    assert result.error == "timed out after 0.5 s"
    assert result.elapsed < 2.5


def test_links_are_checked_in_parallel_and_reported_in_order(quiet_site) -> None:
    urls = [quiet_site.url(f"/slow?seconds=0.5&n={n}") for n in range(4)]
    urls.append(quiet_site.url("/missing"))
    results = check_links(urls, timeout=5, parallel=8)
    assert [r.link for r in results] == urls
    assert [r.status for r in results] == [200, 200, 200, 200, 404]
    assert quiet_site.max_in_flight >= 2  # the site had several requests at once


def test_parallel_one_checks_one_link_at_a_time(quiet_site) -> None:
    urls = [quiet_site.url(f"/slow?seconds=0.1&n={n}") for n in range(3)]
    results = check_links(urls, timeout=5, parallel=1)
    assert [r.status for r in results] == [200, 200, 200]
    assert quiet_site.max_in_flight == 1


def test_redirect_loop_and_redirect_to_mailto_are_errors(site) -> None:
    loop, mailto = check_links([site.url("/loop"), site.url("/to-mailto")], timeout=5)
    assert (loop.status, loop.ok) == (302, False)
    assert loop.error == "redirect loop, or more than 10 redirects"
    assert str(loop).endswith("/loop: 302 redirect loop, or more than 10 redirects")
    assert (mailto.status, mailto.ok) == (302, False)
    assert mailto.error == (
        "Found - Redirection to url 'mailto:help@example.com' is not allowed"
    )


def test_redirect_without_location_is_an_error_and_304_an_answer(site) -> None:
    broken, not_modified = check_links(
        [site.url("/no-location"), site.url("/not-modified")], timeout=5
    )
    assert (broken.status, broken.ok) == (302, False)
    assert broken.error == "a redirect without a Location header"
    assert (not_modified.status, not_modified.ok, not_modified.error) == (
        304,
        True,
        None,
    )


def test_connection_refused_and_unknown_host() -> None:
    with socket.socket() as bound_but_not_listening:
        bound_but_not_listening.bind(("127.0.0.1", 0))
        port = bound_but_not_listening.getsockname()[1]
        refused, unknown = check_links(
            [f"http://127.0.0.1:{port}/", "http://no-such-host.invalid/"], timeout=5
        )
    assert (refused.ok, refused.error) == (False, "connection refused")
    assert not unknown.ok and (unknown.error or "").startswith("host not found")


def test_mailto_tel_and_other_schemes_are_skipped(site) -> None:
    results = check_links(
        ["mailto:help@example.com", "tel:+15550123", "ftp://x/y", site.url("/ok")],
        timeout=5,
    )
    assert [r.skipped for r in results] == [
        "mailto scheme, not http(s)",
        "tel scheme, not http(s)",
        "ftp scheme, not http(s)",
        None,
    ]
    assert all(r.ok for r in results)
    assert "/ok" in site.requested[-1]


@pytest.mark.parametrize(
    "ignore",
    ["/missing", "regexp:/(missing|error)$", "glob:*/missing", ["/nothing", "missing"]],
)
def test_ignore_speaks_the_filter_vocabulary(site, ignore) -> None:
    before = len(site.requested)
    [result] = check_links([site.url("/missing")], timeout=5, ignore=ignore)
    assert result.ok and result.skipped and result.skipped.startswith("ignore=")
    assert len(site.requested) == before  # an ignored link is never requested


def test_glob_must_match_the_whole_link(site) -> None:
    [result] = check_links([site.url("/missing")], timeout=5, ignore="glob:/missing")
    assert result.status == 404


def test_duplicates_are_requested_once(site) -> None:
    results = check_links([site.url("/ok?d=1")] * 3, timeout=5)
    assert len(results) == 1


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ConfigurationError, match="Parallel must be 1 or more, got 0"):
        check_links(["http://x/"], parallel=0)
    with pytest.raises(ConfigurationError, match="Timeout must be more than zero"):
        check_links(["http://x/"], timeout=0)
    with pytest.raises(ConfigurationError, match="Invalid regular expression"):
        check_links(["http://x/"], ignore="regexp:(")


def test_describe_broken_lists_only_broken_links(site) -> None:
    results = check_links(
        [site.url("/ok"), site.url("/missing"), "mailto:a@b"], timeout=5
    )
    assert describe_broken(results) == f"  {site.url('/missing')}: 404 Not Found"


def test_open_link_returns_status_url_text_and_headers(site) -> None:
    response = open_link(site.url("/redirect"), timeout=5)
    assert (response.status, response.url, response.text) == (
        200,
        site.url("/ok"),
        "It works.",
    )
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Link-Site"] == "yes"
    assert response.ok and response.content == b"It works."


def test_open_link_keeps_cookies_across_redirects(site) -> None:
    response = open_link(site.url("/confirm?token=abc123"), timeout=5)
    assert response.status == 200
    assert response.url == site.url("/confirmed?token=abc123")
    assert response.text == "Thank you, address confirmed (token abc123)."


def test_open_link_returns_error_statuses(site) -> None:
    response = open_link(site.url("/missing"), timeout=5)
    assert (response.status, response.text, response.ok) == (
        404,
        "No such page.",
        False,
    )


def test_open_link_fails_without_an_answer(site) -> None:
    with pytest.raises(LinkError, match=r"failed: timed out after 0\.5 s\.$"):
        open_link(site.url("/slow?seconds=3"), timeout=0.5)
    with pytest.raises(LinkError, match="only http"):
        open_link("mailto:help@example.com")
    with pytest.raises(LinkError, match="failed: redirect loop, or more than 10"):
        open_link(site.url("/loop"), timeout=5)


def test_image_links() -> None:
    html = (
        '<img src="https://cdn.example/a.png"><img src="cid:logo@x">'
        '<img src="data:image/png;base64,AAAA">'
        '<img srcset="https://cdn.example/b.png 1x, https://cdn.example/c.png 2x">'
        '<table background="https://cdn.example/bg.jpg"><tr><td>x</td></tr></table>'
        '<input type="IMAGE" src="https://cdn.example/button.png">'
        '<img src="https://cdn.example/a.png?x=1&amp;y=2">'
        '<a href="https://example.com/page">not an image</a>'
    )
    assert image_links(html) == [
        "https://cdn.example/a.png",
        "https://cdn.example/b.png",
        "https://cdn.example/c.png",
        "https://cdn.example/bg.jpg",
        "https://cdn.example/button.png",
        "https://cdn.example/a.png?x=1&y=2",
    ]
    assert image_links("") == []


def test_select_link() -> None:
    links = ["https://x.test/a", "https://x.test/confirm?t=1", "https://x.test/b"]
    assert select_link(links) == links[0]
    assert select_link(links, "/confirm") == links[1]
    assert select_link(links, "regexp:/[ab]$") == links[0]
    assert select_link(links, "glob:*/b") == links[2]
    with pytest.raises(LinkError, match="No link matches '/nothing'") as failure:
        select_link(links, "/nothing")
    assert "  https://x.test/confirm?t=1" in str(failure.value)
    with pytest.raises(LinkError, match="The message has no http"):
        select_link([], "/confirm")


def test_message_methods_over_real_smtp(server, site) -> None:
    mail = compose(
        subject="Please confirm",
        text=f"Confirm: {site.url('/confirm?token=t-77')}\nHelp: {site.url('/ok')}",
    )
    mail.add_alternative(
        f'<a href="{site.url("/confirm?token=t-77")}">Confirm</a>'
        f'<a href="{site.url("/missing")}">Old page</a>'
        f'<img src="{site.url("/image.png")}"><img src="{site.url("/gone.png")}">',
        subtype="html",
    )
    send(server.port, mail)
    message = server.wait_for_message(timeout=5)

    results = message.check_links(timeout=5)
    assert [(r.link, r.status) for r in results] == [
        (site.url("/confirm?token=t-77"), 200),
        (site.url("/ok"), 200),
        (site.url("/missing"), 404),
    ]
    with_images = message.check_links(timeout=5, images=True, ignore="/missing")
    assert [(r.link, r.status, r.ok) for r in with_images] == [
        (site.url("/confirm?token=t-77"), 200, True),
        (site.url("/ok"), 200, True),
        (site.url("/missing"), None, True),  # ignored
        (site.url("/image.png"), 200, True),
        (site.url("/gone.png"), 404, False),
    ]

    response = message.open_link(matching="/confirm", timeout=5)
    assert response.status == 200
    assert response.text == "Thank you, address confirmed (token t-77)."
    with pytest.raises(LinkError, match="No link matches 'regexp:/reset'"):
        message.open_link(matching="regexp:/reset")
