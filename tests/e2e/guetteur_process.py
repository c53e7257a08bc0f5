"""`guetteur up` as a real process tree (its own session, so a test can kill the whole group)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class GuetteurProcess:
    proc: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def group(self) -> list[int]:
        """Every live process of this `guetteur up`'s session (main, workers, helpers)."""
        return session_members(self.proc.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def guetteur_env(data_dir: Path, database_url: str, api_port: int, syslog_port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "GUETTEUR_DATA_DIR": str(data_dir),
        "GUETTEUR_DATABASE_URL": database_url,
        "GUETTEUR_SYSLOG__HOST": "127.0.0.1",
        "GUETTEUR_SYSLOG__TCP_PORT": str(syslog_port),
        "GUETTEUR_SYSLOG__UDP_PORT": str(syslog_port),
        "GUETTEUR_SYSLOG__TLS_PORT": "0",
        "GUETTEUR_API__PORT": str(api_port),
        **extra,
    }


def start_guetteur(env: dict[str, str], log_path: Path, timeout: float = 120.0) -> GuetteurProcess:
    """Start `guetteur up` in a new session and wait until its API answers."""
    log = log_path.open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "guetteur", "up"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    running = GuetteurProcess(proc, f"http://127.0.0.1:{env['GUETTEUR_API__PORT']}", log_path)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{running.base_url}/api/v1/health", timeout=2).status_code == 200:
                return running
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"guetteur up exited with {proc.returncode}:\n{running.log()[-5000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"guetteur up did not start:\n{running.log()[-5000:]}")
        time.sleep(0.2)


def session_members(session_id: int) -> list[int]:
    """Live processes whose session id is `session_id` (zombies excluded)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # fields after the command name (which may hold spaces) in parentheses
        fields = stat.rsplit(")", 1)[1].split()
        state, session = fields[0], int(fields[3])
        if session == session_id and state != "Z":
            members.append(int(entry))
    return members


def wait_gone(session_id: int, timeout: float) -> list[int]:
    """Wait until no process of the session is left; returns the survivors (empty: all gone)."""
    deadline = time.monotonic() + timeout
    while True:
        left = session_members(session_id)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)
