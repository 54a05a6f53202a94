"""Keywords that start the read-back services over the current server's mailbox:
IMAP, POP3 and the HTTP API."""

from __future__ import annotations

from .base import LibraryComponent


class ServiceKeywords(LibraryComponent):
    pass
