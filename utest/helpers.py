"""Composing and sending real mail with smtplib, for the unit tests."""

from __future__ import annotations

import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path


def compose(
    subject: str = "Hello",
    text: str = "Hello there",
    sender: str = "app@example.com",
    to: str = "alice@example.com",
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


def send(
    port: int,
    message: EmailMessage | bytes | str | None = None,
    sender: str = "app@example.com",
    recipients: list[str] | None = None,
    host: str = "127.0.0.1",
) -> dict:
    message = compose() if message is None else message
    recipients = recipients or ["alice@example.com"]
    with smtplib.SMTP(host, port, timeout=10) as client:
        if isinstance(message, EmailMessage):
            return client.send_message(message, sender, recipients)
        return client.sendmail(sender, recipients, message)


def run_robot(suite: Path, *options: str) -> subprocess.CompletedProcess:
    """Runs Robot Framework on ``suite`` in its own process; report and log off
    unless ``options`` ask for them."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "robot",
            "--log",
            "NONE",
            "--report",
            "NONE",
            *options,
            str(suite),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
