"""The smtpmock command, run as a real process."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import compose, send


def start(*arguments: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "SMTPMockLibrary", "--port", "0", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline()


def port_of(first_line: str) -> int:
    match = re.search(r"listening on 127\.0\.0\.1:(\d+)", first_line)
    assert match, first_line
    return int(match.group(1))


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_prints_a_line_per_message_saves_them_and_stops_cleanly(tmp_path, stop_signal):
    process, first = start("--save-dir", str(tmp_path))
    port = port_of(first)
    send(port, compose(subject="Hello CLI"), recipients=["alice@example.com"])
    line = process.stdout.readline()
    assert re.match(
        r"\d\d:\d\d:\d\d  #1  app@example.com -> alice@example.com  'Hello CLI'  "
        r"[\d,]+ bytes$",
        line.strip(),
    ), line
    process.send_signal(stop_signal)
    rest, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Stopped after 1 message(s)." in rest
    (saved,) = tmp_path.iterdir()
    assert saved.name == "0001-Hello CLI.eml"
    assert b"Subject: Hello CLI" in saved.read_bytes()


def test_json_output_is_one_object_per_line(tmp_path):
    process, first = start("--json", "--save-dir", str(tmp_path))
    started = json.loads(first)
    assert started["event"] == "started"
    send(started["port"], compose(subject="Für JSON"), recipients=["b@example.com"])
    record = json.loads(process.stdout.readline())
    process.terminate()
    rest, _ = process.communicate(timeout=10)
    assert record["event"] == "message"
    assert record["subject"] == "Für JSON"
    assert record["recipients"] == ["b@example.com"]
    assert record["sequence"] == 1
    assert Path(record["saved"]).parent == tmp_path
    assert json.loads(rest) == {"event": "stopped", "messages": 1}


def test_quiet_prints_no_message_lines():
    process, first = start("--quiet")
    send(port_of(first))
    process.terminate()
    rest, _ = process.communicate(timeout=10)
    assert "#1" not in rest
    assert "Stopped after 1 message(s)." in rest


def test_tls_prints_the_ca_file():
    process, _ = start("--tls", "starttls")
    ca_line = process.stdout.readline()
    process.terminate()
    process.communicate(timeout=10)
    assert ca_line.startswith("CA certificate: ") and ca_line.strip().endswith("ca.pem")


def test_a_bad_argument_is_one_clear_line():
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "SMTPMockLibrary",
            "--port",
            "0",
            "--users",
            "nopassword",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "smtpmock: Invalid user entry 'nopassword': expected 'user:password', several "
        "separated by commas."
    )


def test_the_smtpmock_console_script_is_installed():
    script = Path(sys.executable).parent / "smtpmock"
    run = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert run.stdout.startswith("smtpmock ")


def test_verbose_prints_the_text_and_links():
    process, first = start("--verbose")
    send(
        port_of(first),
        compose(
            subject="Reset", text="Hi Alice,\nreset here: https://shop.example/r?t=1\n"
        ),
    )
    lines = [process.stdout.readline() for _ in range(4)]
    process.terminate()
    process.communicate(timeout=10)
    assert "'Reset'" in lines[0]
    assert lines[1:] == [
        "    Hi Alice,\n",
        "    reset here: https://shop.example/r?t=1\n",
        "    link: https://shop.example/r?t=1\n",
    ]


def test_remote_without_its_extra_is_one_line_naming_it():
    hide_robotremoteserver = (
        "import sys; sys.modules['robotremoteserver'] = None; "
        "from SMTPMockLibrary.cli import main; sys.exit(main())"
    )
    result = subprocess.run(
        [sys.executable, "-c", hide_robotremoteserver, "--port", "0", "--remote", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "smtpmock: --remote needs robotremoteserver: "
        "pip install robotframework-smtpmocklibrary[remote]\n"
    )


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "SMTPMockLibrary", "--port", "0", *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_save_dir_that_cannot_hold_files_is_refused_at_start(tmp_path):
    blocker = tmp_path / "mail"
    blocker.write_text("a file, not a directory")
    run = run_cli("--save-dir", str(blocker))
    assert run.returncode == 2
    assert run.stderr == (
        f"smtpmock: Cannot save into '{blocker}': '{blocker}' is a file, "
        "not a directory.\n"
    )


def test_a_message_that_cannot_be_saved_is_told_and_serving_goes_on(tmp_path):
    target = tmp_path / "mail"
    command = [sys.executable, "-m", "SMTPMockLibrary", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--save-dir", str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    port = port_of(process.stdout.readline())
    target.rmdir()
    target.write_text("the directory was replaced by a file")
    send(port, compose(subject="Unsaved"))
    assert "'Unsaved'" in process.stdout.readline()
    send(port, compose(subject="Still served"))
    assert "'Still served'" in process.stdout.readline()
    process.terminate()
    rest, errors = process.communicate(timeout=10)
    assert "Stopped after 2 message(s)." in rest
    assert errors.splitlines() == [
        f"smtpmock: message #{n} not saved: Cannot save into '{target}': "
        f"'{target}' is a file, not a directory."
        for n in (1, 2)
    ]


def test_a_saved_message_names_its_file(tmp_path):
    process, first = start("--save-dir", str(tmp_path))
    send(port_of(first), compose(subject="Kept"))
    process.stdout.readline()
    saved_line = process.stdout.readline()
    process.terminate()
    process.communicate(timeout=10)
    assert saved_line == f"  saved as {tmp_path / '0001-Kept.eml'}\n"


def test_a_remote_port_in_use_is_one_line():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        run = run_cli("--remote", str(port))
    assert run.returncode == 2
    assert run.stderr == (
        f"smtpmock: Cannot start the Remote library server on 127.0.0.1:{port}: "
        "the port is already in use.\n"
    )


@pytest.mark.parametrize(
    "arguments, error",
    [
        (["--imap-tls", "starttls"], "--imap-tls needs --imap"),
        (["--pop3-tls", "implicit"], "--pop3-tls needs --pop3"),
        (["--keyfile", "key.pem"], "--keyfile needs --certfile"),
    ],
)
def test_an_option_without_the_one_it_belongs_to_is_an_error(arguments, error):
    run = run_cli(*arguments)
    assert run.returncode == 2
    assert run.stderr.splitlines()[-1] == f"smtpmock: error: {error}"
