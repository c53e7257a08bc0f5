"""SIGKILL under load: every record acknowledged (HTTP 202) is stored exactly once.

The load is several HTTP senders posting batches of uniquely numbered lines. At random
moments the test kills `guetteur up` hard: first the main process alone (its workers must
die with it, not survive as orphans beside the next start), then the whole process group,
twice. After each kill Guetteur is started again on the same database and the load goes
on. At the end, every line that was part of a 202 answer is in the store exactly once,
no line is stored twice (no sender retries here), and the hash chain verifies. A file
input followed meanwhile loses no line either: its saved offset passes only committed
lines, so lines read but not committed when the process died are read again (at least
once).
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import pytest

from guetteur.config import Settings
from guetteur.store.chain import verify
from guetteur.store.keys import create_key

from .guetteur_process import GuetteurProcess, guetteur_env, start_guetteur, wait_gone

LINES_PER_REQUEST = 200
SENDERS = 3


class Load:
    """HTTP senders posting numbered lines until stopped; remembers what was acknowledged."""

    def __init__(self, base_url: str, key: str, label: str) -> None:
        self.base_url = base_url
        self.key = key
        self.label = label
        self.acked: list[str] = []
        self.sent: list[str] = []
        self.answers: Counter[int | str] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._send, args=(n,)) for n in range(SENDERS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _send(self, sender: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "text/plain"}
        with httpx.Client(base_url=self.base_url, timeout=60) as client:
            request = 0
            while not self._stop.is_set():
                lines = [f"gt-sigkill {self.label} s{sender} r{request} l{i}" for i in range(LINES_PER_REQUEST)]
                request += 1
                with self._lock:
                    self.sent.extend(lines)
                try:
                    response = client.post("/api/v1/ingest", content="\n".join(lines).encode(), headers=headers)
                except httpx.HTTPError as exc:  # killed mid-request: not acknowledged
                    self.answers[type(exc).__name__] += 1
                    if self._stop.wait(0.2):
                        return
                    continue
                self.answers[response.status_code] += 1
                if response.status_code == 202:
                    assert response.json() == {"accepted": LINES_PER_REQUEST}
                    with self._lock:
                        self.acked.extend(lines)
                elif self._stop.wait(0.1):
                    return


class FileWriter:
    """Appends numbered lines to a followed file until stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _write(self) -> None:
        with open(self.path, "a") as handle:
            while not self._stop.wait(0.005):
                handle.write("".join(f"gt-sigkill-file {self.written + i}\n" for i in range(50)))
                handle.flush()
                self.written += 50


def _wait_for_file_lines(dsn: str, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT count(DISTINCT original) FROM events "
                               "WHERE original LIKE 'gt-sigkill-file %'").fetchone()
        if row is not None and row[0] >= count:
            return
        time.sleep(0.2)


def _wait_for_acks(load: Load, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(load.acked) < count:
        assert time.monotonic() < deadline, f"no progress: {load.answers}"
        time.sleep(0.02)


@pytest.mark.slow
def test_sigkill_at_random_points_loses_no_acknowledged_record(settings: Settings, fresh_dsn: str,
                                                               tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    key = create_key(fresh_dsn, "sigkill-test", "ingest")
    followed = tmp_path / "followed.log"
    followed.touch()
    env = guetteur_env(tmp_path / "data", fresh_dsn, settings.api.port, settings.syslog.tcp_port,
                       GUETTEUR_FILE_INPUTS=json.dumps([{"path": str(followed)}]))
    log_path = tmp_path / "up.log"
    writer = FileWriter(followed)
    loads: list[Load] = []
    kills = ["main process", "process group", "process group"]
    running: GuetteurProcess | None = None
    try:
        for round_no, target in enumerate(kills):
            running = start_guetteur(env, log_path)
            load = Load(running.base_url, key, f"k{round_no}")
            loads.append(load)
            load.start()
            if round_no == 0:
                writer.start()
            # kill at a random point once the load is flowing
            _wait_for_acks(load, LINES_PER_REQUEST * rng.randint(1, 6))
            time.sleep(rng.uniform(0.0, 1.5))
            members = running.group()
            assert len(members) >= 2, "expected the main process and its workers"
            if target == "main process":
                os.kill(running.pid, signal.SIGKILL)
            else:
                os.killpg(running.pid, signal.SIGKILL)
            running.proc.wait(timeout=10)
            # workers die with their parent: none is left to run beside the next start
            survivors = wait_gone(running.pid, timeout=10)
            assert not survivors, f"seed {seed}: processes survived the kill of {target}: {survivors}"
            load.stop()
            running = None
        writer.stop()
        # a last start reads the rest of the followed file; a clean stop ends the test
        running = start_guetteur(env, log_path)
        _wait_for_file_lines(fresh_dsn, writer.written)
        running.proc.send_signal(signal.SIGTERM)
        assert running.proc.wait(timeout=120) == 0, running.log()[-3000:]
        running = None
    finally:
        writer.stop()
        if running is not None:
            os.killpg(running.pid, signal.SIGKILL)
        for load in loads:
            load.stop()

    acked = [line for load in loads for line in load.acked]
    sent = {line for load in loads for line in load.sent}
    with psycopg.connect(fresh_dsn) as conn:
        stored = Counter(row[0] for row in conn.execute(
            "SELECT original FROM events WHERE original LIKE 'gt-sigkill %'"))
    missing = [line for line in acked if stored[line] != 1]
    twice = [line for line, n in stored.items() if n > 1]
    print(f"seed {seed}: sent {len(sent)}, acknowledged {len(acked)}, stored {sum(stored.values())}, "
          f"answers {[dict(load.answers) for load in loads]}")
    assert acked, "the load never got an acknowledgement"
    assert not missing, f"seed {seed}: {len(missing)} acknowledged lines not stored exactly once: {missing[:5]}"
    assert not twice, f"seed {seed}: lines stored twice: {twice[:5]}"
    assert set(stored) <= sent
    with psycopg.connect(fresh_dsn) as conn:
        file_lines = {row[0] for row in conn.execute(
            "SELECT original FROM events WHERE original LIKE 'gt-sigkill-file %'")}
    lost = [n for n in range(writer.written) if f"gt-sigkill-file {n}" not in file_lines]
    print(f"file: written {writer.written}, distinct stored {len(file_lines)}")
    assert writer.written > 0
    assert not lost, f"seed {seed}: {len(lost)} lines of the followed file never stored: {lost[:5]}"
    report = verify(fresh_dsn)
    assert report.ok, report
