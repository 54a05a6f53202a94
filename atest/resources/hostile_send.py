"""Sends the hostile corpus (utest/hostile_corpus.py) with smtplib, from its own process.

    python hostile_send.py PORT [--scale 1.0]

Each shape goes to <shape>@example.com; exits 1 if the server refused one.
"""

import argparse
import smtplib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "utest"))

from hostile_corpus import CORPUS, ISSUE_SCALE


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    with smtplib.SMTP("127.0.0.1", args.port, timeout=60) as client:
        for name, make in CORPUS.items():
            raw = make(max(1, int(ISSUE_SCALE[name] * args.scale)))
            refused = client.sendmail(
                "hostile@example.com", [f"{name}@example.com"], raw
            )
            if refused:
                print(f"{name}: refused {refused}")
                return 1
            print(f"sent {name} ({len(raw)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
