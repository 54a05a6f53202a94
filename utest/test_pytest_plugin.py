"""The smtp_mock fixture, as a Python user gets it from the installed plugin."""

from __future__ import annotations

from helpers import compose, send

from SMTPMockLibrary import MockSMTPServer


def test_smtp_mock_is_a_running_server_on_a_free_loopback_port(smtp_mock):
    assert isinstance(smtp_mock, MockSMTPServer)
    assert smtp_mock.running and smtp_mock.host == "127.0.0.1" and smtp_mock.port > 0
    send(smtp_mock.port, compose(subject="Welcome"), recipients=["alice@example.com"])
    message = smtp_mock.wait_for_message(recipient="alice@example.com", timeout=5)
    assert message.subject == "Welcome"


def test_smtp_mock_is_empty_and_fault_free_for_each_test(smtp_mock):
    assert len(smtp_mock.messages) == 0
    assert not smtp_mock.faults
    smtp_mock.faults.reply_to_data("451 later", times=None)


def test_smtp_mock_faults_do_not_leak_into_the_next_test(smtp_mock):
    assert not smtp_mock.faults
    send(smtp_mock.port)
    assert len(smtp_mock.messages) == 1
