"""The demo shop's mail, checked from pytest with the ``smtp_mock`` fixture.

    pip install . && pytest demo

The same checks as ``shop.robot``, written the Python way: every keyword has
a method of the same name in snake case on the server, an inbox or a message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SHOP = Path(__file__).resolve().parent / "shop.py"


def shop(port: int, *arguments: str) -> None:
    subprocess.run(
        [sys.executable, str(SHOP), *arguments],
        env={**os.environ, "SMTP_PORT": str(port)},
        check=True,
        timeout=60,
    )


def test_sign_up_sends_a_confirmation_link(smtp_mock):
    shop(smtp_mock.port, "signup", "alice@example.com")
    message = smtp_mock.wait_for_message(recipient="alice@example.com", timeout=5)
    assert message.subject == "Welcome to Ünicorn Shop – please confirm"
    [confirm] = [link for link in message.links if "/confirm?" in link]
    assert "email=alice@example.com" in confirm


def test_a_password_reset_mail_comes_from_a_worker(smtp_mock):
    smtp_mock.create_inbox("resets", recipient="bob@example.com")
    shop(smtp_mock.port, "reset", "bob@example.com")
    message = smtp_mock.inbox("resets").wait_for_message(timeout=10)
    assert message.subject == "Reset your password"


def test_the_invoice_is_retried_after_a_temporary_failure(smtp_mock):
    smtp_mock.reply_to_data("451 4.3.0 Mailbox busy, try again", times=2)
    shop(smtp_mock.port, "invoice", "carol@example.com", "42.50")
    message = smtp_mock.wait_for_message(recipient="carol@example.com", timeout=10)
    assert [a.content_type for a in message.attachments] == [
        "text/csv",
        "application/pdf",
    ]
    assert [r.reply for r in smtp_mock.rejected_commands()] == [
        "451 4.3.0 Mailbox busy, try again"
    ] * 2


def test_no_newsletter_goes_out(smtp_mock):
    shop(smtp_mock.port, "signup", "dave@example.com")
    smtp_mock.assert_no_message(within=0.5, subject="Newsletter")


def test_a_failed_wait_lists_what_arrived(smtp_mock):
    shop(smtp_mock.port, "signup", "erin@example.com")
    with pytest.raises(AssertionError, match=r"Received 1 message:\n  #\d+ from"):
        smtp_mock.wait_for_message(recipient="frank@example.com", timeout=0.2)
