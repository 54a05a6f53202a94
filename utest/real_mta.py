"""A private Postfix instance, for tests that need a real MTA in front of the mock.

It lives in a temporary folder (its own configuration, queue and log), binds no
port (inet services are off: mail enters with Postfix's ``sendmail``), relays
everything to the mock server, and is stopped again by the fixture. Postfix
runs its daemons as the ``postfix`` user, so this needs root, as CI has.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SBIN = ("/usr/sbin", "/usr/lib/postfix/sbin")


def _postfix_tool(name: str) -> str:
    found = shutil.which(name) or next(
        (f"{d}/{name}" for d in SBIN if os.path.exists(f"{d}/{name}")), None
    )
    if not found:
        pytest.fail(f"{name} is required for this test: apt-get install postfix")
    return found


class Postfix:
    """One Postfix instance relaying to ``127.0.0.1:relay_port``."""

    def __init__(self, directory: Path, relay_port: int):
        self.config = directory / "conf"
        self.log = directory / "postfix.log"
        self.postfix = _postfix_tool("postfix")
        self.sendmail_command = _postfix_tool("sendmail")
        directory.mkdir()
        (directory / "queue").mkdir()
        (directory / "data").mkdir()
        shutil.chown(directory / "data", "postfix")
        self.config.mkdir()
        for name in ("master.cf", "dynamicmaps.cf", "postfix-files"):
            shutil.copy(f"/etc/postfix/{name}", self.config / name)
        (self.config / "main.cf").write_text(
            f"""\
queue_directory = {directory}/queue
data_directory = {directory}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
compatibility_level = 3.6
myhostname = mta.example.test
myorigin = example.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
master_service_disable = inet
relayhost = [127.0.0.1]:{relay_port}
smtp_tls_security_level = none
disable_dns_lookups = yes
maillog_file_prefixes = {directory}
maillog_file = {self.log}
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
""",
            encoding="utf-8",
        )

    def run(self, *arguments: str) -> None:
        subprocess.run(
            [self.postfix, "-c", str(self.config), *arguments],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def sendmail(self, sender: str, recipient: str, message: bytes) -> None:
        subprocess.run(
            [self.sendmail_command, "-C", str(self.config), "-f", sender, recipient],
            input=message,
            check=True,
            capture_output=True,
            timeout=60,
        )


@pytest.fixture
def postfix_relaying_to() -> Iterator:
    """``postfix_relaying_to(port)`` starts a Postfix relaying to the mock."""
    if os.geteuid() != 0:
        pytest.skip("a private Postfix instance needs root (CI runs as root)")
    # Not pytest's tmp_path: its parents are private to root, and Postfix's
    # daemons, running as the postfix user, must reach the queue.
    directory = Path(tempfile.mkdtemp(prefix="smtpmock-postfix-"))
    directory.chmod(0o755)
    started: list[Postfix] = []

    def start(relay_port: int) -> Postfix:
        instance = Postfix(directory / f"postfix{len(started)}", relay_port)
        instance.run("check")
        instance.run("start")
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.run("stop")
    shutil.rmtree(directory, ignore_errors=True)
