"""Robot keywords that run codes_links_http.py in its own process, for codes_links.robot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.request import urlopen

SCRIPT = Path(__file__).with_name("codes_links_http.py")


class codes_links_site:  # Robot uses the class named like the file
    ROBOT_LIBRARY_SCOPE = "SUITE"

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def start_link_site(self, lifetime: float = 300) -> str:
        """Starts the site in another process; returns its base URL."""
        self._process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--lifetime", str(lifetime)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()  # the site prints its port first
        if not line.startswith("PORT "):
            self.stop_link_site()
            raise RuntimeError(f"The link site did not start: {line!r}")
        self.base_url = f"http://127.0.0.1:{int(line.split()[1])}"
        return self.base_url

    def stop_link_site(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            if self._process.stdout:
                self._process.stdout.close()
            self._process = None

    def get_link_site_requests(self) -> list[str]:
        """The paths requested so far, in order."""
        with urlopen(f"{self.base_url}/requests", timeout=5) as response:
            lines = response.read().decode().splitlines()
        return [line for line in lines if line != "/requests"]
