"""Sharp edges a real user meets in the first hour, each run as that user would."""

from __future__ import annotations

import os
import shutil
import smtplib
import ssl
import stat
import subprocess
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from helpers import run_robot

from SMTPMockLibrary import MockSMTPServer, ReceivedMessage
from SMTPMockLibrary.report import message_card

ATEST = Path(__file__).resolve().parent.parent / "atest"


def test_the_ca_file_is_readable_by_other_users_even_from_a_private_tmpdir(
    tmp_path, monkeypatch
):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setenv("TMPDIR", str(private))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    with MockSMTPServer(tls="starttls") as server:
        ca_file = Path(server.ca_file)
        assert private not in ca_file.parents
        for path in [ca_file, *ca_file.parents]:
            mode = path.stat().st_mode
            wanted = stat.S_IROTH if path == ca_file else stat.S_IXOTH
            assert mode & wanted, f"{path} is not open to other users"
        if os.geteuid() == 0:  # as CI: read it as another user, as Exim would
            read = subprocess.run(
                ["runuser", "-u", "nobody", "--", "cat", str(ca_file)],
                capture_output=True,
                text=True,
                check=False,
            )
            assert read.returncode == 0, read.stderr
            assert "BEGIN CERTIFICATE" in read.stdout
        keys = [p for p in ca_file.parent.iterdir() if p.name != "ca.pem"]
        assert keys == []  # private keys never touch the disk


def test_a_client_that_refuses_the_certificate_is_no_server_error(tmp_path):
    suite = tmp_path / "refused.robot"
    suite.write_text(
        "*** Settings ***\nLibrary    SMTPMockLibrary\nLibrary    Process\n"
        "*** Test Cases ***\nRefused\n"
        "    ${port}=    Start Mock SMTP Server    tls=starttls\n"
        "    ${r}=    Run Process    curl    -sS    --ssl-reqd    smtp://localhost:${port}"
        "    --mail-from    a@x.example    --mail-rcpt    b@x.example    -T    /dev/null\n"
        "    Should Be Equal As Integers    ${r.rc}    60\n"
        "    Received Message Count Should Be    0\n"
        "    Stop Mock SMTP Server\n",
        encoding="utf-8",
    )
    if not shutil.which("curl"):
        pytest.fail("curl is required for this test: apt-get install curl")
    run = run_robot(suite, "--outputdir", str(tmp_path))
    assert "1 test, 1 passed" in run.stdout, run.stdout
    assert "WARN" not in run.stdout + run.stderr
    output = (tmp_path / "output.xml").read_text(encoding="utf-8")
    assert "<errors>\n</errors>" in output


def test_a_real_server_error_is_reported_on_the_next_keyword(tmp_path):
    # The error is put where the server thread puts its own.
    suite = tmp_path / "broken.robot"
    suite.write_text(
        "*** Settings ***\nLibrary    SMTPMockLibrary\n"
        "*** Test Cases ***\nBroken\n"
        "    Start Mock SMTP Server\n"
        "    ${library}=    Get Library Instance    SMTPMockLibrary\n"
        "    Evaluate    $library.registry.current.server._state.errors"
        ".append(RuntimeError('disk full'))\n"
        "    Get Received Message Count\n"
        "    [Teardown]    Stop Mock SMTP Server\n",
        encoding="utf-8",
    )
    run = run_robot(suite, "--outputdir", str(tmp_path))
    assert "1 test, 1 passed" in run.stdout, run.stdout
    output = (tmp_path / "output.xml").read_text(encoding="utf-8")
    keyword = output.split('name="Get Received Message Count"')[1].split("</kw>")[0]
    assert "hit an error: RuntimeError: disk full" in keyword
    assert (
        output.count("hit an error") == 2
    )  # the keyword's log and Test Execution Errors


def test_a_server_started_by_a_child_suite_stops_when_that_suite_ends(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "__init__.robot").write_text(
        "*** Settings ***\nLibrary    SMTPMockLibrary\n"
        "Suite Setup    Start Mock SMTP Server    alias=parent\n",
        encoding="utf-8",
    )
    (tree / "a_child.robot").write_text(
        "*** Settings ***\nLibrary    SMTPMockLibrary\n"
        "*** Test Cases ***\nForget A Server\n"
        "    ${port}=    Start Mock SMTP Server    alias=forgotten\n"
        "    VAR    ${FORGOTTEN}    ${port}    scope=GLOBAL\n",
        encoding="utf-8",
    )
    (tree / "b_next.robot").write_text(
        "*** Settings ***\nLibrary    SMTPMockLibrary\nLibrary    Collections\n"
        "*** Test Cases ***\nThe Parent's Server Is Current Again\n"
        "    Run Keyword And Expect Error    No mock SMTP server called 'forgotten'.*"
        "    Switch Mock SMTP Server    forgotten\n"
        "    ${previous}=    Switch Mock SMTP Server    parent\n"
        "    Should Be Equal    ${previous}    parent\n"
        "    ${refused}=    Evaluate    __import__('socket').socket().connect_ex"
        "(('127.0.0.1', ${FORGOTTEN}))\n"
        "    Should Not Be Equal As Integers    ${refused}    0\n",
        encoding="utf-8",
    )
    run = run_robot(tree, "--outputdir", str(tmp_path))
    assert "2 tests, 2 passed, 0 failed" in run.stdout, run.stdout


def test_a_refused_starttls_handshake_is_a_rejection_with_its_reason():
    with MockSMTPServer(tls="starttls") as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.ehlo()
            with pytest.raises(ssl.SSLCertVerificationError):
                client.starttls(context=ssl.create_default_context())
        deadline = time.monotonic() + 5  # the server hears of it a moment later
        while not server.rejected_commands() and time.monotonic() < deadline:
            time.sleep(0.01)
        [rejected] = server.rejected_commands("STARTTLS")
        assert rejected.reply == "(TLS handshake failed: tlsv1 alert unknown ca)"
        assert server.errors == []


def test_a_related_image_the_html_shows_is_inline_whatever_its_disposition():
    message = EmailMessage()
    message["Subject"] = "Logo"
    message.set_content("text")
    message.add_alternative('<p><img src="cid:logo@shop.example"></p>', subtype="html")
    html_part = message.get_payload()[1]
    html_part.add_related(
        b"\x89PNG", "image", "png", cid="<logo@shop.example>", filename="logo.png"
    )
    message.add_attachment(b"a,b", maintype="text", subtype="csv", filename="r.csv")
    assert (
        b"Content-Disposition: attachment" in message.as_bytes()
    )  # as Python wrote it
    received = ReceivedMessage(message.as_bytes(), "app@example.com", ["a@example.com"])
    assert [(a.filename, a.inline) for a in received.attachments] == [
        ("logo.png", True),
        ("r.csv", False),
    ]


def test_the_card_of_a_hostile_message_stays_small():
    to = ", ".join(f"user{n}@example.com" for n in range(50_000))
    raw = f"To: {to}\r\nSubject: Big\r\n\r\nbody".encode()
    recipients = [f"r{n}@example.com" for n in range(5_000)]
    card = message_card(ReceivedMessage(raw, "app@example.com", recipients))
    assert len(card) < 20_000
    assert "and 4950 more" in card
    assert "more characters]" in card
