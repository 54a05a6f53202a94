"""A helpdesk importer in its own process: it fetches mail over IMAP and turns
each unread message into a ticket, as applications that fetch mail do.

    python fetch_worker.py PORT USER PASSWORD [--cafile CA]

With ``--cafile`` it upgrades with STARTTLS and verifies the server against
that authority. For each unread message it prints one line, ``TICKET
<sender> | <subject> | <first body line>``, then marks the message read and
deleted and expunges it. Exits 0, or 1 with the error.
"""

import argparse
import email
import email.policy
import imaplib
import ssl
import sys


def import_tickets(args: argparse.Namespace) -> list[str]:
    client = imaplib.IMAP4("127.0.0.1", args.port, timeout=30)
    if args.cafile:
        client.starttls(ssl.create_default_context(cafile=args.cafile))
    client.login(args.user, args.password)
    client.select("INBOX")
    _, found = client.search(None, "UNSEEN")
    tickets = []
    for number in found[0].split():
        _, data = client.fetch(number, "(BODY[])")  # marks it \Seen
        message = email.message_from_bytes(data[0][1], policy=email.policy.default)
        body = message.get_body(("plain",))
        first_line = body.get_content().strip().splitlines()[0] if body else ""
        tickets.append(
            f"TICKET {message['From']} | {message['Subject']} | {first_line}"
        )
        client.store(number, "+FLAGS", "(\\Deleted)")
    client.expunge()
    client.logout()
    return tickets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("user")
    parser.add_argument("password")
    parser.add_argument("--cafile")
    try:
        for ticket in import_tickets(parser.parse_args()):
            print(ticket)
    except (OSError, imaplib.IMAP4.error) as error:
        print(f"Import failed: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
