"""Watching the database: notice when PostgreSQL goes away, restart the embedded one, say so.

`DatabaseSupervisor` probes the database every `store.check_interval` seconds: for the embedded
server, first whether its postmaster still runs (the pid in `PGDATA/postmaster.pid`, no round
trip), then a `SELECT 1` on one connection it keeps open (external server: only the query). The
state it keeps (`DatabaseStatus`: up or down, since when, why, how many restarts) is what health
reports and what ingest reads before accepting a request (503 + Retry-After while down).

When the embedded postmaster is gone, it is started again on the same data directory after 1 s,
then 2 s, 4 s ... up to `store.restart_backoff_max` between attempts; PostgreSQL's crash
recovery replays its WAL, so every committed batch is still there. An external server is only
watched: its operator restarts it. Whatever was accepted but not yet committed waits in the
pipeline (the workers retry their batch) and is stored once the database answers again.
Every transition is logged: down (with the reason), each restart attempt, back up (with the
downtime).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import psycopg

from guetteur.store.embedded import EmbeddedPostgres

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 3.0
REASON_MAX_CHARS = 300


class DatabaseState(StrEnum):
    UP = "up"
    DOWN = "down"
    RESTARTING = "restarting"


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    """What health reports about the database."""

    state: DatabaseState
    since: datetime  # when it entered this state
    reason: str | None  # why it is not up (None when up)
    restarts: int  # embedded server restarts done by this process
    outages: int  # times it went away since start
    embedded: bool


def restart_delay(attempt: int, cap: float) -> float:
    """Seconds before restart attempt `attempt` (1, 2, 3 ...): 1 s, 2 s, 4 s ... at most `cap`."""
    return float(min(2.0 ** (attempt - 1), cap))


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:REASON_MAX_CHARS]


class DatabaseSupervisor:
    """Probes the database, restarts the embedded server, keeps the state health reports."""

    def __init__(self, dsn: str, embedded: EmbeddedPostgres | None, *, interval: float = 1.0,
                 backoff_max: float = 30.0) -> None:
        self.dsn = dsn
        self.embedded = embedded
        self.interval = interval
        self.backoff_max = backoff_max
        self._state = DatabaseState.UP
        self._since = datetime.now(UTC)
        self._down_at: float | None = None  # monotonic start of the current outage
        self._reason: str | None = None
        self._restarts = 0
        self._outages = 0
        self._attempts = 0  # restart attempts in the current outage
        self._next_restart = 0.0
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._changed = asyncio.Event()
        self._on_recovered: list[Callable[[], Awaitable[None]]] = []

    # -- what others read -----------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self._state is DatabaseState.UP

    def status(self) -> DatabaseStatus:
        return DatabaseStatus(self._state, self._since, self._reason, self._restarts, self._outages,
                              self.embedded is not None)

    def down_for(self) -> float:
        """Seconds since the database went away (0 while it is up)."""
        return 0.0 if self._down_at is None else time.monotonic() - self._down_at

    def retry_after(self) -> int:
        """Seconds a refused sender should wait: until the next restart attempt, at least 1."""
        if self.embedded is not None and self._next_restart:
            return max(1, min(int(self._next_restart - time.monotonic()) + 1, int(self.backoff_max)))
        return max(1, int(self.interval) + 1)

    def on_recovered(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` each time the database is back (e.g. drop the pool's dead connections)."""
        self._on_recovered.append(callback)

    async def wait_available(self, timeout: float) -> bool:
        """True once the database is up, False when `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while not self.available:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Probe once (so the state is right from the first request), then every `interval`."""
        await self.check()
        self._stopping = False
        self._task = asyncio.create_task(self._watch(), name="database-supervisor")

    async def stop(self) -> None:
        # The flag too, not only the cancellation: Python 3.11's `asyncio.wait_for` can swallow a
        # cancellation that lands as the probe it wraps finishes, and the watch then went on
        # probing for ever while `stop` waited for it (seen in CI: `guetteur up` never exited).
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()

    # -- the probe ------------------------------------------------------------------------

    async def check(self) -> None:
        """One probe, then the transition it implies (and a restart when one is due)."""
        reason = await self._probe()
        if reason is None:
            await self._mark_up()
            return
        self._mark_down(reason)
        if self.embedded is not None and self.embedded.running_pid() is None \
                and time.monotonic() >= self._next_restart:
            await self._restart()

    async def _watch(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.interval)
            if self._stopping:
                return
            try:
                await self.check()
            except Exception:  # a bug here must not stop the watch
                log.exception("database check failed")

    async def _probe(self) -> str | None:
        """None when the database answers, else why not."""
        if self.embedded is not None and self.embedded.running_pid() is None:
            await self._close()
            return f"embedded PostgreSQL ({self.embedded.pgdata}) is not running"
        try:
            conn = await self._connection()
            await asyncio.wait_for(conn.execute("SELECT 1"), PROBE_TIMEOUT_SECONDS)
        except (psycopg.Error, OSError, TimeoutError) as exc:
            await self._close()
            return f"cannot reach PostgreSQL: {_short(exc)}"
        return None

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        """The probe's connection, opened again when it was lost."""
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        await self._close()
        conn: psycopg.AsyncConnection[Any] = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(self.dsn, autocommit=True, connect_timeout=2,
                                            application_name="guetteur-supervisor"),
            PROBE_TIMEOUT_SECONDS)
        self._conn = conn
        return conn

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    # -- transitions ----------------------------------------------------------------------

    def _set(self, state: DatabaseState, reason: str | None) -> None:
        if state is not self._state:
            self._since = datetime.now(UTC)
        self._state = state
        self._reason = reason
        self._changed.set()

    def _mark_down(self, reason: str) -> None:
        if self._down_at is None:
            self._down_at = time.monotonic()
            self._outages += 1
            self._attempts = 0
            self._next_restart = self._down_at + self._backoff()
            log.error("database unavailable: %s", reason)
        elif reason != self._reason and self._state is DatabaseState.DOWN:
            log.warning("database still unavailable: %s", reason)
        if self._state is not DatabaseState.RESTARTING:
            self._set(DatabaseState.DOWN, reason)

    async def _mark_up(self) -> None:
        if self._down_at is None:
            if self._state is not DatabaseState.UP:
                self._set(DatabaseState.UP, None)
            return
        downtime = time.monotonic() - self._down_at
        self._down_at = None
        self._next_restart = 0.0
        self._set(DatabaseState.UP, None)
        log.warning("database available again after %.1fs", downtime)
        for callback in self._on_recovered:
            try:
                await callback()
            except Exception:
                log.exception("after the database came back")

    def _backoff(self) -> float:
        """Delay before the next restart attempt."""
        return restart_delay(self._attempts + 1, self.backoff_max)

    async def _restart(self) -> None:
        assert self.embedded is not None
        self._attempts += 1
        reason = self._reason or "postmaster gone"
        self._set(DatabaseState.RESTARTING, reason)
        log.warning("restarting embedded PostgreSQL (attempt %d)", self._attempts)
        started = time.monotonic()
        try:
            pid = await asyncio.to_thread(self.embedded.restart)
        except Exception as exc:
            self._next_restart = time.monotonic() + self._backoff()
            log.error("embedded PostgreSQL did not restart (%s); next attempt in %.0fs",
                      _short(exc), self._backoff())
            self._set(DatabaseState.DOWN, f"{reason}; restart attempt {self._attempts} failed: {_short(exc)}")
            return
        self._restarts += 1
        self._next_restart = time.monotonic() + self._backoff()
        log.warning("embedded PostgreSQL restarted (pid %d) in %.1fs", pid, time.monotonic() - started)
        self._set(DatabaseState.DOWN, f"{reason}; restarted, waiting for it to answer")
        if await self._probe() is None:
            await self._mark_up()
