"""Where each tailed file was left: persisted atomically so a restart resumes exactly.

The state file (`<data_dir>/state/file_offsets.json`) maps a file identity,
``"<st_dev>:<st_ino>"``, to the path last seen, the offset to resume from, whether that
offset is inside the discarded rest of a cut line, and a fingerprint of the file's first
bytes. An inode number is reused once a file is deleted; the fingerprint tells a new
file on a reused inode from the one we were reading.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FINGERPRINT_BYTES = 512  # enough to tell two log files apart; small enough to re-read each poll
STATE_VERSION = 1


@dataclass(slots=True)
class FileOffset:
    """Where to resume one file."""

    path: str
    offset: int
    fingerprint: str  # hex digest of the first `fingerprint_len` bytes
    fingerprint_len: int
    skipping: bool = False


def file_key(st: os.stat_result) -> str:
    """The identity of a file across renames: device and inode."""
    return f"{st.st_dev}:{st.st_ino}"


def fingerprint(fd: int, size: int) -> tuple[str, int]:
    """Digest and length of the first bytes of the open file `fd` (at most FINGERPRINT_BYTES)."""
    head = os.pread(fd, min(size, FINGERPRINT_BYTES), 0)
    return hashlib.blake2b(head, digest_size=16).hexdigest(), len(head)


def fingerprint_matches(fd: int, size: int, expected: str, length: int) -> bool:
    """Whether the file's first `length` bytes are still those fingerprinted."""
    if size < length:
        return False
    head = os.pread(fd, length, 0)
    return len(head) == length and hashlib.blake2b(head, digest_size=16).hexdigest() == expected


class OffsetStore:
    """Loads and saves the offsets of tailed files (one JSON document, replaced atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, FileOffset]:
        """The saved offsets; empty when there are none. A corrupt file is set aside
        (renamed `*.corrupt`) and reading starts afresh rather than failing the server."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            doc = json.loads(raw)
            return {key: FileOffset(**entry) for key, entry in doc["files"].items()}
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("file offsets %s unreadable (%s); set aside, files are read again", self.path, exc)
            with contextlib.suppress(OSError):
                os.replace(self.path, self.path.with_name(self.path.name + ".corrupt"))
            return {}

    def save(self, offsets: dict[str, FileOffset]) -> None:
        """Write all offsets: temporary file, fsync, rename over the old one, fsync the folder.
        A crash leaves either the old or the new document, never a mix."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"version": STATE_VERSION, "files": {key: asdict(value) for key, value in offsets.items()}}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(json.dumps(doc, indent=1, sort_keys=True).encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        with contextlib.suppress(OSError):  # not every filesystem lets a folder be fsynced
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
