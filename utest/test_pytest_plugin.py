"""The smtp_mock fixture, as a Python user gets it from the installed plugin."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator

import pytest
from helpers import compose, send

from SMTPMockLibrary import MockSMTPServer

FACTORY_SERVERS: list[MockSMTPServer] = []
STARTED_SERVICE_PORTS: list[int] = []


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


def test_smtp_mock_defines_an_inbox(smtp_mock):
    smtp_mock.create_inbox("signup", recipient="glob:*@signup.test")
    send(smtp_mock.port, recipients=["bob@signup.test"])
    assert smtp_mock.inbox("signup").count_messages() == 1


def test_smtp_mock_has_no_inbox_from_an_earlier_test(smtp_mock):
    assert smtp_mock.inboxes.names() == ["unrouted"]


def test_a_test_adds_a_user_to_smtp_mock(smtp_mock):
    smtp_mock.add_user("mallory", "s3cret")
    assert smtp_mock.users == ["mallory"]


def test_smtp_mock_has_no_user_an_earlier_test_added(smtp_mock):
    assert smtp_mock.users == []
    with smtplib.SMTP("127.0.0.1", smtp_mock.port, timeout=5) as client:
        client.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("mallory", "s3cret")


def test_a_test_stops_smtp_mock(smtp_mock):
    smtp_mock.stop()
    assert not smtp_mock.running


def test_smtp_mock_runs_again_after_an_earlier_test_stopped_it(smtp_mock):
    assert smtp_mock.running and smtp_mock.port > 0
    send(smtp_mock.port, compose(subject="Back"), recipients=["alice@example.com"])
    assert smtp_mock.wait_for_message(timeout=5).subject == "Back"


def test_a_test_starts_a_read_back_service(smtp_mock):
    assert smtp_mock.services == {}
    port = smtp_mock.start_pop3()
    assert smtp_mock.services == {"pop3": port}
    STARTED_SERVICE_PORTS.append(port)


def test_the_next_test_has_no_service_an_earlier_test_started(smtp_mock):
    assert smtp_mock.services == {}
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", STARTED_SERVICE_PORTS[0]), timeout=2)


class TestASessionServerMadeWithAService:
    """Services the project's own ``smtp_mock_server`` started stay."""

    @pytest.fixture(scope="class")
    @classmethod
    def smtp_mock_server(cls) -> Iterator[MockSMTPServer]:
        with MockSMTPServer() as server:
            server.start_pop3()
            yield server

    def test_a_test_starts_another_service(self, smtp_mock):
        smtp_mock.start_http()
        assert sorted(smtp_mock.services) == ["http", "pop3"]

    def test_the_next_test_keeps_the_session_service_only(self, smtp_mock):
        assert list(smtp_mock.services) == ["pop3"]


class TestASessionServerMadeWithUsers:
    """A project's own ``smtp_mock_server``, made with users: each test
    gets those users back, whatever an earlier test did to them."""

    @pytest.fixture(scope="class")
    @classmethod
    def smtp_mock_server(cls) -> Iterator[MockSMTPServer]:
        with MockSMTPServer(users="alice:s3cret") as server:
            yield server

    def test_a_test_changes_the_users(self, smtp_mock):
        smtp_mock.add_user("alice", "changed")
        smtp_mock.add_user("mallory", "pw")
        assert sorted(smtp_mock.users) == ["alice", "mallory"]

    def test_the_next_test_has_the_users_it_was_made_with(self, smtp_mock):
        assert smtp_mock.users == ["alice"]
        with smtplib.SMTP("127.0.0.1", smtp_mock.port, timeout=5) as client:
            client.login("alice", "s3cret")


def test_smtp_mock_factory_starts_servers_that_stop_with_the_test(smtp_mock_factory):
    billing, alerts = smtp_mock_factory(), smtp_mock_factory()
    send(billing.port, compose(subject="Invoice"), recipients=["finance@example.com"])
    send(alerts.port, compose(subject="Disk full"), recipients=["ops@example.com"])
    assert billing.wait_for_message(timeout=5).subject == "Invoice"
    assert alerts.wait_for_message(timeout=5).subject == "Disk full"
    assert billing.count_messages() == alerts.count_messages() == 1
    FACTORY_SERVERS.extend([billing, alerts])


def test_factory_servers_were_stopped_when_the_earlier_test_ended():
    # pytest runs a module's tests in order: this follows the one above.
    assert [server.running for server in FACTORY_SERVERS] == [False, False]


def test_a_failed_wait_lists_what_arrived(smtp_mock):
    send(smtp_mock.port, compose(subject="Not this"), recipients=["bob@example.com"])
    with pytest.raises(AssertionError) as failure:
        smtp_mock.wait_for_message(recipient="alice@example.com", timeout=0.1)
    assert str(failure.value).splitlines() == [
        "No new message (recipient=alice@example.com) was received in 100 milliseconds.",
        "Received 1 message:",
        f"  #{smtp_mock.messages[0].sequence} from <app@example.com> to "
        "<bob@example.com> subject 'Not this'",
    ]
