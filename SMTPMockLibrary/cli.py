"""``smtpmock``: the mock server in the foreground, for manual testing and as a mail catcher.

smtpmock                         # 127.0.0.1:1025, one line per message
smtpmock --port 2525 --save-dir mail/ --json
smtpmock --tls starttls --users alice:s3cret --auth-required
smtpmock --remote 8270           # also serve the keywords to Robot's Remote library
smtpmock --imap 1143 --pop3 1110 # also let mail clients and fetching apps read it
"""

from __future__ import annotations

import argparse
import errno
import json
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, TextIO

from .errors import ConfigurationError, ServerError
from .files import directory_for_saving, save_messages
from .message import ReceivedMessage
from .server import DEFAULT_MAX_MESSAGE_SIZE, MockSMTPServer
from .tls import TLS_MODES
from .version import __version__

VERBOSE_TEXT_LIMIT = 4000


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="smtpmock",
        description="Run the SMTPMockLibrary server in the foreground. Ctrl-C stops it.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only)",
    )
    parser.add_argument(
        "--port", type=int, default=1025, help="port (default 1025, 0: free)"
    )
    parser.add_argument(
        "--tls",
        choices=TLS_MODES,
        default="none",
        help="STARTTLS, or TLS from the first byte (implicit); default none",
    )
    parser.add_argument(
        "--require-tls", action="store_true", help="refuse MAIL before STARTTLS"
    )
    parser.add_argument(
        "--certfile", help="your certificate (default: a generated one)"
    )
    parser.add_argument("--keyfile", help="the key of --certfile")
    parser.add_argument("--users", help="users for AUTH: alice:s3cret,bob:pw")
    parser.add_argument(
        "--auth-required",
        action="store_true",
        help="refuse mail before a successful AUTH",
    )
    parser.add_argument(
        "--max-size",
        type=int,
        default=DEFAULT_MAX_MESSAGE_SIZE,
        help="largest message in bytes (0: no limit)",
    )
    parser.add_argument(
        "--save-dir",
        type=Path,
        help="save every message here as .eml (made if missing)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--quiet", action="store_true", help="print nothing per message"
    )
    output.add_argument(
        "--json", action="store_true", help="one JSON object per message, for machines"
    )
    output.add_argument(
        "--verbose",
        action="store_true",
        help="also print each message's text body and links",
    )
    parser.add_argument(
        "--remote",
        type=int,
        metavar="PORT",
        help="also serve the keywords to Robot's Remote library on PORT",
    )
    parser.add_argument(
        "--remote-host",
        default="127.0.0.1",
        help="address for --remote (default 127.0.0.1). Anyone who can "
        "reach it can read every message and control the server.",
    )
    parser.add_argument(
        "--http",
        type=int,
        metavar="PORT",
        help="also serve a Mailpit-compatible HTTP API and web viewer on PORT",
    )
    parser.add_argument(
        "--http-host",
        default="127.0.0.1",
        help="address for --http (default 127.0.0.1). Without --http-auth, anyone "
        "who can reach it can read every message.",
    )
    parser.add_argument(
        "--http-auth",
        metavar="USER:PASSWORD",
        help="require HTTP Basic authentication on every page and endpoint",
    )
    parser.add_argument(
        "--imap",
        type=int,
        metavar="PORT",
        help="also serve the mailbox over IMAP on PORT (needs the [imap] extra); "
        "every recipient logs in with its address, '*' sees all mail",
    )
    parser.add_argument(
        "--imap-tls", choices=TLS_MODES, default="none", help="TLS for --imap"
    )
    parser.add_argument(
        "--pop3", type=int, metavar="PORT", help="also serve the mailbox over POP3"
    )
    parser.add_argument(
        "--pop3-tls", choices=TLS_MODES, default="none", help="TLS for --pop3"
    )
    parser.add_argument(
        "--version", action="version", version=f"smtpmock {__version__}"
    )
    args = parser.parse_args(argv)
    for option, needs in (
        ("imap_tls", "imap"),
        ("pop3_tls", "pop3"),
        ("keyfile", "certfile"),
    ):
        given = getattr(args, option) not in (None, "none")
        if given and getattr(args, needs) is None:
            parser.error(f"--{option.replace('_', '-')} needs --{needs}")
    return args


def message_line(message: ReceivedMessage) -> str:
    recipients = ", ".join(message.recipients)
    return (
        f"{message.received_at:%H:%M:%S}  #{message.sequence}  {message.sender or '<>'} -> "
        f"{recipients}  {message.subject!r}  {message.size:,} bytes"
    )


def message_details(message: ReceivedMessage) -> str:
    """The text body and links, indented under the message's line."""
    text = message.text or "(no text body)"
    if len(text) > VERBOSE_TEXT_LIMIT:
        text = text[:VERBOSE_TEXT_LIMIT] + " [...]"
    lines = [f"    {line}" for line in text.rstrip("\n").splitlines()]
    lines += [f"    link: {link}" for link in message.links]
    lines += [f"    attachment: {a}" for a in message.attachments]
    return "\n".join(lines)


def message_json(message: ReceivedMessage, saved: str | None) -> str:
    return json.dumps(
        {
            "event": "message",
            "sequence": message.sequence,
            "received_at": message.received_at.isoformat(),
            "sender": message.sender,
            "recipients": message.recipients,
            "subject": message.subject,
            "size": message.size,
            "peer": list(message.peer) if message.peer else None,
            "tls": message.tls,
            "auth_user": message.auth_user,
            "saved": saved,
        },
        ensure_ascii=False,
    )


def serve(args: argparse.Namespace, out: TextIO, stop: threading.Event) -> None:
    if args.save_dir:
        check_save_dir(args.save_dir)
    server = MockSMTPServer(
        args.host,
        args.port,
        tls=args.tls,
        require_tls=args.require_tls,
        certfile=args.certfile,
        keyfile=args.keyfile,
        auth_required=args.auth_required,
        users=args.users,
        max_message_size=args.max_size,
    )
    remote = start_remote(server, args) if args.remote is not None else None
    http_port = (
        server.start_http(args.http, host=args.http_host, auth=args.http_auth)
        if args.http is not None
        else None
    )
    imap_port = (
        server.start_imap(args.imap, tls=args.imap_tls)
        if args.imap is not None
        else None
    )
    pop3_port = (
        server.start_pop3(args.pop3, tls=args.pop3_tls)
        if args.pop3 is not None
        else None
    )
    try:
        if args.json:
            print(
                json.dumps(
                    {
                        "event": "started",
                        "host": server.host,
                        "port": server.port,
                        "tls": server.tls,
                        "ca_file": server.ca_file,
                        "http_port": http_port,
                        "imap_port": imap_port,
                        "imap_tls": args.imap_tls if imap_port is not None else None,
                        "pop3_port": pop3_port,
                        "pop3_tls": args.pop3_tls if pop3_port is not None else None,
                        "remote_port": remote.server_port
                        if remote is not None
                        else None,
                    }
                ),
                file=out,
                flush=True,
            )
        else:
            print(
                f"smtpmock {__version__} listening on {server.address} "
                f"(TLS: {server.tls}). Ctrl-C stops it.",
                file=out,
                flush=True,
            )
            if server.ca_file:
                print(f"CA certificate: {server.ca_file}", file=out, flush=True)
            if remote is not None:
                print(
                    f"Remote library: http://{args.remote_host}:{remote.server_port}",
                    file=out,
                    flush=True,
                )
            for name, read_back_port, tls in (
                ("IMAP", imap_port, args.imap_tls),
                ("POP3", pop3_port, args.pop3_tls),
            ):
                if read_back_port is not None:
                    print(
                        f"{name}: {args.host}:{read_back_port} (TLS: {tls}; log in "
                        "as a recipient, or '*' for all mail)",
                        file=out,
                        flush=True,
                    )
            if http_port is not None:
                print(
                    f"HTTP API and web viewer: http://{args.http_host}:{http_port}/",
                    file=out,
                    flush=True,
                )
        last = 0
        while not stop.is_set():
            for message in server.messages.wait_for_arrivals(last, timeout=0.2):
                last = message.sequence
                saved = save(message, args.save_dir) if args.save_dir else None
                if args.json:
                    print(message_json(message, saved), file=out, flush=True)
                elif not args.quiet:
                    print(message_line(message), file=out, flush=True)
                    if saved:
                        print(f"  saved as {saved}", file=out, flush=True)
                    if args.verbose:
                        print(message_details(message), file=out, flush=True)
    finally:
        if remote is not None:
            remote.stop()
        server.stop()
        stored = server.messages.last_sequence
        if args.json:
            print(
                json.dumps({"event": "stopped", "messages": stored}),
                file=out,
                flush=True,
            )
        else:
            print(f"Stopped after {stored} message(s).", file=out, flush=True)


def check_save_dir(directory: Path) -> None:
    """Make ``directory`` if missing; a clear error now if it cannot hold files,
    rather than at the first message."""
    try:
        directory_for_saving(directory)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise ConfigurationError(
            f"Cannot save messages in '{directory}': {error.strerror or error}."
        ) from None


def save(message: ReceivedMessage, directory: Path) -> str | None:
    """Save ``message`` as .eml; a failure (a full disk) is told, and serving goes on."""
    try:
        return save_messages([message], directory)[0]
    except (OSError, ConfigurationError) as error:
        reason = getattr(error, "strerror", None) or error
        print(
            f"smtpmock: message #{message.sequence} not saved: {reason}",
            file=sys.stderr,
            flush=True,
        )
        return None


def start_remote(server: MockSMTPServer, args: argparse.Namespace) -> Any:
    try:
        from robotremoteserver import RobotRemoteServer
    except ImportError:
        raise ServerError(
            "--remote needs robotremoteserver: "
            "pip install robotframework-smtpmocklibrary[remote]"
        ) from None

    from .library import SMTPMockLibrary
    from .remote import RemoteSMTPMockLibrary

    library = SMTPMockLibrary(host=args.host, port=0)
    library.registry.add(server, None, owner="")
    remote = RobotRemoteServer(
        RemoteSMTPMockLibrary(library),
        host=args.remote_host,
        port=args.remote,
        serve=False,
        allow_remote_stop=False,
    )
    try:
        remote.activate()  # binds the port now, so that it can be printed
    except OSError as error:
        reason = (
            "the port is already in use"
            if error.errno == errno.EADDRINUSE
            else error.strerror or str(error)
        )
        raise ServerError(
            f"Cannot start the Remote library server on "
            f"{args.remote_host}:{args.remote}: {reason}."
        ) from None
    threading.Thread(target=remote.serve, kwargs={"log": False}, daemon=True).start()
    return remote


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        serve(args, sys.stdout, stop)
    except KeyboardInterrupt:
        return 0
    except (ConfigurationError, ServerError) as error:
        print(f"smtpmock: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
