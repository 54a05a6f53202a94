"""A real SMTP client in its own process, for the acceptance tests.

    python sendmail.py PORT --to a@x --subject Hi --text Hello
    python sendmail.py PORT --to a@x --raw message.eml
    python sendmail.py PORT --to a@x --tls starttls --cafile ca.pem --user u --password p

Prints the server's final reply (or the error) and exits 0 on success, 1 when
the server refused or dropped the mail.
"""

import argparse
import mimetypes
import smtplib
import ssl
import sys
import time
from email.message import EmailMessage
from pathlib import Path


def build_message(args: argparse.Namespace) -> bytes:
    if args.raw:
        return Path(args.raw).read_bytes()
    message = EmailMessage()
    message["From"] = args.header_from or args.sender
    message["To"] = ", ".join(args.header_to or args.to)
    if args.cc:
        message["Cc"] = ", ".join(args.cc)
    message["Subject"] = args.subject
    for header in args.header:
        name, _, value = header.partition(":")
        message[name.strip()] = value.strip()
    message.set_content(args.text)
    if args.html:
        message.add_alternative(args.html, subtype="html")
    for path in args.attach:
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        maintype, subtype = content_type.split("/")
        message.add_attachment(
            Path(path).read_bytes(),
            maintype=maintype,
            subtype=subtype,
            filename=Path(path).name,
        )
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--sender", default="app@example.com")
    parser.add_argument("--to", action="append", default=[])
    parser.add_argument("--cc", action="append", default=[])
    parser.add_argument("--bcc", action="append", default=[])
    parser.add_argument("--header-from")
    parser.add_argument("--header-to", action="append")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--subject", default="Test message")
    parser.add_argument("--text", default="Hello from sendmail.py")
    parser.add_argument("--html")
    parser.add_argument("--attach", action="append", default=[])
    parser.add_argument("--raw")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument(
        "--tls", choices=["none", "starttls", "implicit"], default="none"
    )
    parser.add_argument("--cafile")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--smtputf8", action="store_true")
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--delay", type=float, default=0, help="seconds to wait first")
    args = parser.parse_args()
    time.sleep(args.delay)

    context = ssl.create_default_context(cafile=args.cafile) if args.cafile else None
    recipients = args.to + args.cc + args.bcc
    content = build_message(args)
    options = ["SMTPUTF8"] if args.smtputf8 else []
    try:
        if args.tls == "implicit":
            client = smtplib.SMTP_SSL(
                args.host, args.port, timeout=args.timeout, context=context
            )
        else:
            client = smtplib.SMTP(args.host, args.port, timeout=args.timeout)
        with client:
            if args.tls == "starttls":
                client.starttls(context=context)
            if args.user:
                client.login(args.user, args.password or "")
            for _ in range(args.count):
                refused = client.sendmail(
                    args.sender, recipients, content, mail_options=options
                )
                print(f"sent; refused recipients: {refused}" if refused else "sent")
    except (smtplib.SMTPException, OSError) as error:
        print(f"{type(error).__name__}: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
