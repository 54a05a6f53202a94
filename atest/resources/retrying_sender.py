"""An application's mail sender that retries temporary failures with backoff.

    python retrying_sender.py PORT --to a@x --subject Hi [--attempts 8]

Each attempt is a new connection, as a queue worker makes it: a 4xx reply or
a dropped connection waits 0.1 s, 0.2 s, 0.4 s... and tries again; a 5xx
reply is final. Prints one line per attempt, and exits 0 once the mail was
accepted, 1 when it gave up or was refused for good.
"""

import argparse
import smtplib
import sys
import time
from email.message import EmailMessage


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--sender", default="app@example.com")
    parser.add_argument("--to", action="append", required=True)
    parser.add_argument("--subject", default="Retried message")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--attempts", type=int, default=8)
    args = parser.parse_args()
    message = EmailMessage()
    message["From"] = args.sender
    message["To"] = ", ".join(args.to)
    message["Subject"] = args.subject
    for header in args.header:
        name, _, value = header.partition(":")
        message[name.strip()] = value.strip()
    message.set_content("Sent until it is accepted.")
    backoff = 0.1
    for attempt in range(1, args.attempts + 1):
        try:
            with smtplib.SMTP("127.0.0.1", args.port, timeout=10) as client:
                client.send_message(message, args.sender, args.to)
            print(f"attempt {attempt}: accepted")
            return 0
        except smtplib.SMTPResponseException as error:
            print(f"attempt {attempt}: {error.smtp_code} {error.smtp_error!r}")
            if error.smtp_code >= 500:
                return 1
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            print(f"attempt {attempt}: recipients refused {codes}")
            if min(codes) >= 500:
                return 1
        except (smtplib.SMTPServerDisconnected, ConnectionError) as error:
            print(f"attempt {attempt}: disconnected ({error})")
        time.sleep(backoff)
        backoff *= 2
    print("gave up")
    return 1


if __name__ == "__main__":
    sys.exit(main())
