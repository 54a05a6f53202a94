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
    """The session's server: empty, with no fault rules and no inboxes."""
    _fresh(smtp_mock_server)
    yield smtp_mock_server
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
