"""Over Robot's Remote interface, what the keywords log reaches the caller's log."""

from __future__ import annotations

import re
from pathlib import Path

from helpers import run_robot

REMOTE_SUITE = Path(__file__).resolve().parent.parent / "atest" / "remote.robot"


def keyword_messages(output: str, name: str) -> list[str]:
    body = output.split(f'name="{name}" owner="Mock"')[1].split("</kw>")[0]
    return re.findall(r"<msg [^>]*>(.*?)</msg>", body, re.S)


def test_cards_and_fault_rules_reach_the_callers_log(tmp_path):
    run = run_robot(REMOTE_SUITE, "--outputdir", str(tmp_path))
    assert "3 tests, 3 passed, 0 failed" in run.stdout, run.stdout
    output = (tmp_path / "output.xml").read_text(encoding="utf-8")
    assert 'level="INFO" html="true">&lt;details open style=' in output
    [card] = keyword_messages(output, "Log Message")
    assert "Message #1: Over the wire" in card
    assert "Hello remote" in card
    [listed] = keyword_messages(output, "Log Received Messages")
    assert "Over the wire" in listed
    [rule] = keyword_messages(output, "Reply To Data")
    assert rule == "Fault rule: end of data -&gt; 451 4.3.0 Later (not stored), 1 time."
