"""SIGTERM during load: `guetteur up` stores every event it accepted before it exits."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg

from guetteur.config import Settings
from guetteur.store.keys import create_key


def test_sigterm_under_load_loses_nothing_accepted(settings: Settings, fresh_dsn: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GUETTEUR_DATA_DIR": str(tmp_path / "data"),
        "GUETTEUR_DATABASE_URL": fresh_dsn,
        "GUETTEUR_SYSLOG__HOST": "127.0.0.1",
        "GUETTEUR_SYSLOG__TCP_PORT": str(settings.syslog.tcp_port),
        "GUETTEUR_SYSLOG__UDP_PORT": str(settings.syslog.udp_port),
        "GUETTEUR_SYSLOG__TLS_PORT": "0",
        "GUETTEUR_API__PORT": str(settings.api.port),
        "GUETTEUR_PIPELINE__WORKERS": "1",
    }
    log = (tmp_path / "up.log").open("w+")
    proc = subprocess.Popen([sys.executable, "-m", "guetteur", "up"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{settings.api.port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "up.log").read_text()
            assert time.monotonic() < deadline, "guetteur up did not start"
            time.sleep(0.2)

        sent = {"lines": 0}
        stop_sending = threading.Event()

        def blast() -> None:
            line = b"<38>Nov 21 08:40:01 web-01 sshd[1]: Failed password for root from 198.51.100.9 port 22 ssh2\n"
            chunk = line * 1000
            try:
                with socket.create_connection(("127.0.0.1", settings.syslog.tcp_port), timeout=10) as sock:
                    while not stop_sending.is_set():
                        sock.sendall(chunk)
                        sent["lines"] += 1000
            except OSError:
                pass  # the server closed the connection while stopping

        sender = threading.Thread(target=blast)
        sender.start()
        # wait until some events are stored, so the SIGTERM lands in the middle of the load
        read = {"Authorization": f"Bearer {create_key(fresh_dsn, 'sigterm-read', 'read')}"}  # details need a key
        while httpx.get(f"{base}/api/v1/health/details", headers=read, timeout=5).json()["totals"]["stored"] < 5000:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
        stop_sending.set()
        sender.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = (tmp_path / "up.log").read_text()
    final_line = next(line for line in reversed(output.splitlines()) if "stopped; totals" in line)
    totals = json.loads(final_line.split("stopped; totals ", 1)[1])
    with psycopg.connect(fresh_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    assert totals["received"] > 5000
    assert totals["received"] == totals["stored"] == row[0]
    assert totals["received"] <= sent["lines"]
