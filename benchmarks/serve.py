"""One SMTP server under test, in its own process, driven over stdin/stdout.

    python benchmarks/serve.py mock [--event-loop asyncio|uvloop]
    python benchmarks/serve.py bare

Prints ``PORT <n>`` once it listens, then answers one line per command read
from stdin: ``count`` (messages stored), ``reset`` (empty the store, answers
``ok``), ``rss`` (resident set size now, bytes), ``peak`` (peak resident set
size since the last ``clear-peak``, bytes), ``clear-peak``. End of input stops
the server. Running each server in its own process keeps the load generator,
the measuring client and the server from sharing an interpreter (and its GIL)
and lets the benchmark read the server's own memory from ``/proc``.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import Any


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def clear_peak() -> None:
    # Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
    Path("/proc/self/clear_refs").write_text("5")


class ListHandler:
    """The handler a user would write with bare aiosmtpd: append and say OK."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content)
        return "250 OK"


def start(kind: str, event_loop: str | None) -> tuple[int, Any, Any]:
    """Start the server; return its port, a counter and a resetter."""
    if kind == "bare":
        from aiosmtpd.controller import Controller

        handler = ListHandler()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        controller = Controller(
            handler, hostname="127.0.0.1", port=port, server_hostname="bench"
        )
        controller.start()
        return port, lambda: len(handler.messages), handler.messages.clear

    from SMTPMockLibrary import MockSMTPServer

    options = {"event_loop": event_loop} if event_loop else {}
    server = MockSMTPServer(**options)  # the library's defaults
    return server.port, lambda: len(server.messages), server.reset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["mock", "bare"])
    parser.add_argument("--event-loop", default=None)
    args = parser.parse_args()
    port, count, reset = start(args.kind, args.event_loop)
    print(f"PORT {port}", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "count":
            answer: object = count()
        elif command == "reset":
            reset()
            answer = "ok"
        elif command == "rss":
            answer = _status_bytes("VmRSS")
        elif command == "peak":
            answer = _status_bytes("VmHWM")
        elif command == "clear-peak":
            clear_peak()
            answer = "ok"
        else:
            answer = f"unknown command {command!r}"
        print(answer, flush=True)


if __name__ == "__main__":
    main()
