"""SMTPMockLibrary against bare aiosmtpd, side by side in one run: python benchmarks/run.py

Prints a table of medians and ratios. Every figure is measured in this run on
this machine; nothing is hard-coded. ``--quick`` runs fewer rounds (for CI).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import smtplib
import socket
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from aiosmtpd.controller import Controller

from SMTPMockLibrary import MockSMTPServer
from SMTPMockLibrary.filters import MessageFilter
from SMTPMockLibrary.mailbox import Mailbox
from SMTPMockLibrary.message import ReceivedMessage

LOADGEN = Path(__file__).resolve().parent / "loadgen.py"


class ListHandler:
    """The handler a user would write with bare aiosmtpd: append and say OK."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(envelope.original_content)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Bare:
    name = "bare aiosmtpd Controller"

    def __enter__(self) -> int:
        self.handler = ListHandler()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=free_port(), server_hostname="x"
        )
        self.controller.start()
        return self.controller.port

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def count(self) -> int:
        return len(self.handler.messages)


class Mock:
    def __init__(self, event_loop: str):
        self.event_loop = event_loop
        self.name = f"MockSMTPServer ({event_loop})"

    def __enter__(self) -> int:
        self.server = MockSMTPServer(event_loop=self.event_loop)
        return self.server.port

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def count(self) -> int:
        return len(self.server.messages)


def throughput(target: Bare | Mock, mode: str, messages: int) -> float:
    with target as port:
        run = subprocess.run(
            [
                sys.executable,
                str(LOADGEN),
                str(port),
                "--connections",
                "8",
                "--messages",
                str(messages // 8),
                "--mode",
                mode,
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        result = json.loads(run.stdout)
        if result["errors"] or target.count() != result["sent"]:
            raise RuntimeError(
                f"{target.name}: {result['errors'][:3]}, stored {target.count()}"
            )
        return float(result["rate"])


def alternate(
    measure: Callable[[object], float], targets: list, rounds: int
) -> list[float]:
    """Median of ``rounds`` measurements of each target, taken A B A B..."""
    samples: list[list[float]] = [[] for _ in targets]
    for _ in range(rounds):
        for index, target in enumerate(targets):
            samples[index].append(measure(target))
    return [statistics.median(s) for s in samples]


def start_stop_ms(kind: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        if kind == "bare":
            controller = Controller(
                ListHandler(),
                hostname="127.0.0.1",
                port=free_port(),
                server_hostname="x",
            )
            controller.start()
            controller.stop()
        else:
            MockSMTPServer(event_loop=kind).stop()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def wake_latency_ms(samples: int) -> tuple[float, float]:
    """From the client's 250 after DATA to the waiting thread having the message.

    The server stores a message before it answers 250, so a waiter can wake
    before the client reads the reply: such samples count as 0.
    """
    latencies = []
    with MockSMTPServer() as server, smtplib.SMTP("127.0.0.1", server.port) as client:
        for index in range(samples):
            waiting, woke = threading.Event(), []
            waiter = threading.Thread(
                target=_wait_and_stamp, args=(server, index, waiting, woke)
            )
            waiter.start()
            waiting.wait()
            time.sleep(0.002)  # let the waiter block on the condition
            client.sendmail(
                "a@x.example", ["b@x.example"], f"Subject: n{index}\r\n\r\nx"
            )
            replied = time.perf_counter()
            waiter.join()
            latencies.append(max(0.0, woke[0] - replied) * 1000)
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]


def _wait_and_stamp(
    server: MockSMTPServer, index: int, waiting: threading.Event, woke: list[float]
) -> None:
    waiting.set()
    server.wait_for_message(timeout=10, subject=f"n{index}")
    woke.append(time.perf_counter())


def mailbox_scale(sizes: list[int]) -> list[tuple[int, float, float]]:
    rows = []
    raw = b"Subject: s\r\n\r\n" + b"x" * 1000
    for size in sizes:
        mailbox = Mailbox()
        for index in range(size):
            mailbox.add(
                ReceivedMessage(raw, "a@x.example", [f"user{index % 100}@x.example"])
            )
        started = time.perf_counter()
        for _ in range(1000):
            mailbox.count()
        count_us = (time.perf_counter() - started) * 1000
        query = MessageFilter({"recipient": "user7@x.example"})
        started = time.perf_counter()
        found = mailbox.count(query)
        query_ms = (time.perf_counter() - started) * 1000
        assert found == size // 100
        rows.append((size, count_us, query_ms))
    return rows


def memory_per_message(count: int) -> float:
    """Bytes of Python memory held per stored ~1 KB message (tracemalloc)."""
    tracemalloc.start()
    try:
        with MockSMTPServer() as server:
            before = tracemalloc.get_traced_memory()[0]
            run = subprocess.run(
                [
                    sys.executable,
                    str(LOADGEN),
                    str(server.port),
                    "--connections",
                    "4",
                    "--messages",
                    str(count // 4),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            assert json.loads(run.stdout)["sent"] == count == len(server.messages)
            server.transcript.clear()
            held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held / count


def big_message_peak(size_mb: int) -> tuple[float, float]:
    """Peak memory growth while receiving one big message: MB, and times its size."""
    content = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * (
        size_mb * 1024 * 1024 // 1000
    )
    tracemalloc.start()
    try:
        with MockSMTPServer(max_message_size=0) as server:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            sender = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import smtplib,sys; data=sys.stdin.buffer.read();"
                    f"smtplib.SMTP('127.0.0.1', {server.port}).sendmail('a@x', ['b@x'], data)",
                ],
                stdin=subprocess.PIPE,
            )
            sender.communicate(content)
            server.wait_for_message(timeout=60)
            growth = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return growth / 1024 / 1024, growth / len(content)


def small_message_during_big_ones(count: int, size_mb: int) -> float:
    """Seconds for a small message while ``count`` big ones are being received."""
    content = b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * (
        size_mb * 1024 * 1024 // 1000
    )
    with MockSMTPServer(max_message_size=0) as server:
        script = (
            "import smtplib,sys; data=sys.stdin.buffer.read();"
            f"smtplib.SMTP('127.0.0.1', {server.port}).sendmail('a@x', ['b@x'], data)"
        )
        senders = [
            subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE)
            for _ in range(count)
        ]
        feeders = [
            threading.Thread(target=sender.communicate, args=(content,))
            for sender in senders
        ]
        for feeder in feeders:
            feeder.start()
        time.sleep(0.5)  # the big messages are streaming in now
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as client:
            client.sendmail("s@x", ["t@x"], b"Subject: small\r\n\r\nsmall\r\n")
        elapsed = time.perf_counter() - started
        for feeder in feeders:
            feeder.join()
        server.wait_for_message(timeout=60, subject="small")
        server.messages.wait_for_count(count + 1, MessageFilter(), 120)
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for CI")
    parser.add_argument(
        "--only",
        choices=["throughput", "startstop", "latency", "mailbox", "memory"],
        action="append",
        help="run only these sections (repeatable)",
    )
    args = parser.parse_args()
    sections = set(
        args.only or ["throughput", "startstop", "latency", "mailbox", "memory"]
    )
    rounds = 3 if args.quick else 5
    messages = 1600 if args.quick else 4000

    try:
        import uvloop  # noqa: F401

        loops = ["asyncio", "uvloop"]
    except ImportError:
        loops = ["asyncio"]
    print(
        f"# SMTPMockLibrary benchmark on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.system()}"
    )
    print(
        f"# {rounds} alternating rounds, {messages} messages of ~1 KB each, 8 connections\n"
    )

    if "throughput" in sections:
        print_throughput(loops, messages, rounds)
    if "startstop" in sections:
        bare_ms = start_stop_ms("bare", 20)
        print("\n| start + stop (median ms) | value |\n|---|---|")
        print(f"| bare aiosmtpd Controller | {bare_ms:.2f} |")
        for loop in loops:
            print(
                f"| MockSMTPServer {loop} | {start_stop_ms(loop, 200 if args.quick else 500):.2f} |"
            )
    if "latency" in sections:
        p50, p99 = wake_latency_ms(200 if args.quick else 500)
        print(
            f"\n| wake-up latency (250 to wait returning) | p50 {p50:.2f} ms | p99 {p99:.2f} ms |"
        )
    if "mailbox" in sections:
        print(
            "\n| mailbox size | 1000 x count() (ms total) | filtered query (ms) |\n|---|---|---|"
        )
        for size, count_ms, query_ms in mailbox_scale([1000, 10_000, 100_000]):
            print(f"| {size:,} | {count_ms:.3f} | {query_ms:.2f} |")
    if "memory" in sections:
        big = 4 if args.quick else 10
        per_message = memory_per_message(2000 if args.quick else 10_000)
        growth_mb, factor = big_message_peak(25)
        small = small_message_during_big_ones(big, 20)
        print("\n| memory | value |\n|---|---|")
        print(f"| memory held per stored 1 KB message | {per_message / 1024:.2f} KB |")
        print(
            f"| peak growth receiving one 25 MB message | {growth_mb:.0f} MB ({factor:.1f}x the message) |"
        )
        print(
            f"| small message while {big} x 20 MB arrive | answered in {small:.3f} s |"
        )


def print_throughput(loops: list[str], messages: int, rounds: int) -> None:
    print(
        "| throughput (msg/s, median) | "
        + " | ".join(
            ["bare aiosmtpd", *[f"MockSMTPServer {loop}" for loop in loops]]
            + [f"ratio {loop}" for loop in loops]
        )
        + " |"
    )
    print("|---" * (2 + 2 * len(loops)) + "|")
    for mode in ("persistent", "per-message"):
        targets = [Bare(), *[Mock(loop) for loop in loops]]
        medians = alternate(
            lambda t, m=mode: throughput(t, m, messages), targets, rounds
        )
        ratios = [f"{m / medians[0]:.2f}x" for m in medians[1:]]
        print(
            f"| {mode} connections | "
            + " | ".join([f"{m:.0f}" for m in medians] + ratios)
            + " |"
        )


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
