"""SIGTERM while the database is away (issue 8, item 6): `guetteur up` waits for it at most
`store.shutdown_wait` seconds. If it comes back in time, everything accepted is stored and the
exit is clean; if not, the process exits promptly with code 1 and one clear message saying how
many accepted records were not stored: no 85 s hang, no PoolTimeout traceback, no worker left."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import httpx
import psycopg

from embedded_helpers import kill_postmaster
from guetteur.store.embedded import EmbeddedPostgres
from guetteur.store.keys import create_key

from .guetteur_process import GuetteurProcess, guetteur_env, start_guetteur, wait_gone

LINE = b"<38>Dec  5 10:00:00 web-01 app[7]: stop-test line\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def send_syslog(port: int, lines: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(LINE * lines)


def stored_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def start(tmp_path: Path, dsn: str, shutdown_wait: float) -> tuple[GuetteurProcess, int, dict[str, str]]:
    """`guetteur up` on `dsn`; the process, its syslog port and the read-key header."""
    syslog_port = free_port()
    env = guetteur_env(tmp_path / "data", dsn, free_port(), syslog_port, GUETTEUR_PIPELINE__WORKERS="1",
                       GUETTEUR_STORE__CHECK_INTERVAL="0.5", GUETTEUR_STORE__SHUTDOWN_WAIT=str(shutdown_wait))
    running = start_guetteur(env, tmp_path / "up.log")
    read = {"Authorization": f"Bearer {create_key(dsn, 'stop-read', 'read')}"}
    return running, syslog_port, read


def outage_with_pending_records(running: GuetteurProcess, syslog_port: int, read: dict[str, str],
                                server: EmbeddedPostgres, dsn: str) -> int:
    """1,000 lines stored, the database killed, 3,000 more accepted: how many wait unstored."""
    send_syslog(syslog_port, 1000)
    wait_for(lambda: stored_rows(dsn) == 1000, 60, "the first 1,000 lines stored")
    details = httpx.get(f"{running.base_url}/api/v1/health/details", headers=read, timeout=10)
    assert details.status_code == 200  # the read key is now cached: details stay readable
    kill_postmaster(server.pgdata)
    wait_for(lambda: httpx.get(f"{running.base_url}/api/v1/health", timeout=5).json()["status"] == "degraded",
             30, "health to say degraded")
    send_syslog(syslog_port, 3000)

    def totals() -> dict[str, int]:
        body = httpx.get(f"{running.base_url}/api/v1/health/details", headers=read, timeout=10).json()
        return dict(body["totals"])

    wait_for(lambda: totals()["received"] == 4000, 30, "3,000 more lines accepted")
    pending = totals()["received"] - totals()["stored"]
    assert pending == 3000
    return pending


def test_sigterm_while_database_stays_away_exits_in_bounded_time_saying_what_was_not_stored(
        tmp_path: Path, external_server: tuple[EmbeddedPostgres, str]) -> None:
    server, dsn = external_server
    shutdown_wait = 3.0
    running, syslog_port, read = start(tmp_path, dsn, shutdown_wait)
    try:
        pending = outage_with_pending_records(running, syslog_port, read, server, dsn)
        sent = time.monotonic()
        running.proc.send_signal(signal.SIGTERM)
        code = running.proc.wait(timeout=120)
        took = time.monotonic() - sent
        left = wait_gone(running.pid, 10)
    finally:
        if running.proc.poll() is None:
            running.proc.kill()
    output = running.log()
    print("\n" + output[-2500:])
    print(f"\nSIGTERM with the database away and {pending} lines accepted, not stored: exit {code} "
          f"after {took:.1f}s (shutdown_wait {shutdown_wait:.0f}s); last lines:\n"
          + "\n".join(output.splitlines()[-3:]))
    assert code == 1
    assert took < shutdown_wait + 60  # bounded (generous margin for a loaded machine), not 85 s and counting
    assert f"stopped without storing {pending} accepted record(s)" in output
    assert "Traceback" not in output and "PoolTimeout" not in output
    assert left == []  # no worker left behind
    server.restart()
    assert stored_rows(dsn) == 1000  # what was committed stays; nothing half-stored


def test_sigterm_while_database_away_stores_everything_once_it_returns_in_time(
        tmp_path: Path, external_server: tuple[EmbeddedPostgres, str]) -> None:
    server, dsn = external_server
    running, syslog_port, read = start(tmp_path, dsn, 60.0)
    try:
        pending = outage_with_pending_records(running, syslog_port, read, server, dsn)
        running.proc.send_signal(signal.SIGTERM)
        time.sleep(3.0)
        assert running.proc.poll() is None  # still waiting for the database
        server.restart()
        code = running.proc.wait(timeout=120)
    finally:
        if running.proc.poll() is None:
            running.proc.kill()
    output = running.log()
    assert code == 0, output[-3000:]
    assert "Traceback" not in output
    assert stored_rows(dsn) == 1000 + pending
