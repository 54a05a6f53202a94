"""Reading hostile mail stays bounded: python benchmarks/hostile.py [--quick]

For every shape of utest/hostile_corpus.py at about 1 MB and 5 MB (and 20 MB
for the linearity check), each accessor is timed on a fresh message, so that
each one pays for the parsing it triggers, as the first accessor a test calls
does. Prints the worst accessor time per shape and size, the peak memory of
reading, how long the server takes to store hostile mail beside ordinary mail
of the same size, and each target with PASS or FAIL. Every figure is measured
in this run; nothing is hard-coded.

Reading times are CPU time of this process (``time.process_time``): reading is
single-threaded CPU work, so on an idle machine this is the wall time, and on
a shared one other processes do not inflate it. Storing is timed by the wall
clock, over real SMTP.
"""

from __future__ import annotations

import argparse
import platform
import smtplib
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "utest"))

from hostile_corpus import CORPUS, ordinary, sized

from SMTPMockLibrary import MockSMTPServer
from SMTPMockLibrary.filters import MessageFilter
from SMTPMockLibrary.message import ReceivedMessage

# verification_code() (codes.py) is timed on its own line: it is not part of
# the reading this benchmark is about, and has its own cost.
ACCESSORS: dict[str, Callable[[ReceivedMessage], object]] = {
    "subject": lambda m: m.subject,
    "headers": lambda m: dict(m.headers),
    "to": lambda m: m.to,
    "cc": lambda m: m.cc,
    "from_address": lambda m: m.from_address,
    "bcc": lambda m: m.bcc,
    "date": lambda m: m.date,
    "text": lambda m: m.text,
    "html": lambda m: m.html,
    "attachments": lambda m: [a.content for a in m.attachments],
    "links": lambda m: m.links,
    "searchable_text": lambda m: m.searchable_text,
    "defects": lambda m: m.defects,
    "summary": lambda m: m.summary(),
    "to_dict": lambda m: m.to_dict(),
    "filters": lambda m: FILTER(m),
}
FILTER = MessageFilter(
    {"to": "nobody@example.com", "subject": "Welcome", "body": "x", "attachment": "a"}
)
TARGET_5MB = 1.0
TARGET_ORDINARY = 0.010
LINEAR_SLACK = 1.5


def cold_times(raw: bytes) -> dict[str, float]:
    """Seconds each accessor takes as the first one called on a new message."""
    times = {}
    for name, read in ACCESSORS.items():
        message = ReceivedMessage(raw, "sender@example.com", ["to@example.com"])
        started = time.process_time()
        read(message)
        times[name] = time.process_time() - started
    return times


def read_all_time(raw: bytes, rounds: int) -> float:
    """Median CPU seconds to read everything from a new message."""
    samples = []
    for _ in range(rounds):
        message = ReceivedMessage(raw, "sender@example.com", ["to@example.com"])
        started = time.process_time()
        for read in ACCESSORS.values():
            read(message)
        samples.append(time.process_time() - started)
    return statistics.median(samples)


def verification_code_time(raw: bytes, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        message = ReceivedMessage(raw, "sender@example.com", ["to@example.com"])
        started = time.process_time()
        message.verification_code()
        samples.append(time.process_time() - started)
    return statistics.median(samples)


def same_lines_without_mime(raw: bytes) -> bytes:
    """A plain message with the same line lengths as ``raw`` and no MIME."""
    lines = raw.split(b"\r\n")
    return b"Subject: plain\r\n\r\n" + b"\r\n".join(b"a" * len(x) for x in lines)


def worst(raw: bytes, rounds: int = 1) -> tuple[float, str]:
    samples = [cold_times(raw) for _ in range(rounds)]
    medians = {n: statistics.median(s[n] for s in samples) for n in ACCESSORS}
    name = max(medians, key=medians.__getitem__)
    return medians[name], name


def peak_memory(raw: bytes) -> int:
    tracemalloc.start()
    message = ReceivedMessage(raw, "sender@example.com", ["to@example.com"])
    for read in ACCESSORS.values():
        read(message)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def store_times(
    server: MockSMTPServer, messages: list[bytes], rounds: int
) -> list[float]:
    """Median seconds from MAIL to the server's 250 for each message, over real
    SMTP, the messages sent in turn (A B A B ...) so that both see the same
    machine."""
    samples: list[list[float]] = [[] for _ in messages]
    with smtplib.SMTP("127.0.0.1", server.port, timeout=60) as client:
        for _ in range(rounds):
            for index, raw in enumerate(messages):
                started = time.perf_counter()
                client.sendmail("app@example.com", ["store@example.com"], raw)
                samples[index].append(time.perf_counter() - started)
    return [statistics.median(times) for times in samples]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, no 20 MB")
    args = parser.parse_args()
    rounds = 1 if args.quick else 3
    print(
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, "
        f"Python {platform.python_version()}, {platform.system()}"
    )
    failures = 0

    print("\n| shape | ~1 MB: worst accessor | ~5 MB: worst accessor | 5 MB size |")
    print("|---|---|---|---|")
    worst_5mb = (0.0, "", "")
    for name in CORPUS:
        small = sized(name, 1_000_000)
        large = sized(name, 5_000_000)
        small_time, small_accessor = worst(small, rounds)
        large_time, large_accessor = worst(large, rounds)
        worst_5mb = max(worst_5mb, (large_time, name, large_accessor))
        print(
            f"| {name} | {small_time * 1000:.0f} ms ({small_accessor}) "
            f"| {large_time * 1000:.0f} ms ({large_accessor}) "
            f"| {len(large) / 1e6:.1f} MB |"
        )

    ordinary_raw = ordinary(50_000)
    ordinary_time, ordinary_accessor = worst(ordinary_raw, max(rounds, 5))
    print(
        f"\nordinary {len(ordinary_raw) / 1000:.0f} KB mail: worst accessor "
        f"{ordinary_time * 1000:.1f} ms ({ordinary_accessor})"
    )

    ok = worst_5mb[0] <= TARGET_5MB
    failures += not ok
    print(
        f"{verdict(ok)}: worst accessor over the corpus up to ~5 MB "
        f"{worst_5mb[0] * 1000:.0f} ms ({worst_5mb[1]}, {worst_5mb[2]}), "
        f"target <= {TARGET_5MB * 1000:.0f} ms"
    )
    ok = ordinary_time <= TARGET_ORDINARY
    failures += not ok
    print(
        f"{verdict(ok)}: ordinary 50 KB mail {ordinary_time * 1000:.1f} ms, "
        f"target <= {TARGET_ORDINARY * 1000:.0f} ms"
    )
    code_ordinary = verification_code_time(ordinary_raw, max(rounds, 5))
    code_worst = max(
        (verification_code_time(sized(name, 5_000_000), 1), name) for name in CORPUS
    )
    print(
        f"(verification_code() on its own: ordinary 50 KB mail "
        f"{code_ordinary * 1000:.1f} ms, worst over the corpus at ~5 MB "
        f"{code_worst[0] * 1000:.0f} ms ({code_worst[1]}))"
    )

    if not args.quick:
        print(
            "\n| shape | read everything: ~5 MB | ~20 MB "
            "| ms per MB at 5 MB | at 20 MB | ratio |"
        )
        print("|---|---|---|---|---|---|")
        worst_ratio = (0.0, "")
        for name in CORPUS:
            large, huge = sized(name, 5_000_000), sized(name, 20_000_000)
            large_time, huge_time = read_all_time(large, 3), read_all_time(huge, 3)
            per_mb_5 = large_time / (len(large) / 1e6)
            per_mb = huge_time / (len(huge) / 1e6)
            ratio = per_mb / per_mb_5
            worst_ratio = max(worst_ratio, (ratio, name))
            print(
                f"| {name} | {large_time * 1000:.0f} ms | {huge_time * 1000:.0f} ms "
                f"| {per_mb_5 * 1000:.1f} | {per_mb * 1000:.1f} | {ratio:.2f} |"
            )
        ok = worst_ratio[0] <= LINEAR_SLACK
        failures += not ok
        print(
            f"{verdict(ok)}: linear beyond 5 MB: time per MB at 20 MB is at most "
            f"{worst_ratio[0]:.2f}x that at 5 MB ({worst_ratio[1]}), "
            f"target <= {LINEAR_SLACK}x"
        )

    peaks = {name: peak_memory(sized(name, 5_000_000)) for name in CORPUS}
    name = max(peaks, key=peaks.__getitem__)
    size = len(sized(name, 5_000_000))
    print(
        f"\npeak memory reading every accessor (tracemalloc): {peaks[name] / 1e6:.0f} MB"
        f" for {name} ({size / 1e6:.1f} MB, {peaks[name] / size:.1f}x the message)"
    )

    with MockSMTPServer() as server:
        hostile = sized("deep_multipart", 2_000_000)
        plain = same_lines_without_mime(hostile)
        hostile_store, plain_store = store_times(
            server, [hostile, plain], 5 if args.quick else 15
        )
        parsed = [m for m in server.messages if "_tree" in vars(m)]
    ratio = hostile_store / plain_store
    ok = ratio <= 1.5 and not parsed
    failures += not ok
    print(
        f"{verdict(ok)}: storing a {len(hostile) / 1e6:.1f} MB hostile message took "
        f"{hostile_store * 1000:.1f} ms, a plain one with the same lines "
        f"{plain_store * 1000:.1f} ms (ratio {ratio:.2f}, target <= 1.5); "
        f"messages parsed while storing: {len(parsed)}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
