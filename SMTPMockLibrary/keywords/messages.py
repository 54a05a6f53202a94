"""Keywords that read one message: links, attachments, headers, bodies, files."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from robot.api import logger
from robotlibcore import keyword

from ..codes import searched_text
from ..filters import compile_regex
from ..linkcheck import (
    LinkResponse,
    LinkResult,
    describe_broken,
    open_link,
    select_link,
)
from ..listing import count_text
from ..message import Attachment, ReceivedMessage
from .base import LibraryComponent

BodyPart = Literal["any", "text", "html"]
LISTED = 20  # attachments named in a failure; a message may have thousands


class MessageKeywords(LibraryComponent):
    @keyword
    def get_links_from_message(
        self, message: ReceivedMessage, matching: str | None = None
    ) -> list[str]:
        """Returns the http(s) links of the message's text and HTML bodies.

        Links are in order of appearance, without duplicates, with HTML
        entities decoded. ``matching`` keeps only the links that the regular
        expression matches (``re.search``); it also takes ``regexp:`` and
        ``glob:`` (a glob matches the whole link: ``glob:*/confirm?*``).

        | ${links} =    Get Links From Message    ${msg}
        | ${confirm} =    Get Links From Message    ${msg}    matching=/confirm\\\\?token=
        | Length Should Be    ${confirm}    1
        """
        links = self.message(message).links
        if matching is not None:
            pattern = compile_regex(matching, "matching=")
            links = [link for link in links if pattern.search(link)]
        return links

    @keyword
    def get_message_attachments(self, message: ReceivedMessage) -> list[Attachment]:
        """Returns the attachments (and inline parts such as images) of the message.

        Each has ``filename``, ``content_type``, ``size``, ``content`` (bytes),
        ``content_id`` and ``inline``.

        | ${files} =    Get Message Attachments    ${msg}
        | Should Be Equal    ${files[0].filename}    report.csv
        """
        return self.message(message).attachments

    @keyword
    def message_should_have_attachment(
        self,
        message: ReceivedMessage,
        filename: str,
        content_type: str | None = None,
        msg: str | None = None,
    ) -> Attachment:
        """Fails unless the message has an attachment called ``filename``.

        With ``content_type``, the attachment must also be of that type.
        Returns the attachment. ``msg`` replaces the failure message.

        | Message Should Have Attachment    ${msg}    report.csv
        | ${pdf} =    Message Should Have Attachment    ${msg}    Rechnung-März.pdf    application/pdf
        """
        message = self.message(message)
        attachments = message.attachments
        for attachment in attachments:
            if attachment.filename == filename and (
                content_type is None or attachment.content_type == content_type.lower()
            ):
                return attachment
        wanted = f"'{filename}'" + (f" of type {content_type}" if content_type else "")
        found = ", ".join(str(a) for a in attachments[:LISTED]) or "none"
        if len(attachments) > LISTED:
            found += f" and {len(attachments) - LISTED} more"
        raise AssertionError(
            msg
            or f"Message #{message.sequence} has no attachment {wanted}. "
            f"Attachments: {found}."
        )

    @keyword
    def save_message_attachments(
        self, message: ReceivedMessage, directory: str
    ) -> list[str]:
        """Saves the attachments to ``directory`` and returns the paths.

        File names are made safe for the file system; nothing is ever written
        outside ``directory``, whatever the e-mail says. Names already taken
        get ``-2``, ``-3``... before the extension. The message's card in the
        log then shows where each file was saved.

        | ${paths} =    Save Message Attachments    ${msg}    ${OUTPUT DIR}/attachments
        """
        message = self.message(message)
        paths = message.save_attachments(directory)
        self.library.saved_attachments(message).update(
            zip((a.filename for a in message.attachments), paths, strict=True)
        )
        logger.info(
            "Saved:\n" + "\n".join(paths) if paths else "No attachments to save."
        )
        return paths

    @keyword
    def message_header_should_be(
        self,
        message: ReceivedMessage,
        name: str,
        expected: str,
        msg: str | None = None,
    ) -> None:
        """Fails unless the decoded header ``name`` of the message is ``expected``.

        Header names are case-insensitive. For a repeated header, any of its
        values may match. ``msg`` replaces the failure message.

        | Message Header Should Be    ${msg}    X-Priority    1
        | Message Header Should Be    ${msg}    subject    Welcome, Alice!
        """
        message = self.message(message)
        values = message.headers.get_all(name)
        if expected not in values:
            found = " | ".join(repr(v) for v in values) if values else "no such header"
            raise AssertionError(
                msg
                or f"Header '{name}' of message #{message.sequence} should be "
                f"'{expected}', but was {found}."
            )

    @keyword
    def message_body_should_contain(
        self,
        message: ReceivedMessage,
        text: str,
        part: BodyPart = "any",
        msg: str | None = None,
    ) -> None:
        """Fails unless the decoded body of the message contains ``text``.

        ``part`` is ``text``, ``html`` or ``any`` (either of them). ``msg``
        replaces the failure message.

        | Message Body Should Contain    ${msg}    Welcome, Alice
        | Message Body Should Contain    ${msg}    <b>Alice</b>    part=html
        """
        message = self.message(message)
        bodies = {"text": message.text, "html": message.html}
        searched = ["text", "html"] if part == "any" else [part]
        if any(text in bodies[name] for name in searched):
            return
        shown = "\n".join(
            f"--- {name} body ---\n{_clip(bodies[name])}" for name in searched
        )
        raise AssertionError(
            msg
            or f"The {' or '.join(searched)} body of message #{message.sequence} "
            f"does not contain '{text}'.\n{shown}"
        )

    @keyword(name="Save Message As EML")
    def save_message_as_eml(self, message: ReceivedMessage, path: str) -> str:
        """Saves the exact received bytes to ``path`` and returns the path.

        The file opens in any mail client.

        | Save Message As EML    ${msg}    ${OUTPUT DIR}/welcome.eml
        """
        message = self.message(message)
        saved = message.save_as_eml(path)
        logger.info(f"Saved message #{message.sequence} to '{saved}'.")
        return saved

    @keyword
    def save_received_messages(
        self, directory: str, inbox: str | None = None, **filters: str
    ) -> list[str]:
        """Saves each matching message as an ``.eml`` file in ``directory``.

        Files are named by sequence number and subject. Returns the paths.

        | ${paths} =    Save Received Messages    ${OUTPUT DIR}/mail    recipient=alice@example.com
        """
        paths = self.view(inbox).save_messages(directory, **filters)
        logger.info(f"Saved {count_text(len(paths))} to '{directory}'.")
        return paths

    # --- verification codes and link checks (issue 11) ----------------------

    @keyword
    def get_verification_code_from_message(
        self, message: ReceivedMessage, pattern: str | None = None, all: bool = False
    ) -> str | list[str]:
        """Returns the one-time code of a sign-in, 2FA or verification mail.

        The code is a string, leading zeros kept. The search prefers a run of
        4 to 10 digits or letters near words such as *code*, *PIN*, *OTP*,
        *passcode* or *verification*, in English, German (*Bestätigungscode*,
        *Sicherheitscode*, *Einmalpasswort*), French (*code de vérification*),
        Spanish (*código*), Italian, Dutch, Portuguese and more; in the
        subject, the text body and the text of the HTML body. Next come link
        parameters named like a code (``?otp=``, ``?code=``, ``?pin=``; they
        win over the other parameters of the link), and last a run of digits,
        or two or three spaced groups of them (``482 193``), standing alone in
        a mail without any other number. The subject counts as the paragraph
        above the body: a subject such as *Your code* announces a code at the
        top of the body.

        Spaced digits are joined (``48 21 93`` gives ``482193``), a hyphenated
        code is returned as written (``G-482193``). Dates, years, times,
        prices, phone numbers, IP addresses, order, invoice and customer
        numbers, promo codes, postcodes and the digits of links and e-mail
        addresses are never taken for a code.

        ``pattern`` is a regular expression for unusual formats: the code is
        its first group, or the whole match when it has none. It is searched
        in the subject, the text body, the HTML body's text and the HTML
        source. (A ``regexp:`` prefix is accepted; a ``glob:`` cannot extract
        a code.) Remember to escape backslashes in Robot Framework: ``\\\\d``.

        Fails, showing the text that was searched, when there is no code.
        With ``all=True`` returns every candidate, the most likely first, and
        an empty list when there is none.

        | ${msg} =      Wait Until Message Is Received    subject=verification code
        | ${code} =     Get Verification Code From Message    ${msg}
        | Should Be Equal    ${code}    482193
        | ${code} =     Get Verification Code From Message    ${msg}    pattern=Your code is (\\\\w{6})
        | @{codes} =    Get Verification Code From Message    ${msg}    all=True
        | Should Not Be Empty    ${codes}
        """
        message = self.message(message)
        codes = message.verification_code(pattern=pattern, all=True)
        assert isinstance(codes, list)
        if all:
            logger.info(f"Candidates: {', '.join(codes) or 'none'}.")
            return codes
        if not codes:
            searched = searched_text(message.subject, message.text, message.html)
            logger.info(f"Searched text:\n{searched}")
            wanted = f"matching pattern '{pattern}' " if pattern else ""
            raise AssertionError(
                f"No verification code {wanted}in message #{message.sequence}. "
                f"Searched text:\n{_clip(searched)}"
            )
        others = f" (other candidates: {', '.join(codes[1:])})" if codes[1:] else ""
        logger.info(f"Verification code: {codes[0]}{others}.")
        return codes[0]

    @keyword
    def links_in_message_should_be_reachable(
        self,
        message: ReceivedMessage,
        images: bool = False,
        timeout: timedelta = timedelta(seconds=10),
        ignore: list[str] | str | None = None,
        parallel: int = 8,
        msg: str | None = None,
    ) -> list[LinkResult]:
        """Fails unless every link of the message answers without an error.

        Requests each http(s) link of the text and HTML bodies (and with
        ``images=True`` each image of the HTML body) with HTTP GET, at most
        ``parallel`` at a time, following redirects. A link is reachable when
        its final answer is 2xx or 3xx within ``timeout`` (for the connection,
        then for each part of the answer). ``mailto:`` and ``tel:`` links are
        skipped. ``ignore`` takes one pattern or a list of them, in the
        `Filters` vocabulary: plain text contained in the link, ``regexp:`` or
        ``glob:`` (the whole link).

        The failure lists each broken link with its status or error; the log
        shows every link. ``msg`` replaces the failure message. Returns the
        results: each has ``link``, ``ok``, ``status``, ``reason``, ``url``
        (after redirects), ``error``, ``skipped`` and ``elapsed``.

        | Links In Message Should Be Reachable    ${msg}
        | Links In Message Should Be Reachable    ${msg}    images=True    timeout=3 s
        | Links In Message Should Be Reachable    ${msg}    ignore=glob:https://tracking.example.com/*
        | ${results} =    Links In Message Should Be Reachable    ${msg}    ignore=${{ ['/unsubscribe', 'glob:*.pdf'] }}
        """
        message = self.message(message)
        results = message.check_links(
            images=images,
            timeout=timeout.total_seconds(),
            ignore=ignore,
            parallel=parallel,
        )
        logger.info(
            "\n".join(str(result) for result in results)
            or f"Message #{message.sequence} has no links to check."
        )
        broken = [result for result in results if not result.ok]
        if broken:
            raise AssertionError(
                msg
                or f"{len(broken)} of {len(results)} links of message "
                f"#{message.sequence} are broken:\n{describe_broken(results)}"
            )
        return results

    @keyword
    def open_link_from_message(
        self,
        message: ReceivedMessage,
        matching: str | None = None,
        timeout: timedelta = timedelta(seconds=10),
        expected_status: int | Literal["ok", "any"] = "ok",
    ) -> LinkResponse:
        """Opens a link of the message as a click would, without a browser.

        The common "click the confirmation link" step. Opens the first link
        that ``matching`` selects (plain text contained in the link,
        ``regexp:`` or ``glob:``, as in `Filters`; the first link when not
        given), with HTTP GET, following redirects and keeping the cookies
        they set. Fails listing the message's links when none matches, and
        when there is no answer within ``timeout``.

        Returns the response: ``status``, ``url`` (after redirects), ``text``
        (the decoded body), ``headers`` (case-insensitive), ``content``
        (bytes) and ``reason``. ``expected_status`` is ``ok`` (fail on 4xx
        and 5xx, the default), ``any``, or a status number that must match.

        | ${response} =    Open Link From Message    ${msg}    matching=/confirm
        | Should Contain    ${response.text}    Thank you
        | Should Be Equal    ${response.headers}[Content-Type]    text/html; charset=utf-8
        | ${reset} =     Wait Until Message Is Received    subject=Reset your password
        | ${expired} =     Open Link From Message    ${reset}    matching=regexp:/reset\\\\?token=    expected_status=410
        """
        message = self.message(message)
        link = select_link(message.links, matching)
        response = open_link(link, timeout=timeout.total_seconds())
        redirected = f" at {response.url}" if response.url != link else ""
        logger.info(f"Opened {link}: {response.status} {response.reason}{redirected}")
        if expected_status == "ok":
            expected, as_expected = "a 2xx or 3xx status", response.ok
        else:
            expected = str(expected_status)
            as_expected = expected_status in ("any", response.status)
        if as_expected:
            return response
        raise AssertionError(
            f"Opening {link} answered {response.status} {response.reason}"
            f"{redirected}, expected {expected}.\n{_clip(response.text, 500)}"
        )

    # --- end of verification codes and link checks --------------------------


def _clip(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + " [...]"
