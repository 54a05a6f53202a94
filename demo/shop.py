"""A tiny web shop back end that sends mail: the application the demo suite tests.

    python shop.py signup alice@example.com        # welcome mail with a confirmation link
    python shop.py reset alice@example.com         # password reset link, sent by a worker
    python shop.py invoice alice@example.com 42.50 # invoice with a PDF and a CSV, retried on 4xx

The SMTP server comes from SMTP_HOST and SMTP_PORT (default 127.0.0.1:25).
"""

from __future__ import annotations

import os
import secrets
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

SHOP = formataddr(("Ünicorn Shop", "noreply@shop.example.com"))
BASE_URL = "https://shop.example.com"


def send(message: EmailMessage, retries: int = 0) -> None:
    host = os.environ.get("SMTP_HOST", "127.0.0.1")
    port = int(os.environ.get("SMTP_PORT", "25"))
    for attempt in range(retries + 1):
        try:
            with smtplib.SMTP(host, port, timeout=10) as client:
                client.send_message(message)
            return
        except smtplib.SMTPResponseException as error:
            if error.smtp_code >= 500 or attempt == retries:
                raise
            print(f"temporary failure {error.smtp_code}, retrying", file=sys.stderr)
            time.sleep(0.2)


def new_message(to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SHOP
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="shop.example.com")
    return message


def signup(email: str) -> None:
    token = secrets.token_urlsafe(8)
    link = f"{BASE_URL}/confirm?email={email}&token={token}"
    message = new_message(email, "Welcome to Ünicorn Shop – please confirm")
    message.set_content(f"Hello!\n\nConfirm your account: {link}\n")
    message.add_alternative(
        f'<p>Hello!</p><p><a href="{link.replace("&", "&amp;")}">Confirm your account</a></p>',
        subtype="html",
    )
    send(message)


def reset(email: str) -> None:
    # Like a real application, hand the mail to a background worker and return.
    subprocess.Popen([sys.executable, __file__, "reset-worker", email])


def reset_worker(email: str) -> None:
    time.sleep(0.3)
    token = secrets.token_hex(16)
    message = new_message(email, "Reset your password")
    message.set_content(f"Reset your password here: {BASE_URL}/reset?token={token}\n")
    send(message)


def invoice(email: str, amount: str) -> None:
    message = new_message(email, f"Your invoice for {amount} EUR")
    message.set_content(f"Thank you for your order. Total: {amount} EUR.\n")
    message.add_attachment(
        f"item,amount\nUnicorn,{amount}\n".encode(),
        maintype="text",
        subtype="csv",
        filename="order.csv",
    )
    message.add_attachment(
        b"%PDF-1.4\n% invoice\n%%EOF\n",
        maintype="application",
        subtype="pdf",
        filename="Rechnung-März.pdf",
    )
    send(message, retries=3)


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {
        "signup": signup,
        "reset": reset,
        "reset-worker": reset_worker,
        "invoice": invoice,
    }[command](*arguments)
