"""Fixtures: a real server on a free loopback port, and a real smtplib client."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from SMTPMockLibrary import MockSMTPServer


@pytest.fixture
def server() -> Iterator[MockSMTPServer]:
    with MockSMTPServer() as running:
        yield running


# CI runs the same examples every time, so that a red CI is reproducible;
# local runs explore new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
