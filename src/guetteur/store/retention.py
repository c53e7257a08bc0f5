"""Retention: deleting what is older than the retention settings (GDPR), for real.

Three cuts, each by a SECURITY DEFINER function of migration 0785 run with the database
OWNER's connection (the application role cannot call them, nor delete an event):

- events (`retention.events_days`): whole day partitions `events_YYYYMMDD` strictly older than
  today (UTC) - N days are dropped, one partition per transaction (dropping one locks `events`
  for a moment; with `lock_timeout` the run gives up rather than hold the writers back, and
  the next run continues). Their `batches` rows stay, so `guetteur verify` still checks every
  chain link; each drop is recorded in `retention_log` with the rows and batches the day held
  and the chain hash of its newest batch, which is how `verify` tells a day cut by retention
  from rows that vanished (chain.py). The day's per-minute counts (`event_rollup`) go with it.
- hits (`retention.hits_days`): detection hits created more than N days ago.
- alerts (`retention.alerts_days`): CLOSED alerts last changed more than N days ago, with their
  history, hit links and risk rows. Open and acknowledged alerts stay, however old.

0 days = keep forever: that cut is not run. `run_retention` does one run (bounded: at most
`MAX_PARTITIONS` partitions, `HIT_ROUNDS` x `HIT_LIMIT` hits, `ALERT_ROUNDS` x `ALERT_LIMIT`
alerts; the rest at the next run); with `dry_run` it only counts. A run that deleted something
writes one audit entry (`retention.run`). `RetentionTask` is the task of `guetteur up`: a run at
start, then every hour, with the retention settings in force (the console's over the file's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from guetteur.config import RetentionSettings, Settings
from guetteur.store.audit import AuditEntry, append_sync
from guetteur.store.failures import one_row
from guetteur.store.settings import read_sections_sync

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 3600.0
BUSY_RETRY_SECONDS = 300.0  # a run that found `events` busy tries again this soon
LOCK_TIMEOUT_MS = 3000
MAX_PARTITIONS = 400
HIT_LIMIT = 100_000
HIT_ROUNDS = 50
ALERT_LIMIT = 10_000
ALERT_ROUNDS = 50


@dataclass(slots=True)
class Cut:
    """What one kind of data lost (or would lose, in a dry run) in one run."""

    kind: str
    days: int
    cutoff: str  # ISO date (events) or time (hits, alerts): what is older goes
    deleted: int = 0  # events: rows of the dropped partitions' batches; hits; alerts
    partitions: list[str] = field(default_factory=list)
    batches: int = 0
    complete: bool = True  # False: more is left for the next run


@dataclass(slots=True)
class RetentionReport:
    started_at: datetime
    actor: str
    dry_run: bool
    settings: dict[str, int]
    cuts: list[Cut] = field(default_factory=list)
    finished_at: datetime | None = None
    error: str | None = None

    @property
    def deleted_anything(self) -> bool:
        return not self.dry_run and any(c.deleted or c.partitions for c in self.cuts)

    def cut(self, kind: str) -> Cut | None:
        return next((c for c in self.cuts if c.kind == kind), None)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """What the command line prints."""
        verb = "would delete" if self.dry_run else "deleted"
        out: list[str] = []
        for kind, days in self.settings.items():
            cut = self.cut(kind)
            if days == 0:
                out.append(f"{kind}: kept forever (retention.{kind}_days = 0)")
            elif cut is None:
                out.append(f"{kind}: not run ({self.error})")
            elif kind == "events":
                names = (f" ({cut.partitions[0]} .. {cut.partitions[-1]})" if len(cut.partitions) > 1
                         else f" ({cut.partitions[0]})" if cut.partitions else "")
                out.append(f"events: {verb} {len(cut.partitions)} day partition(s) before {cut.cutoff}{names}: "
                           f"{cut.deleted} events in {cut.batches} batches"
                           + ("" if cut.complete else "; more at the next run"))
            else:
                what = "hits" if kind == "hits" else "closed alerts"
                out.append(f"{kind}: {verb} {cut.deleted} {what} older than {cut.cutoff}"
                           + ("" if cut.complete else "; more at the next run"))
        if self.error:
            out.append(f"error: {self.error}")
        return out


def effective_retention(conn: psycopg.Connection, settings: Settings) -> RetentionSettings:
    """The retention in force: the console's saved section (runtime_settings) over the file's."""
    from guetteur.runtime_settings import effective_settings

    return effective_settings(settings, read_sections_sync(conn)).retention


def run_retention(dsn: str, retention: RetentionSettings, *, actor: str, dry_run: bool = False,
                  lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> RetentionReport:
    """One retention run with the owner's `dsn` (see the module docstring)."""
    report = RetentionReport(datetime.now(UTC), actor, dry_run,
                             {"events": retention.events_days, "hits": retention.hits_days,
                              "alerts": retention.alerts_days})
    try:
        with psycopg.connect(dsn, autocommit=True, application_name="guetteur-retention") as conn:
            if retention.events_days:
                report.cuts.append(_events(conn, retention.events_days, actor, dry_run, lock_timeout_ms, report))
            if retention.hits_days:
                report.cuts.append(_rows(conn, "hits", retention.hits_days, actor, dry_run, HIT_LIMIT, HIT_ROUNDS))
            if retention.alerts_days:
                report.cuts.append(_rows(conn, "alerts", retention.alerts_days, actor, dry_run, ALERT_LIMIT,
                                         ALERT_ROUNDS))
    except psycopg.Error as exc:
        report.error = f"{type(exc).__name__}: {exc}".strip()
        log.warning("retention run stopped: %s", report.error)
    report.finished_at = datetime.now(UTC)
    if report.deleted_anything:
        detail: dict[str, Any] = {c.kind: c.deleted for c in report.cuts}
        events = report.cut("events")
        if events is not None:
            detail["partitions"] = len(events.partitions)
        with contextlib.suppress(psycopg.Error):  # the deletion stands; the run's log lines say it
            append_sync(dsn, AuditEntry(actor, "retention.run", "failure" if report.error else "success",
                                        target="store", detail=detail))
    return report


def _events(conn: psycopg.Connection, days: int, actor: str, dry_run: bool, lock_timeout_ms: int,
            report: RetentionReport) -> Cut:
    cut = Cut("events", days, "")
    for _ in range(MAX_PARTITIONS):
        try:
            with conn.transaction():
                if lock_timeout_ms > 0:
                    conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{lock_timeout_ms}ms",))
                row = one_row(conn.execute(
                    "SELECT cutoff, partitions, rows_deleted, batches, more"
                    " FROM guetteur_retention_events(%s, %s, %s, %s)",
                    (days, MAX_PARTITIONS if dry_run else 1, actor, dry_run)).fetchone(), "guetteur_retention_events")
                if not dry_run:  # the message texts of the days dropped (migration 0790) go with them
                    conn.execute("SELECT guetteur_pair_text_partitions()")
        except psycopg.errors.LockNotAvailable:
            cut.complete = False
            report.error = "the events table was busy (lock timeout): the rest at the next run"
            break
        cutoff: date = row[0]
        cut.cutoff = cutoff.isoformat()
        cut.partitions.extend(row[1])
        cut.deleted += int(row[2])
        cut.batches += int(row[3])
        cut.complete = not row[4]
        if dry_run or not row[4]:
            break
    if cut.partitions and not dry_run:
        log.info("retention: dropped %s event partition(s) before %s (%s events)", len(cut.partitions),
                 cut.cutoff, cut.deleted)
    return cut


def _rows(conn: psycopg.Connection, kind: str, days: int, actor: str, dry_run: bool, limit: int,
          rounds: int) -> Cut:
    function = {"hits": "SELECT cutoff, rows_deleted, more FROM guetteur_retention_hits(%s, %s, %s, %s)",
                "alerts": "SELECT cutoff, rows_deleted, more FROM guetteur_retention_alerts(%s, %s, %s, %s)"}[kind]
    cut = Cut(kind, days, "")
    for _ in range(rounds):
        with conn.transaction():
            row = one_row(conn.execute(function, (days, limit, actor, dry_run)).fetchone(), kind)
        cut.cutoff = row[0].astimezone(UTC).isoformat(timespec="seconds")
        cut.deleted += int(row[1])
        cut.complete = not row[2]
        if not row[2]:
            break
    if cut.deleted and not dry_run:
        log.info("retention: deleted %s %s older than %s", cut.deleted, kind, cut.cutoff)
    return cut


class RetentionTask:
    """The retention of `guetteur up`: a run at start, then every `interval` seconds (sooner when
    `events` was busy), each with the retention settings in force at that moment."""

    def __init__(self, owner_dsn: str, settings: Settings, runtime: Any = None, pool: Any = None,
                 interval: float = INTERVAL_SECONDS) -> None:
        self.owner_dsn = owner_dsn
        self.settings = settings
        self.runtime = runtime  # guetteur.runtime_settings.RuntimeSettings
        self.pool = pool
        self.interval = interval
        self.runs = 0
        self.last: RetentionReport | None = None
        self.next_run: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def retention(self) -> RetentionSettings:
        current: Settings = self.runtime.current if self.runtime is not None else self.settings
        return current.retention

    async def run_once(self) -> RetentionReport:
        if self.runtime is not None and self.pool is not None:
            with contextlib.suppress(Exception):  # the database may be away: the values in force apply
                await self.runtime.load(self.pool)
        report = await asyncio.to_thread(run_retention, self.owner_dsn, self.retention(), actor="retention")
        self.runs += 1
        self.last = report
        return report

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="retention")

    async def stop(self) -> None:
        self._stopping = True  # as in `store.supervisor`: a cancellation can be swallowed
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._task = None

    async def _loop(self) -> None:
        while not self._stopping:
            wait = self.interval
            try:
                report = await self.run_once()
                if report.error and any(not c.complete for c in report.cuts):
                    wait = min(self.interval, BUSY_RETRY_SECONDS)
            except Exception:  # a bug must not stop the next runs
                log.exception("retention run failed")
            if self._stopping:  # stopped during the run: not after a whole interval's sleep
                return
            self.next_run = datetime.now(UTC) + timedelta(seconds=wait)
            await asyncio.sleep(wait)

    def health(self) -> dict[str, Any]:
        last = self.last
        return {
            "settings": self.retention().model_dump(),
            "interval_seconds": self.interval,
            "runs": self.runs,
            "next_run": self.next_run,
            "last_run": None if last is None else summary(last),
        }


def summary(report: RetentionReport) -> dict[str, Any]:
    """A run in a few numbers (health details, the settings page)."""
    events = report.cut("events")
    hits = report.cut("hits")
    alerts = report.cut("alerts")
    return {
        "started_at": report.started_at,
        "finished_at": report.finished_at,
        "event_partitions": len(events.partitions) if events else 0,
        "events": events.deleted if events else 0,
        "hits": hits.deleted if hits else 0,
        "alerts": alerts.deleted if alerts else 0,
        "complete": all(c.complete for c in report.cuts),
        "error": report.error,
    }
