"""Helpers for tests that run their own embedded PostgreSQL (imported as `embedded_helpers`; `tests/` is on sys.path)."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid recorded in PGDATA/postmaster.pid (the server may be dead)."""
    try:
        return int((pgdata / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def kill_postmaster(pgdata: Path) -> int:
    """SIGKILL the postmaster of `pgdata`, as a crash or the OOM killer would; its pid."""
    pid = postmaster_pid(pgdata)
    assert pid is not None and alive(pid), f"no running postmaster in {pgdata}"
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    return pid


@contextmanager
def scratch_pgdata(prefix: str = "guetteur-embedded-", name: str = "pg") -> Iterator[Path]:
    """A PGDATA path (`name` in a fresh directory, outside pytest's basetemp: as root the server runs
    as another user that must traverse the path); any server left on it is stopped at the end."""
    parent = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(parent, 0o755)
    try:
        yield parent / name
    finally:
        pid = postmaster_pid(parent / name)
        if pid is not None and alive(pid):  # never leave a server behind, even on failure
            os.kill(pid, signal.SIGTERM)
            wait_gone(pid)
        shutil.rmtree(parent, ignore_errors=True)
