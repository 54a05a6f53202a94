"""Fixtures: a real server on a free loopback port, and a real smtplib client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from SMTPMockLibrary import MockSMTPServer


@pytest.fixture
def server() -> Iterator[MockSMTPServer]:
    with MockSMTPServer() as running:
        yield running
