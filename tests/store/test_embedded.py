"""The embedded server: start, join from another process, stop only with the last handle,
survive a crashed handle holder, restart on the same data."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from guetteur.store.embedded import EmbeddedPostgres

JOIN = """
import sys
from pathlib import Path
from guetteur.store.embedded import EmbeddedPostgres
server = EmbeddedPostgres.start(Path(sys.argv[1]))
print(server.pid, flush=True)
if sys.argv[2] == "hold":
    sys.stdin.readline()
server.stop()
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def wait_gone(pid: int) -> bool:
    for _ in range(200):
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def pgdata() -> Iterator[Path]:
    # Outside pytest's basetemp (see tests/conftest.py): as root the server runs as another user.
    parent = Path(tempfile.mkdtemp(prefix="guetteur-embedded-"))
    try:
        yield parent / "pg"
    finally:
        for pid in _postmaster_pids(parent / "pg"):  # never leave a server behind, even on failure
            os.kill(pid, signal.SIGTERM)
            wait_gone(pid)
        shutil.rmtree(parent, ignore_errors=True)


def _postmaster_pids(pgdata: Path) -> list[int]:
    try:
        return [int((pgdata / "postmaster.pid").read_text().split()[0])]
    except (FileNotFoundError, ValueError, IndexError):
        return []


def join(pgdata: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-W", "ignore", "-c", JOIN, str(pgdata), mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_second_process_joins_and_last_handle_stops(pgdata: Path) -> None:
    first = EmbeddedPostgres.start(pgdata)
    pid = first.pid
    assert pid is not None and alive(pid)
    with psycopg.connect(first.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")

    other = join(pgdata, "once")
    out, _ = other.communicate(timeout=60)
    assert other.returncode == 0
    assert int(out.split()[0]) == pid  # joined the running server, did not start another
    assert alive(pid)  # and did not stop it on exit: this process still holds a handle
    with psycopg.connect(first.dsn) as conn:
        conn.execute("SELECT 1")

    first.stop()
    first.stop()  # idempotent
    assert wait_gone(pid)
    assert not (pgdata / "postmaster.pid").exists()

    again = EmbeddedPostgres.start(pgdata)  # restart on the same data
    try:
        assert again.pid != pid
        with psycopg.connect(again.dsn) as conn:
            assert conn.execute("SELECT to_regclass('kept') IS NOT NULL").fetchone() == (True,)
    finally:
        again.stop()
    assert again.pid is None or wait_gone(again.pid)


def test_first_process_leaving_keeps_server_for_the_second(pgdata: Path) -> None:
    holder = join(pgdata, "hold")
    assert holder.stdout is not None
    pid = int(holder.stdout.readline())
    mine = EmbeddedPostgres.start(pgdata)
    assert mine.pid == pid
    holder.communicate("\n", timeout=60)  # the starter exits first
    assert alive(pid)
    mine.stop()  # the last handle stops it
    assert wait_gone(pid)


def test_a_killed_handle_holder_does_not_keep_the_server_forever(pgdata: Path) -> None:
    holder = join(pgdata, "hold")
    assert holder.stdout is not None
    pid = int(holder.stdout.readline())
    holder.kill()  # SIGKILL: no atexit, its handle stays in the file
    holder.wait(timeout=30)
    assert alive(pid)  # a crash leaves the server up; the next start reuses it
    handles = json.loads((pgdata / ".handle_pids.json").read_text())
    assert holder.pid in handles
    mine = EmbeddedPostgres.start(pgdata)
    assert mine.pid == pid
    assert holder.pid not in mine.handles()
    mine.stop()
    assert wait_gone(pid)
