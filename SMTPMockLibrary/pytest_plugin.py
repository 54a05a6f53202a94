"""pytest plugin: the ``smtp_mock`` fixture, and ``smtp_mock_factory`` for more servers.

Installed with the package (entry point ``pytest11``)::

    def test_signup_sends_welcome(smtp_mock):
        app.signup("alice@example.com", smtp_port=smtp_mock.port)
        message = smtp_mock.wait_for_message(recipient="alice@example.com", timeout=5)
        assert "Welcome" in message.subject

A failed wait or check raises ``AssertionError`` listing what arrived, as
the keywords do, so pytest's report shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import MockSMTPServer


@pytest.fixture(scope="session")
def smtp_mock_server() -> Iterator[MockSMTPServer]:
    """One server on 127.0.0.1 and a free port for the whole test session."""
    with MockSMTPServer() as server:
        yield server


@pytest.fixture
def smtp_mock(smtp_mock_server: MockSMTPServer) -> Iterator[MockSMTPServer]:
    """The session's server, running (started again if a test stopped it)
    and fresh: no messages, fault rules or inboxes, the users it was made
    with, and only the read-back services it was made with, whatever
    earlier tests did.

    A server started again has a new port: read ``smtp_mock.port`` in each
    test.
    """
    if not smtp_mock_server.running:
        smtp_mock_server.start()
    _fresh(smtp_mock_server)
    users = _users_of(smtp_mock_server)
    services = set(smtp_mock_server.services)
    yield smtp_mock_server
    for name in set(smtp_mock_server.services) - services:
        smtp_mock_server.stop_service(name)
    smtp_mock_server.set_users(users)
    _fresh(smtp_mock_server)


@pytest.fixture
def smtp_mock_factory() -> Iterator[Callable[..., MockSMTPServer]]:
    """Start more servers in one test; each stops when the test ends.

    ``smtp_mock_factory(**options)`` takes the options of ``MockSMTPServer``::

        def test_two_relays(smtp_mock_factory):
            billing = smtp_mock_factory()
            alerts = smtp_mock_factory(tls="starttls")
    """
    started: list[MockSMTPServer] = []

    def start(**options: Any) -> MockSMTPServer:
        server = MockSMTPServer(**options)
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


def _fresh(server: MockSMTPServer) -> None:
    server.reset()
    server.inboxes.clear_definitions()


def _users_of(server: MockSMTPServer) -> dict[str, str]:
    """``server``'s users, user to password."""
    users = server.set_users(None)  # it returns the users it replaced
    server.set_users(users)
    return users
