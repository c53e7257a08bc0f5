"""The embedded server: start, join from another process, stop only with the last handle,
survive a crashed handle holder, restart on the same data, and again after its postmaster died."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from embedded_helpers import alive, kill_postmaster, scratch_pgdata, wait_gone
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


@pytest.fixture
def pgdata() -> Iterator[Path]:
    with scratch_pgdata() as path:
        yield path


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


def test_running_pid_and_restart_after_the_postmaster_was_killed(pgdata: Path) -> None:
    """`running_pid()` reads the pid file each time and says None once the postmaster is dead
    (a zombie included); `restart()` starts it again on the same data and socket."""
    server = EmbeddedPostgres.start(pgdata)
    try:
        dsn = server.dsn
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int)")
        old = server.running_pid()
        assert old is not None and old == server.pid
        kill_postmaster(pgdata)
        assert server.running_pid() is None
        new = server.restart()
        assert new != old and server.running_pid() == new
        with psycopg.connect(dsn) as conn:  # the same DSN reaches the restarted server
            assert conn.execute("SELECT to_regclass('kept') IS NOT NULL").fetchone() == (True,)
    finally:
        server.stop()
