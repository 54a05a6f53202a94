"""Keywords that read one message: links, attachments, headers, bodies, files."""

from __future__ import annotations

from typing import Literal

from robot.api import logger
from robotlibcore import keyword

from ..files import save_attachments, save_eml, save_messages
from ..filters import compile_regex
from ..listing import count_text
from ..message import Attachment, ReceivedMessage
from .base import LibraryComponent

BodyPart = Literal["any", "text", "html"]


class MessageKeywords(LibraryComponent):
    @keyword
    def get_links_from_message(
        self, message: ReceivedMessage, matching: str | None = None
    ) -> list[str]:
        """Returns the http(s) links of the message's text and HTML bodies.

        Links are in order of appearance, without duplicates, with HTML
        entities decoded. ``matching`` keeps only the links that the regular
        expression matches (``re.search``).

        | ${links} =    Get Links From Message    ${msg}
        | ${reset} =    Get Links From Message    ${msg}    matching=/reset\\\\?token=
        | Should Start With    ${reset}[0]    https://
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
        | Should Be Equal    ${files[0].filename}    invoice.pdf
        """
        return self.message(message).attachments

    @keyword
    def message_should_have_attachment(
        self, message: ReceivedMessage, filename: str, content_type: str | None = None
    ) -> Attachment:
        """Fails unless the message has an attachment called ``filename``.

        With ``content_type``, the attachment must also be of that type.
        Returns the attachment.

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
        found = ", ".join(str(a) for a in attachments) or "none"
        raise AssertionError(
            f"Message #{message.sequence} has no attachment {wanted}. Attachments: {found}."
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
        paths = save_attachments(message.attachments, directory)
        self.library.saved_attachments(message).update(
            zip((a.filename for a in message.attachments), paths, strict=True)
        )
        logger.info(
            "Saved:\n" + "\n".join(paths) if paths else "No attachments to save."
        )
        return paths

    @keyword
    def message_header_should_be(
        self, message: ReceivedMessage, name: str, expected: str
    ) -> None:
        """Fails unless the decoded header ``name`` of the message is ``expected``.

        Header names are case-insensitive. For a repeated header, any of its
        values may match.

        | Message Header Should Be    ${msg}    X-Priority    1
        | Message Header Should Be    ${msg}    subject    Grüße aus Köln
        """
        message = self.message(message)
        values = message.headers.get_all(name)
        if expected not in values:
            found = " | ".join(repr(v) for v in values) if values else "no such header"
            raise AssertionError(
                f"Header '{name}' of message #{message.sequence} should be "
                f"'{expected}', but was {found}."
            )

    @keyword
    def message_body_should_contain(
        self, message: ReceivedMessage, text: str, part: BodyPart = "any"
    ) -> None:
        """Fails unless the decoded body of the message contains ``text``.

        ``part`` is ``text``, ``html`` or ``any`` (either of them).

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
            f"The {' or '.join(searched)} body of message #{message.sequence} does "
            f"not contain '{text}'.\n{shown}"
        )

    @keyword(name="Save Message As EML")
    def save_message_as_eml(self, message: ReceivedMessage, path: str) -> str:
        """Saves the exact received bytes to ``path`` and returns the path.

        The file opens in any mail client.

        | Save Message As EML    ${msg}    ${OUTPUT DIR}/welcome.eml
        """
        message = self.message(message)
        saved = save_eml(message, path)
        logger.info(f"Saved message #{message.sequence} to '{saved}'.")
        return saved

    @keyword
    def save_received_messages(self, directory: str, **filters: str) -> list[str]:
        """Saves each matching message as an ``.eml`` file in ``directory``.

        Files are named by sequence number and subject. Returns the paths.

        | ${paths} =    Save Received Messages    ${OUTPUT DIR}/mail    recipient=alice@example.com
        """
        paths = save_messages(self.server.get_messages(**filters), directory)
        logger.info(f"Saved {count_text(len(paths))} to '{directory}'.")
        return paths


def _clip(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + " [...]"
