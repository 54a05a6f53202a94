"""Keywords that make the server fail on purpose, and show what it refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from robot.api import logger
from robotlibcore import keyword

from ..errors import ConfigurationError
from ..mailbox import Rejection
from ..report import rejections_text, transcript_html
from .base import LibraryComponent

Command = Literal[
    "EHLO",
    "HELO",
    "AUTH",
    "STARTTLS",
    "MAIL",
    "RCPT",
    "DATA",
    "END OF DATA",
    "RSET",
    "NOOP",
    "VRFY",
    "QUIT",
]


class FaultKeywords(LibraryComponent):
    @keyword
    def reply_to_recipient(
        self, address_regex: str, reply: str, times: int | None = None
    ) -> None:
        """Answers RCPT TO commands for matching addresses with ``reply``.

        ``address_regex`` is a regular expression searched in the address.
        Other recipients are accepted as usual. Like every fault rule, it
        applies ``times`` times, or until `Clear Faults` or `Reset Mock SMTP
        Server` when ``times`` is not given. The rule is logged.

        | Reply To Recipient    ^nobody@    550 5.1.1 No such user here
        | Reply To Recipient    @full\\\\.example$    452 4.2.2 Mailbox full    times=1
        """
        logger.info(self.server.reply_to_recipient(address_regex, reply, times))

    @keyword
    def reply_to_sender(
        self, address_regex: str, reply: str, times: int | None = None
    ) -> None:
        """Answers MAIL FROM commands for matching addresses with ``reply``.

        ``times`` as in `Reply To Recipient`.

        | Reply To Sender    @spammer\\\\.example$    550 5.7.1 Sender rejected
        """
        logger.info(self.server.reply_to_sender(address_regex, reply, times))

    @keyword
    def reply_to_data(self, reply: str, times: int | None = None) -> None:
        """Answers the end of the next messages with ``reply``; they are not stored.

        After ``times`` messages, normal service resumes: this is how a suite
        proves that the application retries after a temporary failure.
        Without ``times``, every message is refused until `Clear Faults`.

        | Reply To Data    451 4.3.0 Try again later    times=2
        | Reply To Data    554 5.6.0 Message rejected
        """
        logger.info(self.server.reply_to_data(reply, times))

    @keyword
    def disconnect_on(self, command: Command, times: int | None = None) -> None:
        """Drops the connection, without a reply, when ``command`` arrives.

        ``command`` is an SMTP command (``EHLO``, ``MAIL``, ``RCPT``, ``DATA``...)
        or ``END OF DATA`` for the end of the message (after the client sent
        it, before the reply: the message is not stored). ``times`` as in
        `Reply To Recipient`.

        | Disconnect On    RCPT    times=1
        | Disconnect On    end of data    times=3
        """
        logger.info(self.server.disconnect_on(command, times))

    @keyword
    def delay_reply(
        self, command: Command, delay: timedelta, times: int | None = None
    ) -> None:
        """Waits ``delay`` before handling ``command``: a slow server.

        Use it to test client timeouts. ``command`` as in `Disconnect On`,
        ``times`` as in `Reply To Recipient`.

        | Delay Reply    DATA    3 s
        | Delay Reply    end of data    1 minute    times=1
        """
        logger.info(self.server.delay_reply(command, delay.total_seconds(), times))

    @keyword
    def clear_faults(self) -> None:
        """Removes every fault rule: the server is back to normal service.

        | Clear Faults
        """
        self.server.clear_faults()

    @keyword
    def get_rejected_commands(self, command: Command | None = None) -> list[Rejection]:
        """Returns the commands the server answered with a 4xx or 5xx reply.

        Each has ``command``, ``argument``, ``reply``, ``peer`` and ``at``;
        dropped connections have the reply ``(connection dropped)``, and TLS
        handshakes the client broke off are ``STARTTLS`` entries with the
        reason. Only the most recent 1000 are kept. ``command`` keeps those
        of one command.

        | ${rejected} =    Get Rejected Commands    RCPT
        | Should Start With    ${rejected[0].reply}    550
        """
        rejections = self.server.rejected_commands(command)
        logger.info(rejections_text(rejections) or "No rejected commands.")
        return rejections

    @keyword("Get SMTP Transcript")
    def get_smtp_transcript(self, lines: int = 200) -> list[str]:
        """Returns the last ``lines`` lines of the SMTP conversations, oldest first.

        Each line has the time, the client's address, ``>>`` for what the
        client sent or ``<<`` for the server's reply, and the text. Passwords
        are never recorded: AUTH shows only the mechanism.

        | ${transcript} =    Get SMTP Transcript
        | Should Contain    ${transcript}[-1]    221 Bye
        """
        if lines < 1:
            raise ConfigurationError(f"'lines' must be a positive number, got {lines}.")
        return [str(line) for line in self.server.transcript[-lines:]]

    @keyword("Log SMTP Transcript")
    def log_smtp_transcript(self, lines: int = 200) -> None:
        """Logs the last ``lines`` lines of the SMTP conversations.

        See `Get SMTP Transcript` for the format. Use it when a client
        misbehaves: the log shows exactly what it sent and what it was told.

        | Log SMTP Transcript
        """
        logger.info(transcript_html(self.get_smtp_transcript(lines)), html=True)
