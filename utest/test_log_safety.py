"""Hostile e-mail in log.html, opened in a real browser: nothing from it may run.

The suite logs a hostile message every way the library can (Log Message, Log
Received Messages, the evidence of a failed test). A control message logged
as raw HTML by BuiltIn proves that the check sees script that does run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from helpers import run_robot

ATEST = Path(__file__).resolve().parent.parent / "atest"
SUITE = """
*** Settings ***
Resource    {resources}/common.resource
Suite Setup    Start Server For Suite
Suite Teardown    Stop Mock SMTP Server

*** Test Cases ***
Hostile Mail Is Logged Safely
    Send Mail    --raw    {resources}/hostile.eml    --to    victim@example.com
    ${{msg}}=    Wait Until Message Is Received
    Log Message    ${{msg}}
    Log Received Messages
    Log    <img src=x onerror="document.body.setAttribute('data-'+'control','ran')">    html=True

Failed Test Logs Its Mail As Evidence
    Send Mail    --raw    {resources}/hostile.eml    --to    second@example.com
    Fail    on purpose
"""

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
    "--dump-dom",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("chromium is required for this test: apt-get install chromium")
    return path


@pytest.fixture(scope="module")
def rendered_log() -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as directory:
        suite = Path(directory) / "hostile.robot"
        suite.write_text(SUITE.format(resources=ATEST / "resources"), encoding="utf-8")
        run = run_robot(
            suite,
            "--outputdir",
            directory,
            "--log",
            "log.html",
            "--expandkeywords",
            "name:SMTPMockLibrary.*",
            "--expandkeywords",
            "name:BuiltIn.Log",
        )
        assert "2 tests, 1 passed, 1 failed" in run.stdout, run.stdout + run.stderr
        output = (Path(directory) / "output.xml").read_text(encoding="utf-8")
        dom = subprocess.run(
            [
                chromium(),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={directory}/profile",
                f"file://{directory}/log.html",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    return output, dom


def test_the_check_sees_script_that_runs(rendered_log):
    _, dom = rendered_log
    assert 'data-control="ran"' in dom


def test_no_script_from_the_mail_ran(rendered_log):
    _, dom = rendered_log
    assert re.findall(r'data-\w+="pwned"', dom) == []


def test_the_hostile_content_is_shown_as_text(rendered_log):
    _, dom = rendered_log
    assert "&lt;script&gt;document.body.setAttribute('data-'+'subject','pwned')" in dom
    assert dom.count("<iframe sandbox=") >= 3  # two keywords and the evidence


def test_failed_test_logs_the_mail_it_received_as_evidence(rendered_log):
    output, _ = rendered_log
    evidence = output.split('name="Failed Test Logs Its Mail As Evidence"')[1]
    assert re.search(
        r"Evidence: 1 message received by server '1' \(port \d+\) during this test.",
        evidence,
    )
    assert "second@example.com" in evidence  # its envelope recipient
    assert evidence.count("&lt;b&gt;Message #") == 1  # not the first test's mail


def test_evidence_can_be_turned_off(tmp_path):
    suite = tmp_path / "quiet.robot"
    suite.write_text(
        SUITE.format(resources=ATEST / "resources").replace(
            "Resource    ",
            "Library    SMTPMockLibrary    log_messages_on_failure=False\nResource    ",
            1,
        ),
        encoding="utf-8",
    )
    run_robot(suite, "--outputdir", str(tmp_path), "--output", "out.xml")
    assert "Evidence:" not in (tmp_path / "out.xml").read_text(encoding="utf-8")
