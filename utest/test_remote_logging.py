"""Over Robot's Remote interface: what the keywords log reaches the caller's log,
and every keyword takes the same arguments as it does locally."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from helpers import run_robot
from robot.running.arguments import DynamicArgumentParser, PythonArgumentParser

from SMTPMockLibrary import MockSMTPServer
from SMTPMockLibrary.library import SMTPMockLibrary
from SMTPMockLibrary.remote import RemoteSMTPMockLibrary

REMOTE_SUITE = Path(__file__).resolve().parent.parent / "atest" / "remote.robot"


def keyword_messages(output: str, name: str) -> list[str]:
    body = output.split(f'name="{name}" owner="Mock"')[1].split("</kw>")[0]
    return re.findall(r"<msg [^>]*>(.*?)</msg>", body, re.S)


def test_cards_and_fault_rules_reach_the_callers_log(tmp_path):
    run = run_robot(REMOTE_SUITE, "--outputdir", str(tmp_path))
    assert "6 tests, 6 passed, 0 failed" in run.stdout, run.stdout
    output = (tmp_path / "output.xml").read_text(encoding="utf-8")
    assert 'level="INFO" html="true">&lt;details open style=' in output
    [card] = keyword_messages(output, "Log Message")
    assert "Message #1: Over the wire" in card
    assert "Hello remote" in card
    [listed] = keyword_messages(output, "Log Received Messages")
    assert "Over the wire" in listed
    rule, returned = keyword_messages(output, "Reply To Data")
    assert rule == "Fault rule: end of data -&gt; 451 4.3.0 Later (not stored), 1 time."
    assert returned.startswith("${rule} = {'action': 'reply', 'command': 'END OF DATA'")


def test_every_keyword_takes_the_same_arguments_over_remote():
    library = SMTPMockLibrary()
    remote = RemoteSMTPMockLibrary(library)
    for name in remote.get_keyword_names():
        python = PythonArgumentParser().parse(library.keywords[name])
        over_remote = DynamicArgumentParser().parse(remote.get_keyword_arguments(name))
        for part in (
            "positional_only",
            "positional_or_named",
            "var_positional",
            "named_only",
            "var_named",
        ):
            assert getattr(over_remote, part) == getattr(python, part), (name, part)
        assert over_remote.defaults.keys() == python.defaults.keys(), name


def test_a_hostile_line_of_an_e_mail_never_becomes_markup_in_the_callers_log(
    tmp_path,
):
    run = run_robot(REMOTE_SUITE, "--outputdir", str(tmp_path))
    assert "6 tests, 6 passed, 0 failed" in run.stdout, run.stdout
    output = (tmp_path / "output.xml").read_text(encoding="utf-8")
    test = output.split('name="A Hostile Line In An E-mail Stays Text')[1]
    test = test.split("</test>")[0]
    assert "<img" not in test.replace("&lt;img", "")  # escaped everywhere
    assert 'level="WARN"' not in test
    logged = keyword_messages(test, "Get Verification Code From Message")
    [searched] = [text for text in logged if text.startswith("Searched text:")]
    assert "\u200b*HTML* &lt;img src=x onerror=alert(1)&gt;\n" in searched
    [card] = keyword_messages(test, "Log Message")
    assert "&amp;lt;img src=x onerror" in card  # escaped inside the card's HTML


def test_a_level_marker_inside_a_message_never_splits_it():
    from robot.output.stdoutlogsplitter import StdoutLogSplitter

    local = SMTPMockLibrary()
    server = MockSMTPServer()
    local.registry.add(server, None, owner="")
    library = RemoteSMTPMockLibrary(local)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), server:
        library.run_keyword(
            "Log Message",
            [
                library.run_keyword(
                    "Deliver Message",
                    ["Subject: x\n\n*HTML* <b>bold</b>\n*WARN*:123* no", "a@b.c"],
                )
            ],
        )
    messages = list(StdoutLogSplitter(printed.getvalue()))
    assert [m.level for m in messages] == ["INFO"]
    assert "<b>bold</b>" not in messages[0].message
    assert "&lt;b&gt;bold&lt;/b&gt;" in messages[0].message
