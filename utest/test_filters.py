"""Raw regular-expression arguments, which also take the filter vocabulary's
``regexp:`` and ``glob:`` prefixes; plain text in them stays a regex."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from helpers import compose, send

from SMTPMockLibrary import ConfigurationError, SMTPMockLibrary
from SMTPMockLibrary.filters import MessageFilter, compile_regex


@pytest.mark.parametrize(
    ("value", "text", "found"),
    [
        ("regexp:^bob@", "bob@x.com", True),
        ("REGEXP:^bob@", "bob@x.com", True),
        ("regexp:^bob@", "rebob@x.com", False),
        ("glob:*@x.com", "bob@x.com", True),
        ("Glob:*@x.com", "bob@x.com", True),
        ("glob:*@x.com", "bob@x.com.evil", False),  # a glob matches the whole
        ("glob:bob@*", "rebob@x.com", False),
        ("glob:*@X.COM", "bob@x.com", False),  # case counts, as in filters
        ("glob:a*b*c", "axbxc", True),
        ("^bob@", "bob@x.com", True),  # plain text: a regular expression
        ("b.b@", "bob@x.com", True),
    ],
)
def test_a_regex_argument_takes_the_prefixes(value, text, found):
    assert (compile_regex(value).search(text) is not None) is found


def test_a_glob_in_a_regex_argument_is_the_filters_glob():
    for glob in ("*@x.com", "a?c", "[!a]*", "*a*b*", "x[.]y", "*"):
        in_filters = MessageFilter({"subject": f"glob:{glob}"}).test
        regex = compile_regex(f"glob:{glob}")
        for text in ("bob@x.com", "abc", "bcd", "axxbyy", "x.y", "", "a\nb"):
            expected = in_filters(SimpleNamespace(subject=text))  # type: ignore[arg-type]
            assert (regex.search(text) is not None) == expected, (glob, text)


@pytest.mark.parametrize("value", ["rgx:^bob@", "GLB:*@x.com", "re:^bob"])
def test_a_misspelt_prefix_in_a_regex_argument_is_an_error(value):
    word = value.partition(":")[0]
    with pytest.raises(
        ConfigurationError,
        match=f"Unknown prefix '{word}:' in matching={re.escape(value)}.*"
        f"write matching=regexp:{re.escape(value)}$",
    ):
        compile_regex(value, "matching=")


def test_a_regex_after_the_prefix_is_taken_as_written():
    assert compile_regex("regexp:rgx:^x").search("rgx:x") is None
    assert compile_regex("regexp:re:x").search("re:x")
    with pytest.raises(ConfigurationError, match=r"Invalid regular expression '\('"):
        compile_regex("regexp:(", "matching=")


def test_matching_takes_the_prefixes(server):
    send(server.port, compose(subject="Hello"))
    assert server.wait_for_message(timeout=2, matching="regexp:Hel+o")
    assert server.assert_message_matching("glob:*Subject: Hello*")
    assert server.count_messages(matching="glob:Hello") == 0  # the whole text
    assert server.count_messages(matching="Hel+o") == 1


def test_get_links_from_message_matching_takes_the_prefixes(server):
    text = "Confirm: https://app.test/confirm?t=1 or https://app.test/help"
    send(server.port, compose(text=text))
    [message] = server.get_messages()
    library = SMTPMockLibrary()
    assert library.get_links_from_message(message, matching="glob:*/confirm?*") == [
        "https://app.test/confirm?t=1"
    ]
    assert library.get_links_from_message(message, matching="regexp:help$") == [
        "https://app.test/help"
    ]
