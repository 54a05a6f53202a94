"""An SMTP load generator: many concurrent connections, each message uniquely numbered.

    python benchmarks/loadgen.py PORT --connections 8 --messages 500 --mode persistent

Runs in its own process and speaks plain SMTP over asyncio streams (with uvloop
when installed), waiting for every reply like a well-behaved client. Prints one
JSON line: messages sent, seconds, messages per second, and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

REPLY_TIMEOUT = 30.0  # a server that never answers is an error, not a hang


def message_bytes(load_id: str, size: int) -> bytes:
    headers = (
        f"From: load@example.com\r\nTo: sink@example.com\r\n"
        f"Subject: load {load_id}\r\nX-Load-Id: {load_id}\r\n\r\n"
    ).encode()
    line = b"x" * 76 + b"\r\n"
    body = line * max(1, (size - len(headers)) // len(line))
    return headers + body


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    async def reply(self) -> bytes:
        while True:
            line = await asyncio.wait_for(self.reader.readline(), REPLY_TIMEOUT)
            if not line:
                raise ConnectionError("server closed the connection")
            if line[3:4] != b"-":
                return line

    async def command(self, line: bytes, expect: bytes) -> None:
        self.writer.write(line + b"\r\n")
        reply = await self.reply()
        if not reply.startswith(expect):
            raise RuntimeError(f"{line!r} got {reply!r}")

    async def send(self, load_id: str, size: int) -> None:
        await self.command(b"MAIL FROM:<load@example.com>", b"250")
        await self.command(b"RCPT TO:<sink@example.com>", b"250")
        await self.command(b"DATA", b"354")
        self.writer.write(message_bytes(load_id, size) + b".\r\n")
        reply = await self.reply()
        if not reply.startswith(b"250"):
            raise RuntimeError(f"end of data got {reply!r}")


async def connect(host: str, port: int) -> Client:
    reader, writer = await asyncio.open_connection(host, port)
    client = Client(reader, writer)
    await client.reply()
    await client.command(b"EHLO loadgen", b"250")
    return client


async def close(client: Client) -> None:
    client.writer.write(b"QUIT\r\n")
    await client.reply()
    client.writer.close()


async def run_connection(
    args: argparse.Namespace, number: int, errors: list, accepted: list
) -> int:
    sent = 0
    client = None
    try:
        for index in range(args.messages):
            if client is None:
                client = await connect(args.host, args.port)
            load_id = f"{args.prefix}{number}-{index}"
            await client.send(load_id, args.size)
            accepted.append(load_id)
            sent += 1
            if args.mode == "per-message":
                await close(client)
                client = None
        if client is not None:
            await close(client)
    except Exception as error:
        errors.append(f"connection {number}: {type(error).__name__}: {error}")
    return sent


async def main_async(args: argparse.Namespace) -> dict:
    errors: list[str] = []
    accepted: list[str] = []
    started = time.perf_counter()
    counts = await asyncio.gather(
        *(run_connection(args, n, errors, accepted) for n in range(args.connections))
    )
    elapsed = time.perf_counter() - started
    sent = sum(counts)
    result = {
        "sent": sent,
        "seconds": elapsed,
        "rate": sent / elapsed,
        "errors": errors,
    }
    if args.ids:
        result["accepted"] = accepted
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--messages", type=int, default=100, help="per connection")
    parser.add_argument(
        "--mode", choices=["persistent", "per-message"], default="persistent"
    )
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--prefix", default="m")
    parser.add_argument(
        "--ids", action="store_true", help="list the accepted message ids"
    )
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(main_async(args))
    else:
        result = uvloop.run(main_async(args))
    print(json.dumps(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
