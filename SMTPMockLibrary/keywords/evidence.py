"""Keywords that show messages in log.html, as escaped, theme-aware cards."""

from __future__ import annotations

from robot.api import logger
from robotlibcore import keyword

from ..filters import MessageFilter
from ..message import ReceivedMessage
from ..report import message_card
from .base import LibraryComponent


class EvidenceKeywords(LibraryComponent):
    @keyword
    def log_received_messages(
        self, inbox: str | None = None, **filters: str
    ) -> list[ReceivedMessage]:
        """Logs each matching message as a card in log.html, and returns them.

        | Log Received Messages
        | Log Received Messages    recipient=alice@example.com
        """
        messages = self.view(inbox).get_messages(**filters)
        if not messages:
            logger.info(f"No received messages ({MessageFilter(filters).describe()}).")
        for message in messages:
            self._log_card(message)
        return messages

    # Not called log_message: PythonLibCore puts keyword methods on the
    # library, and that name belongs to Robot's listener interface.
    @keyword("Log Message")
    def log_one_message(self, message: ReceivedMessage) -> None:
        """Logs the message as a card: envelope, headers, text, HTML body, attachments.

        The HTML body is shown in a sandboxed frame: no script from an e-mail
        can run in the log, and no remote image loads; images embedded in the
        message (``cid:``) are shown. Attachments can be downloaded from the
        card. The card follows log.html's light or dark theme.

        | ${msg} =    Wait Until Message Is Received
        | Log Message    ${msg}
        """
        self._log_card(self.message(message))

    def _log_card(self, message: ReceivedMessage) -> None:
        saved = self.library.saved_attachments(message)
        logger.info(message_card(message, saved_paths=saved), html=True)
