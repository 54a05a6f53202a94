"""Regenerates the keyword documentation: python docs/generate.py

Writes docs/SMTPMockLibrary.html (for people) and docs/SMTPMockLibrary.json
(the libdoc spec, for IDE plugins such as RobotCode). Source paths are made
relative, so the files do not depend on where the library is installed.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from robot.libdoc import libdoc

import SMTPMockLibrary

DOCS = Path(__file__).resolve().parent
FORMATS = ("html", "json")
_PACKAGE_PARENT = str(Path(SMTPMockLibrary.__file__).resolve().parent.parent) + "/"
_GENERATED = re.compile(r'"generated": ?"[^"]*"')
_GENERATOR = re.compile(r'<meta content="Robot Framework [^"]*" name="Generator">')


def generate(directory: Path) -> list[Path]:
    paths = []
    for extension in FORMATS:
        path = directory / f"SMTPMockLibrary.{extension}"
        libdoc("SMTPMockLibrary", str(path), quiet=True)
        text = path.read_text(encoding="utf-8").replace(_PACKAGE_PARENT, "")
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def without_generation_details(text: str) -> str:
    """The text without when, and with which Python, it was generated."""
    return _GENERATOR.sub("", _GENERATED.sub('"generated": ""', text))


def stale_files() -> list[str]:
    """The committed files that differ from freshly generated ones."""
    with tempfile.TemporaryDirectory() as directory:
        fresh = generate(Path(directory))
        return [
            path.name
            for path in fresh
            if not (DOCS / path.name).exists()
            or without_generation_details(path.read_text(encoding="utf-8"))
            != without_generation_details(
                (DOCS / path.name).read_text(encoding="utf-8")
            )
        ]


if __name__ == "__main__":
    if "--check" in sys.argv:
        stale = stale_files()
        print(
            f"Out of date: {', '.join(stale)}. Run: python docs/generate.py"
            if stale
            else "Keyword documentation is up to date."
        )
        sys.exit(1 if stale else 0)
    for written in generate(DOCS):
        print(written)
