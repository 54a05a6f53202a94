"""Keywords that make the server fail on purpose, and show what it refused."""

from __future__ import annotations

from datetime import timedelta

from robot.api import logger
from robotlibcore import keyword

from ..errors import ConfigurationError
from ..faults import Command, FaultRule, RateKey
from ..mailbox import Rejection
from ..report import rejections_text, transcript_html
from .base import LibraryComponent, not_negative


def rule_options(conditions: dict[str, str]) -> dict[str, object]:
    """The conditions as given, ``probability`` and ``seed`` as numbers."""
    options: dict[str, object] = dict(conditions)
    for name, kind in (("probability", float), ("seed", int)):
        if name in options:
            try:
                options[name] = kind(str(options[name]))
            except ValueError:
                raise ConfigurationError(
                    f"'{name}' must be a number, got '{options[name]}'."
                ) from None
    return options


class FaultKeywords(LibraryComponent):
    @keyword
    def reply_to_recipient(
        self,
        address_regex: str,
        reply: str,
        times: int | None = None,
        **conditions: str,
    ) -> FaultRule:
        """Answers RCPT TO commands for matching addresses with ``reply``.

        ``address_regex`` is a regular expression searched in the address; it
        also takes the prefixes of `Filters`: ``regexp:^nobody@``, or
        ``glob:*@full.example`` (a glob matches the whole address, case
        counting). Other recipients are accepted as usual. Like every fault rule, it
        applies ``times`` times, or until `Clear Faults` or `Reset Mock SMTP
        Server` when ``times`` is not given, and takes the conditions of
        `Fault injection`. The rule is logged.

        | Reply To Recipient    ^nobody@    550 5.1.1 No such user here
        | Reply To Recipient    @full\\\\.example$    452 4.2.2 Mailbox full    times=1
        | Reply To Recipient    .    452 4.2.2 Over quota    sender=bulk@example.com
        """
        return self._log(
            self.server.reply_to_recipient(
                address_regex, reply, times, **rule_options(conditions)
            )
        )

    @keyword
    def reply_to_sender(
        self,
        address_regex: str,
        reply: str,
        times: int | None = None,
        **conditions: str,
    ) -> FaultRule:
        """Answers MAIL FROM commands for matching addresses with ``reply``.

        ``times`` and conditions as in `Reply To Recipient`.

        | Reply To Sender    @spammer\\\\.example$    550 5.7.1 Sender rejected
        | Reply To Sender    .    451 4.7.1 Greylisted    times=1    peer=127.0.0.1
        """
        return self._log(
            self.server.reply_to_sender(
                address_regex, reply, times, **rule_options(conditions)
            )
        )

    @keyword
    def reply_to_data(
        self, reply: str, times: int | None = None, **conditions: str
    ) -> FaultRule:
        """Answers the end of the next messages with ``reply``; they are not stored.

        After ``times`` messages, normal service resumes: this is how a suite
        proves that the application retries after a temporary failure.
        Without ``times``, every message is refused until `Clear Faults`.
        Conditions on headers and inboxes are judged here, at the end of DATA.

        | Reply To Data    451 4.3.0 Try again later    times=2
        | Reply To Data    554 5.6.0 Message rejected    header=X-Campaign: spring
        | Reply To Data    451 4.3.0 Busy    probability=0.1    seed=42
        """
        return self._log(
            self.server.reply_to_data(reply, times, **rule_options(conditions))
        )

    @keyword
    def reply_to_auth(
        self,
        reply: str,
        user: str | None = None,
        times: int | None = None,
        **conditions: str,
    ) -> FaultRule:
        """Answers AUTH of ``user`` (of every user when not given) with ``reply``.

        The reply is given even when the password is right, so an
        application's path for bad credentials (``535``) or a temporary
        authentication failure (``454``) can be tested. ``times`` counts AUTH
        commands: a client that tries the next mechanism after a refusal (as
        Python's ``smtplib`` ``login()`` does, PLAIN then LOGIN) needs one
        refusal for each, or no ``times``.

        | Reply To Auth    535 5.7.8 Authentication credentials invalid    user=alice
        | Reply To Auth    454 4.7.0 Temporary authentication failure    times=1
        """
        return self._log(
            self.server.reply_to_auth(reply, user, times, **rule_options(conditions))
        )

    @keyword
    def disconnect_on(
        self, command: Command, times: int | None = None, **conditions: str
    ) -> FaultRule:
        """Drops the connection, without a reply, when ``command`` arrives.

        ``command`` is an SMTP command (``EHLO``, ``MAIL``, ``RCPT``, ``DATA``...)
        or ``END OF DATA`` for the end of the message (after the client sent
        it, before the reply: the message is not stored). ``times`` and
        conditions as in `Reply To Recipient`.

        | Disconnect On    RCPT    times=1
        | Disconnect On    end of data    times=3    recipient=bob@example.com
        """
        return self._log(
            self.server.disconnect_on(command, times, **rule_options(conditions))
        )

    @keyword
    def delay_reply(
        self,
        command: Command,
        delay: timedelta,
        times: int | None = None,
        **conditions: str,
    ) -> FaultRule:
        """Waits ``delay`` before handling ``command``: a slow server.

        Use it to test client timeouts. ``command`` as in `Disconnect On`,
        ``times`` and conditions as in `Reply To Recipient`.

        | Delay Reply    DATA    3 s
        | Delay Reply    end of data    1 minute    times=1
        """
        return self._log(
            self.server.delay_reply(
                command, not_negative(delay, "delay"), times, **rule_options(conditions)
            )
        )

    @keyword
    def limit_message_rate(
        self,
        count: int,
        per: timedelta,
        by: RateKey = "all",
        reply: str = "421 4.7.0 Too many messages, slow down",
        close: bool = False,
        times: int | None = None,
        **conditions: str,
    ) -> FaultRule:
        """Refuses mail beyond ``count`` messages in any period ``per``, as providers do.

        Messages accepted after the limit was set are counted in a sliding
        window (each for ``per`` after its ``received_at``), by ``sender``,
        ``peer`` (the client's address), ``recipient`` or ``all``. Beyond the
        limit, MAIL FROM (RCPT TO when counting by recipient) gets ``reply``;
        ``close=True`` then drops the connection, as providers do with
        ``421``. ``times`` counts refusals: the limit stays until `Clear
        Faults` when it is not given. Conditions as in `Reply To Recipient`.

        | Limit Message Rate    3    per=10 s    by=sender
        | Limit Message Rate    100    per=1 min    reply=421 4.7.0 Too many messages    close=True
        | Limit Message Rate    1    per=1 min    times=2
        """
        return self._log(
            self.server.limit_message_rate(
                count,
                not_negative(per, "per"),
                by,
                reply,
                close,
                times,
                **rule_options(conditions),
            )
        )

    @keyword
    def limit_recipients(
        self,
        count: int,
        reply: str = "452 4.5.3 Too many recipients",
        times: int | None = None,
        **conditions: str,
    ) -> FaultRule:
        """Answers every RCPT TO beyond the first ``count`` of a message with ``reply``.

        A client that handles ``452`` sends the rest in another message.
        ``times`` counts refused recipients; without it, the limit stays
        until `Clear Faults`. Conditions as in `Reply To Recipient`.

        | Limit Recipients    2
        | Limit Recipients    50    reply=552 5.5.3 Too many recipients
        | Limit Recipients    1    times=1
        """
        return self._log(
            self.server.limit_recipients(
                count, reply, times, **rule_options(conditions)
            )
        )

    @keyword
    def throttle_data(
        self, rate: str, times: int | None = None, **conditions: str
    ) -> FaultRule:
        """Makes the server take its time over the message data, for send timeouts.

        The reply to the end of the message comes only after the message's
        size divided by ``rate``, as if the server had read the data that
        slowly: an application's send timeout can be tested with a message
        of known size. ``rate`` is bytes per second, or a number with
        ``B/s``, ``kB/s`` or ``MB/s`` (1024-based). ``times`` counts
        throttled messages; without it, every message is throttled until
        `Clear Faults`. Conditions as in `Reply To Recipient`.

        | Throttle Data    10 kB/s
        | Throttle Data    1 MB/s    recipient=big@example.com
        | Throttle Data    100 kB/s    times=1
        """
        return self._log(
            self.server.throttle_data(rate, times, **rule_options(conditions))
        )

    @keyword
    def get_fault_rules(self) -> list[FaultRule]:
        """Returns the active fault rules, each with how often it fired, and logs them.

        Each rule has ``action``, ``command``, ``reply``, ``times`` (how many
        more times it applies; ``None``: until cleared) and ``fired``. A rule
        whose ``times`` are used up is no longer active and not listed: the
        rule its keyword returned still tells how often it fired.

        | Reply To Data    451 4.3.0 Later    times=2
        | ${rules} =    Get Fault Rules
        | Should Be Equal As Integers    ${rules[0].fired}    0
        """
        rules = self.server.fault_rules
        logger.info("\n".join(str(rule) for rule in rules) or "No fault rules.")
        return rules

    @keyword
    def clear_faults(self) -> None:
        """Removes every fault rule: the server is back to normal service.

        | Clear Faults
        """
        self.server.clear_faults()

    def _log(self, rule: FaultRule) -> FaultRule:
        logger.info(rule.summary())
        return rule

    @keyword
    def get_rejected_commands(self, command: Command | None = None) -> list[Rejection]:
        """Returns the commands the server answered with a 4xx or 5xx reply.

        Each has ``command``, ``argument``, ``reply``, ``peer`` and ``at``;
        dropped connections have the reply ``(connection dropped)``, and TLS
        handshakes the client broke off are ``STARTTLS`` entries with the
        reason. Only the most recent 1000 are kept. ``command`` keeps those
        of one command; ``DATA`` also keeps the rejected messages (``END OF
        DATA``), which ``END OF DATA`` keeps alone.

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
