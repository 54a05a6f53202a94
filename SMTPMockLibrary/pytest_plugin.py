"""pytest plugin: the ``smtp_mock`` fixture, a running server emptied for each test.

Installed with the package (entry point ``pytest11``)::

    def test_signup_sends_welcome(smtp_mock):
        app.signup("alice@example.com", smtp_port=smtp_mock.port)
        message = smtp_mock.wait_for_message(recipient="alice@example.com", timeout=5)
        assert "Welcome" in message.subject
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import MockSMTPServer


@pytest.fixture(scope="session")
def smtp_mock_server() -> Iterator[MockSMTPServer]:
    """One server on 127.0.0.1 and a free port for the whole test session."""
    with MockSMTPServer() as server:
        yield server


@pytest.fixture
def smtp_mock(smtp_mock_server: MockSMTPServer) -> Iterator[MockSMTPServer]:
    """The session's server, with an empty mailbox and no fault rules."""
    smtp_mock_server.reset()
    yield smtp_mock_server
    smtp_mock_server.reset()
