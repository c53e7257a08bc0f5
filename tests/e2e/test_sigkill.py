"""SIGKILL under load: every record acknowledged (HTTP 202) is stored exactly once.

The load is several HTTP senders posting batches of uniquely numbered lines. At random
moments the test kills `guetteur up` hard: first the main process alone (its workers must
die with it, not survive as orphans beside the next start), then the whole process group,
twice. After each kill Guetteur is started again on the same database and the load goes
on. At the end, every line that was part of a 202 answer is in the store exactly once,
no line is stored twice (no sender retries here), and the hash chain verifies.
"""

from __future__ import annotations

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
    env = guetteur_env(tmp_path / "data", fresh_dsn, settings.api.port, settings.syslog.tcp_port)
    log_path = tmp_path / "up.log"
    loads: list[Load] = []
    kills = ["main process", "process group", "process group"]
    running: GuetteurProcess | None = None
    try:
        for round_no, target in enumerate(kills):
            running = start_guetteur(env, log_path)
            load = Load(running.base_url, key, f"k{round_no}")
            loads.append(load)
            load.start()
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
        # a last start stores nothing new by itself; a clean stop ends the test
        running = start_guetteur(env, log_path)
        running.proc.send_signal(signal.SIGTERM)
        assert running.proc.wait(timeout=120) == 0, running.log()[-3000:]
        running = None
    finally:
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
    report = verify(fresh_dsn)
    assert report.ok, report
