"""Workers die with their parent: SIGKILL of the main process leaves no worker (nor
multiprocessing's resource tracker) behind, even while the workers wait on the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from guetteur.store.chain import CHAIN_LOCK

PARENT = Path(__file__).with_name("pipeline_parent.py")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def writer_sessions(dsn: str, waiting_on_a_lock: bool = False) -> int:
    query = ("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'guetteur-writer'"
             " AND datname = current_database()")
    if waiting_on_a_lock:
        query += " AND wait_event_type = 'Lock'"
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def test_sigkill_of_the_main_process_takes_its_workers_along(fresh_app_dsn: str, fresh_dsn: str,
                                                              tmp_path: Path) -> None:
    """The test holds the hash chain's lock, so both workers sit inside a database call (where
    no polling can notice anything) when the main process is SIGKILLed: every process it
    started is gone within 10 s (before: the workers stayed until the lock was released)."""
    lock = psycopg.connect(fresh_dsn, autocommit=True)
    lock.execute("SELECT pg_advisory_lock(%s)", (CHAIN_LOCK,))
    parent = subprocess.Popen([sys.executable, str(PARENT), fresh_app_dsn, str(tmp_path / "data")],
                              stdout=subprocess.PIPE, text=True)
    started: list[int] = []
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 120
        while writer_sessions(fresh_dsn, waiting_on_a_lock=True) < 2:
            assert time.monotonic() < deadline, "the workers never reached the database"
            time.sleep(0.2)
        started = children_of(parent.pid)
        assert len(started) >= 2  # the workers, and the resource tracker when there is one
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = [pid for pid in started if alive(pid)]
        assert survivors == [], f"still running after their parent was killed: {survivors}"
        # their server sessions notice only once the lock is free; nothing they held commits
        lock.execute("SELECT pg_advisory_unlock(%s)", (CHAIN_LOCK,))
        deadline = time.monotonic() + 30
        while writer_sessions(fresh_dsn) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert writer_sessions(fresh_dsn) == 0
        with psycopg.connect(fresh_dsn) as conn:
            assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)
    finally:
        for pid in [parent.pid, *started]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        lock.close()
