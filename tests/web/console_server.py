"""A real Guetteur (`guetteur up` on free ports, its own database) with demo traffic flowing,
for the browser tests; and the admin's password it printed."""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from tests.conftest import free_port
from tests.e2e.guetteur_process import GuetteurProcess, guetteur_env, start_guetteur

from guetteur.store.database import with_params

_PRINTED = re.compile(r"^  user: +(\S+)\n  password: (\S+)$", re.MULTILINE)


@dataclass
class ConsoleServer:
    process: GuetteurProcess
    admin_password: str

    @property
    def base_url(self) -> str:
        return self.process.base_url


def _database(server_dsn: str, template: str) -> tuple[str, str]:
    name = f"guetteur_web_{secrets.token_hex(4)}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
            sql.Identifier(name), sql.Identifier(template)))
    return name, with_params(server_dsn, dbname=name)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def console_server(tmp: Path, server_dsn: str, template: str) -> Iterator[ConsoleServer]:
    """Guetteur up with the demo playing into it (attacks every 10 s) until the block ends."""
    name, dsn = _database(server_dsn, template)
    env = guetteur_env(tmp / "data", dsn, free_port(), free_port(), GUETTEUR_PIPELINE__WORKERS="1")
    running = start_guetteur(env, tmp / "up.log")
    demo = None
    try:
        printed = _PRINTED.findall(running.log())
        assert len(printed) == 1, running.log()[-3000:]
        demo_log = (tmp / "demo.log").open("ab")
        demo = subprocess.Popen([sys.executable, "-m", "guetteur", "demo", "--rate", "20", "--attack-every", "10",
                                 "--seed", "13"], env=env, stdout=demo_log, stderr=subprocess.STDOUT)
        demo_log.close()
        yield ConsoleServer(running, printed[0][1])
    finally:
        if demo is not None:
            _stop(demo)
        _stop(running.proc)
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def wait_for(check: object, what: str, timeout: float = 90.0) -> None:
    """Poll `check()` until true; fail saying `what` did not happen (no duration is asserted)."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen")
        time.sleep(0.5)
