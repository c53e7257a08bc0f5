"""A real parser worker process for tests (imported as `worker_helpers`): started the way the
pipeline starts it (spawn, multiprocessing queues), fed packed batches, its answers read."""

from __future__ import annotations

import json
import multiprocessing
import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from guetteur.config import DetectSettings, ParseSettings
from guetteur.model import RawRecord
from guetteur.pipeline.transfer import pack
from guetteur.pipeline.worker import worker_main

# A line the built-in rule "Database Syntax Error Reported By An Application" matches: an ECS
# document (kept as sent by the JSON lines parser, @timestamp included).
RULE_MESSAGE = "psycopg.errors.SyntaxError: syntax error at or near \"'\""
# Year 0 in UTC: stored fine as an event, but its detection hit could not be converted (Python's
# datetime stops at year 1), so `insert_hits` raised ValueError on every attempt.
YEAR_ZERO = "0001-01-01T00:00:00+01:00"
# A rule whose title holds a NUL character (a YAML "\0" escape): pySigma loads it and it fires,
# but psycopg refuses to send the NUL in its hits' text, on every attempt.
POISON_MARKER = "poison-marker"
NUL_TITLE_RULE = f"""title: "Marker\\0Rule"
id: 5d7e3a52-1f0c-4c1e-9a53-3b1f2f0e9c11
status: test
logsource:
  category: application
detection:
  keywords:
    message|contains: '{POISON_MARKER}'
  condition: keywords
level: high
"""


def app_line(i: int, timestamp: str | None = None, message: str = RULE_MESSAGE) -> bytes:
    stamp = timestamp or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return json.dumps({"@timestamp": stamp, "host": {"name": "app-01"}, "message": f"{message} #{i}"}).encode()


def records(lines: list[bytes], source: str = "http") -> list[RawRecord]:
    now = time.time()
    return [RawRecord(line, now, source) for line in lines]


class WorkerProcess:
    """One worker process and its queues."""

    def __init__(self, dsn: str, rules_dirs: list[Path] | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.tasks: Any = ctx.Queue(maxsize=2)
        self.results: Any = ctx.Queue()
        self.process = ctx.Process(
            target=worker_main,
            args=(0, dsn, ParseSettings().model_dump(mode="json"),
                  DetectSettings(reload_interval=0, rules_dirs=rules_dirs or []).model_dump(mode="json"), 3, self.tasks, self.results),
            name="guetteur-test-worker", daemon=True,
        )

    def start(self, timeout: float = 120.0) -> None:
        self.process.start()
        kind, *_ = self.next(timeout)
        assert kind == "ready"

    def send(self, seq: int, batch: list[RawRecord]) -> None:
        self.tasks.put((seq, pack(batch)), timeout=30)

    def next(self, timeout: float) -> tuple[str, int, int | None, Any]:
        """The next message (kind, worker id, seq, stats); queue.Empty after `timeout` seconds."""
        message: tuple[str, int, int | None, Any] = self.results.get(timeout=timeout)
        return message

    def idle_for(self, seconds: float) -> bool:
        """Whether no message comes during `seconds`."""
        try:
            self.results.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def stop(self) -> None:
        try:
            self.tasks.put(None, timeout=10)
        except queue.Full:  # a worker stuck on a batch
            self.process.kill()
        if self.process.is_alive():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if self.results.get(timeout=1)[0] == "flushed":
                        break
                except queue.Empty:
                    if not self.process.is_alive():
                        break
            self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


@contextmanager
def running_worker(dsn: str, rules_dirs: list[Path] | None = None) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(dsn, rules_dirs)
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()
