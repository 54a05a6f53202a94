"""Over Robot's Remote interface: what the keywords log reaches the caller's log,
and every keyword takes the same arguments as it does locally."""

from __future__ import annotations

import re
from pathlib import Path

from helpers import run_robot
from robot.running.arguments import DynamicArgumentParser, PythonArgumentParser

from SMTPMockLibrary.library import SMTPMockLibrary
from SMTPMockLibrary.remote import RemoteSMTPMockLibrary

REMOTE_SUITE = Path(__file__).resolve().parent.parent / "atest" / "remote.robot"


def keyword_messages(output: str, name: str) -> list[str]:
    body = output.split(f'name="{name}" owner="Mock"')[1].split("</kw>")[0]
    return re.findall(r"<msg [^>]*>(.*?)</msg>", body, re.S)


def test_cards_and_fault_rules_reach_the_callers_log(tmp_path):
    run = run_robot(REMOTE_SUITE, "--outputdir", str(tmp_path))
    assert "4 tests, 4 passed, 0 failed" in run.stdout, run.stdout
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
