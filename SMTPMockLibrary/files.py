"""Writing messages and attachments to disk, never outside the chosen directory."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigurationError

if TYPE_CHECKING:  # message.py saves itself with these functions
    from .message import Attachment, ReceivedMessage

_UNSAFE = re.compile(r"[^\w.\- ()+@=,]", re.UNICODE)
_RESERVED_WINDOWS_NAMES = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.I)


def safe_filename(name: str, default: str = "attachment") -> str:
    """A file name with no directory part, no control or path characters."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").split("/")[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if not name or _RESERVED_WINDOWS_NAMES.match(name):
        name = f"{default}_{name}" if name else default
    return name[:200]


def unique_path(directory: Path, filename: str) -> Path:
    """``directory/filename``, or ``name-2.ext``, ``name-3.ext``... if taken."""
    candidate = directory / filename
    stem, suffix = candidate.stem, candidate.suffix
    number = 2
    while candidate.exists():
        candidate = directory / f"{stem}-{number}{suffix}"
        number += 1
    return candidate


def directory_for_saving(directory: str | os.PathLike[str]) -> Path:
    """``directory``, made if missing; a clear error if a file is in the way."""
    target = Path(directory)
    for path in (target, *target.parents):
        if path.exists():
            if not path.is_dir():
                raise ConfigurationError(
                    f"Cannot save into '{target}': '{path}' is a file, not a directory."
                )
            break
    target.mkdir(parents=True, exist_ok=True)
    return target


def save_attachments(
    attachments: list[Attachment], directory: str | os.PathLike[str]
) -> list[str]:
    target = directory_for_saving(directory)
    paths = []
    for attachment in attachments:
        path = unique_path(target, safe_filename(attachment.filename))
        assert path.resolve().parent == target.resolve()
        path.write_bytes(attachment.content)
        paths.append(str(path))
    return paths


def save_eml(message: ReceivedMessage, path: str | os.PathLike[str]) -> str:
    target = Path(path)
    directory_for_saving(target.parent)
    target.write_bytes(message.raw)
    return str(target)


def save_messages(
    messages: list[ReceivedMessage], directory: str | os.PathLike[str]
) -> list[str]:
    target = directory_for_saving(directory)
    paths = []
    for message in messages:
        subject = safe_filename(re.sub(r"[/\\]", "_", message.subject), "message")[:60]
        name = (
            f"{message.sequence:04d}-{subject}.eml"
            if subject
            else f"{message.sequence:04d}.eml"
        )
        paths.append(save_eml(message, unique_path(target, name)))
    return paths
