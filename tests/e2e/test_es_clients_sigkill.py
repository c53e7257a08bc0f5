"""The official Elasticsearch clients against `/es`, with `guetteur up` SIGKILLed mid-load:
every document acknowledged (a 201 item) is stored exactly once.

The Python client (`helpers.streaming_bulk`, which retries the items answered 429) sends from
threads; the Node client (`@elastic/elasticsearch`, `tests/clients/node/bulk_sender.mjs`, run
when Node and the installed client are there) from its own process. Neither retries a request
that got no answer, so nothing acknowledged can have been sent twice: a document stored twice
is a bug of ours. The whole process group is killed once while both send; Guetteur is started
again on the same database, the senders go on, then a clean stop. Sent, acknowledged and
stored counts are printed.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from elastic_transport import TransportError
from elasticsearch import Elasticsearch, helpers

from guetteur.config import Settings
from guetteur.store.keys import create_key

from .guetteur_process import GuetteurProcess, guetteur_env, start_guetteur, wait_gone

NODE_CLIENT = Path(__file__).resolve().parents[1] / "clients" / "node"
SENDERS = 2
BATCH = 200


class PythonLoad:
    """Threads sending numbered documents with `streaming_bulk`; remembers what was acknowledged."""

    def __init__(self, url: str, key: str, label: str) -> None:
        self.url = url
        self.key = key
        self.label = label
        self.sent: list[str] = []
        self.acked: list[str] = []
        self.failures: Counter[str] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._send, args=(n,)) for n in range(SENDERS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)

    def _send(self, sender: int) -> None:
        es = Elasticsearch(self.url, api_key=self.key, max_retries=0, request_timeout=60)
        request = 0
        while not self._stop.is_set():
            messages = [f"gt-es-sigkill {self.label} s{sender} r{request} l{i}" for i in range(BATCH)]
            request += 1
            with self._lock:
                self.sent.extend(messages)
            actions = [{"_op_type": "create", "_index": "logs-pyapp-default", "_id": message,
                        "_source": {"@timestamp": "2026-04-06T16:21:41Z", "message": message}}
                       for message in messages]
            try:
                for ok, item in helpers.streaming_bulk(es, actions, chunk_size=BATCH, max_retries=5,
                                                       initial_backoff=0.2, raise_on_error=False):
                    if ok:
                        with self._lock:
                            self.acked.append(item["create"]["_id"])
            except TransportError as exc:  # killed mid-request: that chunk is not acknowledged
                self.failures[type(exc).__name__] += 1
                if self._stop.wait(0.2):
                    return


class NodeLoad:
    """`bulk_sender.mjs` in its own process: its `ack` lines are the acknowledged documents."""

    def __init__(self, url: str, key: str, label: str) -> None:
        env = {**os.environ, "ES_URL": url, "ES_API_KEY": key, "LABEL": label, "BATCH": str(BATCH)}
        self.proc = subprocess.Popen(["node", str(NODE_CLIENT / "bulk_sender.mjs")], cwd=NODE_CLIENT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.sent: list[str] = []
        self.acked: list[str] = []
        self.other: list[str] = []
        self._reader = threading.Thread(target=self._read)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "ack":
                self.acked.append(rest)
            elif kind == "sent":
                self.sent.extend(rest.split("|"))
            else:
                self.other.append(line.rstrip("\n"))

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=120)
        finally:
            self._reader.join(timeout=30)


def node_client_ready() -> bool:
    return shutil.which("node") is not None and (NODE_CLIENT / "node_modules" / "@elastic" / "elasticsearch").is_dir()


def _wait_for_acks(acked: list[str], count: int, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while len(acked) < count:
        assert time.monotonic() < deadline, f"no acknowledgements: {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_under_es_client_load_loses_no_acknowledged_document(settings: Settings, fresh_dsn: str,
                                                                     tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    key = create_key(fresh_dsn, "es-sigkill-test", "ingest")
    env = guetteur_env(tmp_path / "data", fresh_dsn, settings.api.port, settings.syslog.tcp_port)
    log_path = tmp_path / "up.log"
    use_node = node_client_ready()
    python_loads: list[PythonLoad] = []
    node_loads: list[NodeLoad] = []
    running: GuetteurProcess | None = None
    try:
        for round_no in range(2):
            running = start_guetteur(env, log_path)
            url = f"{running.base_url}/es"
            python = PythonLoad(url, key, f"py{round_no}")
            python_loads.append(python)
            python.start()
            if use_node:
                node_loads.append(NodeLoad(url, key, f"node{round_no}"))
            _wait_for_acks(python.acked, BATCH * rng.randint(1, 4), "python")
            if use_node:
                _wait_for_acks(node_loads[-1].acked, BATCH, f"node {node_loads[-1].other[-5:]}")
            if round_no == 0:
                time.sleep(rng.uniform(0.0, 1.0))
                os.killpg(running.pid, signal.SIGKILL)
                running.proc.wait(timeout=10)
                assert not wait_gone(running.pid, timeout=10), "processes survived the kill"
                running = None
            else:
                python.stop()
                for node in node_loads:
                    node.stop()
                running.proc.send_signal(signal.SIGTERM)
                assert running.proc.wait(timeout=120) == 0, running.log()[-3000:]
                running = None
            python.stop()
    finally:
        if running is not None:
            os.killpg(running.pid, signal.SIGKILL)
        for load in python_loads:
            load.stop()
        for node in node_loads:
            if node.proc.poll() is None:
                node.proc.kill()

    with psycopg.connect(fresh_dsn) as conn:
        stored = Counter(row[0] for row in conn.execute(
            "SELECT doc->>'message' FROM events WHERE doc->>'message' LIKE 'gt-es-sigkill %'"))
    twice = [message for message, n in stored.items() if n > 1]
    sent = {m for load in python_loads for m in load.sent} | {m for node in node_loads for m in node.sent}
    report = []
    for name, loads in (("python", python_loads), ("node", node_loads)):
        acked = [m for load in loads for m in load.acked]
        missing = [m for m in acked if stored[m] != 1]
        report.append(f"{name}: sent {sum(len(load.sent) for load in loads)}, acknowledged {len(acked)}, "
                      f"acknowledged and stored {len(acked) - len(missing)}")
        assert not missing, f"seed {seed}: {len(missing)} acknowledged {name} documents not stored once: {missing[:3]}"
        if loads:
            assert acked, f"{name} never got an acknowledgement"
    print(f"seed {seed}: {'; '.join(report)}; stored {sum(stored.values())}; node used: {use_node}; "
          f"python failures {[dict(load.failures) for load in python_loads]}; "
          f"node {[node.other[-3:] for node in node_loads]}")
    assert not twice, f"seed {seed}: documents stored twice: {twice[:5]}"
    assert set(stored) <= sent
