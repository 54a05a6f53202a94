"""The servers the benchmark compares, each in its own process, and the load.

Finds or installs, in a bounded way, Postfix's ``smtp-source`` (the load
generator, C) and ``smtp-sink`` (a C server that stores nothing: the practical
limit) from Debian's ``postfix`` package, and nodemailer's ``smtp-server`` from
npm into ``benchmarks/node`` (ignored by git).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
INSTALL_TIMEOUT = 600  # seconds; an install that hangs is an error, not a wait
SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


class SetupError(RuntimeError):
    """A peer cannot be found or installed; the message says what to run."""


def _which(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in SBIN:
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    return None


def _run(command: list[str], what: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SetupError(f"Installing {what} failed: {error}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SetupError(
            f"Installing {what} failed ({' '.join(command)}): {' | '.join(tail)}"
        )


def _apt_install(package: str) -> None:
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    print(f"# installing Debian package {package} (apt-get)", flush=True)
    _run([*sudo, "apt-get", "update", "-qq"], package)
    _run([*sudo, "apt-get", "install", "-y", "-qq", package], package)


def postfix_tools() -> tuple[str, str]:
    """Paths of smtp-source and smtp-sink, installing ``postfix`` if needed.

    Installing the package may start the Postfix daemon; it is stopped again,
    so that nothing is left running or bound to port 25.
    """
    source, sink = _which("smtp-source"), _which("smtp-sink")
    if not (source and sink):
        _apt_install("postfix")
        stop_postfix_daemon()
        source, sink = _which("smtp-source"), _which("smtp-sink")
    if not (source and sink):
        raise SetupError(
            "smtp-source/smtp-sink not found after installing postfix: "
            "DEBIAN_FRONTEND=noninteractive apt-get install -y postfix"
        )
    return source, sink


def stop_postfix_daemon() -> None:
    postfix = _which("postfix")
    if postfix is None:
        return
    status = subprocess.run(
        [postfix, "status"], capture_output=True, timeout=30, check=False
    )
    if status.returncode == 0:  # running
        subprocess.run([postfix, "stop"], capture_output=True, timeout=60, check=False)


def node_peer() -> tuple[str, Path]:
    """The node binary and benchmarks/serve.js, installing smtp-server if needed."""
    node = shutil.which("node")
    if node is None:
        _apt_install("nodejs")
        node = shutil.which("node")
    if node is None:
        raise SetupError("node not found: apt-get install -y nodejs npm")
    if not (NODE_DIR / "node_modules" / "smtp-server").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            _apt_install("npm")
            npm = shutil.which("npm")
        if npm is None:
            raise SetupError("npm not found: apt-get install -y npm")
        print("# installing nodemailer smtp-server (npm)", flush=True)
        NODE_DIR.mkdir(exist_ok=True)
        _run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(NODE_DIR),
                "smtp-server@3",
            ],
            "smtp-server from npm",
        )
    return node, HERE / "serve.js"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SetupError(f"server exited with {process.returncode} at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SetupError(f"nothing listens on port {port} after {timeout} s")


class Server:
    """A server process under test: start, count, reset, memory, stop."""

    stores = True
    greeting_delay = False  # a fixed wait before each greeting (Node's smtp-server)

    def __init__(self, name: str, command: list[str]):
        self.name, self.command = name, command
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> Server:
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=HERE,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().split()
        if len(first) != 2 or first[0] != "PORT":
            self.stop()
            raise SetupError(f"{self.name} did not start: {first!r}")
        self.port = int(first[1])
        return self

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process used so far."""
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def ask(self, command: str) -> str:
        assert self.process and self.process.stdin and self.process.stdout
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def count(self) -> int | None:
        return int(self.ask("count"))

    def reset(self) -> None:
        self.ask("reset")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None


def python_server(name: str, kind: str, event_loop: str | None = None) -> Server:
    command = [sys.executable, str(HERE / "serve.py"), kind]
    if event_loop:
        command += ["--event-loop", event_loop]
    return Server(name, command)


class Sink(Server):
    """Postfix's smtp-sink: answers everything, stores nothing."""

    stores = False

    def __init__(self, sink: str):
        super().__init__("Postfix smtp-sink (C, stores nothing)", [])
        self.sink = sink

    def start(self) -> Sink:
        self.port = free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self.process = subprocess.Popen(
            [self.sink, *user, f"127.0.0.1:{self.port}", "1000"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        wait_for_port(self.port, self.process)
        return self

    def count(self) -> int | None:
        return None

    def reset(self) -> None:
        pass

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class LoadError(RuntimeError):
    pass


def smtp_source(
    source: str,
    port: int,
    messages: int,
    message_file: Path,
    *,
    sessions: int = 8,
    persistent: bool = True,
    timeout: float = 300,
    timed: bool = True,
) -> float:
    """Send ``messages`` with smtp-source; the steady rate in messages per
    second, timed from the 10 % to the 90 % message.

    smtp-source prints a running count of completed messages (``-c``); this
    reads it every 20 ms (so that reading costs the shared CPUs nothing) and
    takes the first reading at or past 10 % and at or past 90 %. With
    ``timed=False`` (a warm-up, a memory run) it only checks that all went well.
    """
    command = [source, "-c", "-s", str(sessions), "-m", str(messages)]
    command += ["-d"] if persistent else []
    command += ["-F", str(message_file), "-f", "load@example.com"]
    command += ["-t", "sink@example.com", "-M", "loadgen", f"127.0.0.1:{port}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    readings: list[tuple[float, int]] = []
    tail = b""
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(0.02)
        finished = process.poll() is not None
        now = time.perf_counter()
        try:
            chunk = os.read(process.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            chunk = b""
        counts = (tail + chunk).split(b"\r")
        tail = counts.pop()
        numbers = [c.strip() for c in counts if c.strip().isdigit()]
        if numbers:
            readings.append((now, int(numbers[-1])))
        if finished:
            break
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise LoadError(f"smtp-source did not finish in {timeout} s")
    errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode != 0:
        raise LoadError(f"smtp-source failed ({process.returncode}): {errors[-300:]}")
    return steady_rate(readings, messages) if timed else 0.0


def steady_rate(readings: list[tuple[float, int]], messages: int) -> float:
    low = next((r for r in readings if r[1] >= messages * 0.1), None)
    high = next((r for r in readings if r[1] >= messages * 0.9), None)
    if low is None or high is None or high[0] <= low[0]:
        raise LoadError(
            f"too few counter readings to time 10-90 % of {messages} messages: "
            f"{readings[:3]}...; send more messages"
        )
    return (high[1] - low[1]) / (high[0] - low[0])
