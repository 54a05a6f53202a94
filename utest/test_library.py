"""The keyword library as Robot Framework and libdoc see it."""

from __future__ import annotations

import re
import smtplib
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
from robot.libdoc import LibraryDocumentation

from SMTPMockLibrary import SMTPMockLibrary
from SMTPMockLibrary.errors import ConfigurationError
from SMTPMockLibrary.message import (
    ADDRESS_LIMIT,
    HEADER_BUDGET,
    MAX_DEPTH,
    MAX_PARTS,
    STRUCTURED_LIMIT,
    ReceivedMessage,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))
import generate  # noqa: E402
from helpers import run_robot  # noqa: E402

LIBRARY = LibraryDocumentation("SMTPMockLibrary")
KEYWORDS = {kw.name: kw for kw in LIBRARY.keywords}


@pytest.mark.parametrize("name", sorted(KEYWORDS))
def test_every_keyword_is_documented_with_an_example(name):
    doc = KEYWORDS[name].doc
    assert len(doc.splitlines()[0]) > 20, f"'{name}' has no real first line"
    assert any(line.lstrip().startswith("| ") for line in doc.splitlines()), (
        f"'{name}' has no example table"
    )


def test_introduction_has_the_sections_users_need():
    for section in (
        "%TOC%",
        "= Quick start =",
        "= Waiting for mail =",
        "= Filters =",
        "= TLS and AUTH =",
        "= Fault injection =",
        "= Suite trees and several servers =",
        "= Evidence in the log =",
    ):
        assert section in LIBRARY.doc
    assert LIBRARY.inits[0].doc


def test_keyword_names_follow_robot_conventions():
    for name in KEYWORDS:
        first = name.split()[0]
        assert first in {
            "Start",
            "Stop",
            "Switch",
            "Get",
            "Set",
            "Reset",
            "Add",
            "Wait",
            "Log",
            "Save",
            "Reply",
            "Disconnect",
            "Delay",
            "Clear",
            "Received",
            "Message",
            "Links",
            "Create",
            "Remove",
            "Deliver",
            "Open",
            "Limit",
            "Throttle",
        }, name
        if first in {"Received", "Message", "Links"}:
            assert " Should " in f" {name} ", name


def test_the_messages_table_names_real_attributes_and_the_reading_limits():
    section = re.split(r"\n\s*= ", LIBRARY.doc.split("= Messages =")[1])[0]
    rows = re.findall(r"^\s*\| ([a-z_, ]+?)\s+\|", section, re.MULTILINE)
    names = {name.strip() for row in rows for name in row.split(",")}
    assert "defects" in names
    for name in names:
        assert hasattr(ReceivedMessage, name), f"ReceivedMessage has no '{name}'"
    prose = " ".join(section.split())
    for limit in (
        f"deeper than {MAX_DEPTH} levels",
        f"past {MAX_PARTS:,} MIME parts",
        f"longer than {STRUCTURED_LIMIT // 1024} KB",
        f"the first {HEADER_BUDGET // 1024} KB",
        f"longer than {ADDRESS_LIMIT // 1024} KB",
    ):
        assert limit in prose


def test_committed_docs_are_up_to_date():
    assert generate.stale_files() == [], "run: python docs/generate.py"


def test_importing_the_library_opens_no_socket():
    threads = threading.active_count()
    library = SMTPMockLibrary(port=2525)
    assert library.registry.current is None
    assert threading.active_count() == threads


def test_a_negative_timeout_at_import_fails_at_once_as_written(tmp_path):
    suite = tmp_path / "negative.robot"
    suite.write_text(
        "*** Settings ***\nLibrary    SMTPMockLibrary    timeout=-3 s\n"
        "*** Test Cases ***\nWait\n    Start Mock SMTP Server\n"
        "    Wait Until Message Is Received\n"
        "    [Teardown]    Stop Mock SMTP Server\n",
        encoding="utf-8",
    )
    run = run_robot(suite, "--output", "NONE")
    assert "Initializing library 'SMTPMockLibrary'" in run.stderr
    assert "'timeout' must not be negative, got '-3 s'." in run.stderr


def test_robot_test_timeout_interrupts_a_long_wait(tmp_path):
    suite = tmp_path / "timeout.robot"
    suite.write_text(
        "*** Settings ***\nLibrary    SMTPMockLibrary\n"
        "*** Test Cases ***\nTimeout\n    [Timeout]    1 s\n"
        "    Start Mock SMTP Server\n    Wait Until Message Is Received    timeout=1 min\n"
        "    [Teardown]    Stop Mock SMTP Server\n",
        encoding="utf-8",
    )
    started = time.monotonic()
    run = run_robot(suite, "--output", "NONE")
    assert "Test timeout 1 second exceeded." in run.stdout
    assert time.monotonic() - started < 20


def test_a_forgotten_server_is_stopped_when_the_suite_ends(tmp_path):
    suite = tmp_path / "forgotten.robot"
    suite.write_text(
        "*** Settings ***\nLibrary    SMTPMockLibrary\n"
        "*** Test Cases ***\nForget\n    ${port}=    Start Mock SMTP Server\n"
        "    Set Global Variable    ${LEFT}    ${port}\n",
        encoding="utf-8",
    )
    listener = tmp_path / "Check.py"
    listener.write_text(
        "import socket\n"
        "from robot.libraries.BuiltIn import BuiltIn\n"
        "ROBOT_LISTENER_API_VERSION = 3\n"
        "def close():\n"
        "    pass\n"
        "def end_suite(data, result):\n"
        "    global port\n"
        "    port = BuiltIn().get_variable_value('${LEFT}')\n"
        "def output_file(path):\n"
        "    try:\n"
        "        socket.create_connection(('127.0.0.1', int(port)), timeout=2).close()\n"
        "        print('STILL LISTENING')\n"
        "    except OSError:\n"
        "        print('PORT CLOSED')\n",
        encoding="utf-8",
    )
    run = run_robot(suite, "--listener", str(listener), "--outputdir", str(tmp_path))
    assert "PORT CLOSED" in run.stdout, run.stdout


def test_a_start_failing_after_freeing_the_port_gives_it_back(tmp_path):
    library = SMTPMockLibrary()
    start = library.keywords["Start Mock SMTP Server"]
    try:
        port = start(alias="relay")
        running = library.registry.current
        send(port, "b@x.test")
        missing = str(tmp_path / "missing.pem")
        with pytest.raises(ConfigurationError, match="does not exist"):
            start(alias="relay", tls="starttls", certfile=missing)
        assert library.registry.all == [running]
        assert library.registry.current is running
        assert running.server.running and running.server.port == port
        send(port, "c@x.test")
        assert [m.recipients for m in running.server.messages] == [
            ["b@x.test"],
            ["c@x.test"],
        ]
        with socket.create_server(("127.0.0.1", 0)) as probe:
            other = probe.getsockname()[1]
        assert start(alias="relay", port=other) == other  # replaced after starting
        assert [r.alias for r in library.registry.all] == ["relay"]
        assert not running.server.running
    finally:
        library.close()


def send(port: int, recipient: str) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail("a@example.com", [recipient], "Subject: hi\n\nHello")
