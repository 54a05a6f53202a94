"""The small shop application that the keyword documentation's examples test.

It sends its mail with smtplib, in its own process, as a real application
would; its links point at the shop's web address (``--url``), so a link check
really requests them.

    python doc_examples_app.py PORT standard          # the standard mailbox
    python doc_examples_app.py PORT sign-up ADDRESS
    python doc_examples_app.py PORT reset ADDRESS
    python doc_examples_app.py PORT invoice ADDRESS
    python doc_examples_app.py PORT newsletter ADDRESS...
    python doc_examples_app.py PORT helpdesk USER     # PORT is an IMAP port here

Like a mail transfer agent, it retries a message after a temporary (4xx)
refusal and gives up on a permanent (5xx) one. It exits 1 when a message
could not be delivered, except in ``standard``, where the refused recipient
``nobody@example.com`` is part of the story.
"""

from __future__ import annotations

import argparse
import imaplib
import secrets
import smtplib
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

SHOP = formataddr(("Example Shop", "noreply@example.com"))
RETRY_DELAYS = (0.1, 0.2, 0.4, 0.8, 1.6)  # seconds; a real MTA waits minutes
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
LOGO_PNG = bytes.fromhex(  # a 1x1 PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def message(sender: str, to: str, subject: str, text: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain="shop.example.com")
    mail.set_content(text)
    return mail


def welcome(address: str, url: str, token: str | None = None) -> EmailMessage:
    name = address.split("@")[0].capitalize()
    confirm = f"{url}/confirm?token={token or secrets.token_urlsafe(8)}"
    mail = message(
        SHOP,
        address,
        f"Welcome, {name}!",
        f"Welcome, {name}!\n\nPlease confirm your address: {confirm}\n\n"
        f"Questions? {url}/help\n",
    )
    mail.add_alternative(
        f'<p>Welcome, <b>{name}</b>!</p><p><a href="{confirm}">Confirm your '
        f'address</a></p><p>Questions? <a href="{url}/help">Help</a></p>',
        subtype="html",
    )
    return mail


def first_order_welcome(url: str) -> EmailMessage:
    """Alice's welcome mail: links, an X-Priority header and two attachments."""
    mail = welcome("alice@example.com", url, token="W3lc0me-alice")
    mail["X-Priority"] = "1"
    mail.add_attachment(
        b"item,quantity,price\nGreen tea,2,4.50\n",
        maintype="text",
        subtype="csv",
        filename="report.csv",
    )
    mail.add_attachment(
        MINIMAL_PDF, maintype="application", subtype="pdf", filename="Rechnung-März.pdf"
    )
    return mail


def password_reset(address: str, url: str) -> EmailMessage:
    link = f"{url}/reset?token={secrets.token_urlsafe(12)}"
    return message(
        SHOP,
        address,
        "Reset your password",
        f"Someone asked to reset the password of {address}.\n\n"
        f"To choose a new one, open {link}\n\nIf it was not you, ignore this mail.\n",
    )


def verification_code(address: str, code: str) -> EmailMessage:
    return message(
        SHOP,
        address,
        "Your verification code",
        f"Your code is {code}. It expires in 10 minutes.\n",
    )


def invoice(address: str, number: int) -> EmailMessage:
    mail = message(
        formataddr(("Example Shop Billing", "billing@example.com")),
        address,
        f"Invoice {number}",
        f"Thank you for your order. Invoice {number} is attached.\n",
    )
    mail.add_attachment(
        MINIMAL_PDF,
        maintype="application",
        subtype="pdf",
        filename=f"invoice-{number}.pdf",
    )
    return mail


def newsletter(address: str, url: str) -> EmailMessage:
    """Text and HTML, the HTML showing the shop's logo, a related part that
    Python writes with an ``attachment`` disposition and a file name."""
    mail = message(
        SHOP,
        address,
        "Newsletter: the autumn teas are here",
        f"Our autumn teas are here: {url}/teas\n\nUnsubscribe: {url}/unsubscribe\n",
    )
    mail.add_alternative(
        f'<p><img src="cid:logo@shop.example.com" alt="Example Shop"></p>'
        f'<p>Our <a href="{url}/teas">autumn teas</a> are here.</p>'
        f'<p><a href="{url}/unsubscribe">Unsubscribe</a></p>',
        subtype="html",
    )
    mail.get_payload()[1].add_related(
        LOGO_PNG, "image", "png", cid="<logo@shop.example.com>", filename="logo.png"
    )
    return mail


def alert(subject: str) -> EmailMessage:
    return message(
        formataddr(("Monitoring", "monitor@example.com")),
        "ops@example.com",
        subject,
        f"{subject}.\n",
    )


def send(port: int, mail: EmailMessage) -> bool:
    """Sends ``mail`` in its own session; retries after a 4xx. True when delivered."""
    sender = mail["From"].addresses[0].addr_spec
    recipients = [address.addr_spec for address in mail["To"].addresses]
    code: int
    reply: bytes | str
    for delay in (*RETRY_DELAYS, None):
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                client.send_message(mail, sender, recipients)
            print(f"sent '{mail['Subject']}' to {', '.join(recipients)}")
            return True
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
        except smtplib.SMTPResponseException as error:
            code, reply = error.smtp_code, error.smtp_error
        text = reply.decode() if isinstance(reply, bytes) else str(reply)
        temporary = 400 <= code < 500
        print(f"'{mail['Subject']}' refused: {code} {text}")
        if not temporary or delay is None:
            return False
        time.sleep(delay)
    return False


def standard_mailbox(port: int, url: str) -> bool:
    """The mail every keyword example starts from; the last session ends with QUIT."""
    mails = [
        first_order_welcome(url),
        password_reset("alice@example.com", url),
        welcome("bob@example.com", url),
        verification_code("bob@example.com", "482193"),
        invoice("carol@example.com", 1001),
        alert("Disk almost full on web-1"),
        alert("Backup of db-1 finished"),
    ]
    delivered = all([send(port, mail) for mail in mails[:5]])
    # A sign-up with a mistyped address: the server refuses it (the set-up
    # told it to), the application gives up and goes on.
    if send(port, welcome("nobody@example.com", url)):
        print("nobody@example.com should have been refused")
        delivered = False
    return all([send(port, mail) for mail in mails[5:]]) and delivered


def helpdesk(port: int, user: str) -> bool:
    """A helpdesk worker: reads every message of ``user`` over IMAP, then deletes it."""
    with imaplib.IMAP4("127.0.0.1", port) as client:
        client.login(user, "any password")
        client.select("INBOX")
        _, numbers = client.search(None, "ALL")
        for number in numbers[0].split():
            client.fetch(number, "(RFC822)")
            client.store(number, "+FLAGS", "\\Deleted")
        client.expunge()
        print(f"read and deleted {len(numbers[0].split())} message(s) of {user}")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("action")
    parser.add_argument("addresses", nargs="*")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    url = args.url.rstrip("/")
    each: dict[str, Callable[[str], EmailMessage]] = {
        "sign-up": lambda address: welcome(address, url),
        "reset": lambda address: password_reset(address, url),
        "invoice": lambda address: invoice(address, 1002),
        "newsletter": lambda address: newsletter(address, url),
    }
    if args.action == "standard":
        return 0 if standard_mailbox(args.port, url) else 1
    if args.action == "helpdesk":
        return 0 if all(helpdesk(args.port, user) for user in args.addresses) else 1
    if args.action not in each or not args.addresses:
        parser.error(f"expected one of {', '.join(each)} with addresses")
    build = each[args.action]
    sent = [send(args.port, build(address)) for address in args.addresses]
    return 0 if all(sent) else 1


if __name__ == "__main__":
    sys.exit(main())
