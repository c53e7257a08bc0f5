"""The notifier: one asyncio task in the main process (started and stopped by `server.py`).

Each round (woken by `NOTIFY guetteur_alerts` from the alert manager, or every
`notify.poll_interval` seconds when a notification is lost):
1. route: read `created`/`escalated` alert changes past the cursor, route them, write the
   outbox and held rows and advance the cursor in one transaction (`store.notify.route_batch`);
   due digests and throttle summaries become outbox rows in the same transaction;
2. deliver: send the due outbox rows (`notify.concurrency` at once, each bounded by
   `notify.timeout`); a failure is retried with exponential backoff
   (`retry_base` * 2^tries, at most `retry_max`) and dead-lettered after `max_attempts` tries
   or at once when it cannot succeed (SMTP 5xx, HTTP 4xx).
The detection path never waits on this task: it only reads what the alert manager committed.
`step(now)` and `deliver_due(now)` take the time, so tests drive digests, throttling and
retries without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from guetteur.config import Settings
from guetteur.errors import ConfigError, StoreUnavailable
from guetteur.notify.email import send_email
from guetteur.notify.message import Language, Message, render_alert, render_held, render_test
from guetteur.notify.model import AlertChange, Channel, DeliveryFailed, Route
from guetteur.notify.routing import Router, RoutingState
from guetteur.notify.secrets import unseal
from guetteur.notify.webhook import send_webhook
from guetteur.store.notify import (
    ChannelRow,
    OutboxRow,
    due_outbox,
    forget_sent,
    mark_failed,
    mark_sent,
    outbox_counts,
    route_batch,
)

log = logging.getLogger(__name__)

WAKE_CHANNEL = "guetteur_alerts"
DATABASE_ERRORS = (psycopg.OperationalError, PoolTimeout, StoreUnavailable)
SENT_KEPT = timedelta(days=30)  # sent messages stay listed this long
FORGET_EVERY = 3600.0  # seconds between two deletions of old sent messages


def console_url(settings: Settings) -> str:
    if settings.notify.console_url:
        return settings.notify.console_url.rstrip("/")
    host = settings.api.host
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{settings.api.port}"


def retry_delay(settings: Settings, attempts: int) -> float:
    """Seconds before the next try after `attempts` failed tries (1, 2, ...)."""
    return float(min(settings.notify.retry_base * 2 ** max(0, attempts - 1), settings.notify.retry_max))


class Notifier:
    def __init__(self, settings: Settings, pool: Any, dsn: str | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.dsn = dsn  # for LISTEN (None: poll only)
        self.console_url = console_url(settings)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.counters = {"routed": 0, "sent": 0, "failed_tries": 0, "dead_lettered": 0}
        self.outbox: dict[str, Any] = {"pending": 0, "dead": 0, "oldest_pending_seconds": None,
                                       "dead_by_channel": {}}
        self.last_error: str | None = None
        self._alerts_missing_logged = False
        self._forgotten_at = 0.0

    # --- one round, with the time passed in -------------------------------------------------

    async def step(self, now: datetime) -> int:
        """Route every change past the cursor (batch by batch) and flush due held messages;
        returns the number of changes routed."""
        notify = self.settings.notify
        total = 0
        while True:
            def route(changes: list[AlertChange], state: RoutingState, enabled: dict[int, int | None],
                      routes: list[Route]) -> None:
                Router(routes, enabled, throttle_limit=notify.throttle_limit, throttle_window=notify.throttle_window,
                       sample=notify.summary_sample).route(changes, state, now)

            try:
                read = await route_batch(self.pool, now, notify.batch_size, route)
            except psycopg.errors.UndefinedTable:
                if not self._alerts_missing_logged:
                    log.warning("notifications: the alert tables do not exist yet; nothing to route")
                    self._alerts_missing_logged = True
                return total
            total += read
            self.counters["routed"] += read
            if read < notify.batch_size:
                return total

    async def deliver_due(self, now: datetime) -> int:
        """Try every due outbox row once (bounded concurrency); returns how many were tried."""
        notify = self.settings.notify
        tried = 0
        while True:
            due = await due_outbox(self.pool, now, notify.concurrency)
            if not due:
                return tried
            await asyncio.gather(*(self._deliver_one(row, channel, now) for row, channel in due))
            tried += len(due)
            if len(due) < notify.concurrency:
                return tried

    async def _deliver_one(self, row: OutboxRow, channel_row: ChannelRow, now: datetime) -> None:
        notify = self.settings.notify
        try:
            await self.send(channel_row, self.message(row.kind, row.payload, self.language(channel_row)))
        except DeliveryFailed as exc:
            attempts = row.attempts + 1
            dead = not exc.recoverable or attempts >= notify.max_attempts
            retry_at = None if dead else now + timedelta(seconds=retry_delay(self.settings, attempts))
            await mark_failed(self.pool, row.id, str(exc), retry_at)
            self.counters["failed_tries"] += 1
            self.last_error = f"{channel_row.name}: {exc}"
            if dead:
                self.counters["dead_lettered"] += 1
                log.error("notification %s to channel %s dead-lettered after %d tries: %s", row.id,
                          channel_row.name, attempts, exc)
            else:
                log.warning("notification %s to channel %s failed (try %d), retry at %s: %s", row.id,
                            channel_row.name, attempts, retry_at, exc)
            return
        await mark_sent(self.pool, row.id, now)
        self.counters["sent"] += 1

    # --- messages and channels --------------------------------------------------------------

    def language(self, channel: ChannelRow) -> Language:
        lang = channel.config.get("language") or self.settings.notify.language
        return "fr" if lang == "fr" else "en"

    def message(self, kind: str, payload: dict[str, Any], language: Language) -> Message:
        if kind == "alert":
            return render_alert(AlertChange.from_json(payload["alert"]), language, self.console_url)
        return render_held("digest" if kind == "digest" else "summary", payload, language, self.console_url)

    async def send(self, channel_row: ChannelRow, message: Message) -> str:
        """Deliver one message to one channel (raises DeliveryFailed)."""
        notify = self.settings.notify
        try:
            secrets = unseal(self.settings.data_dir, channel_row.secret)
        except ConfigError as exc:
            raise DeliveryFailed(str(exc), recoverable=False) from exc
        channel = Channel(channel_row.id, channel_row.name, "email" if channel_row.kind == "email" else "webhook",
                          channel_row.config, secrets, channel_row.enabled)
        if channel.kind == "email":
            return await send_email(channel, message, notify.timeout)
        return await send_webhook(channel, message, notify.timeout, notify.max_response_bytes)

    async def send_test(self, channel_row: ChannelRow) -> str:
        """A test message to one channel, now (raises DeliveryFailed)."""
        return await self.send(channel_row, render_test(channel_row.name, self.language(channel_row),
                                                        self.console_url))

    # --- the task ---------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {"enabled": self.settings.notify.enabled, **self.outbox, **self.counters,
                "last_error": self.last_error}

    async def refresh_health(self, now: datetime) -> None:
        self.outbox = await outbox_counts(self.pool, now)

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run(), name="notifier"))
        if self.dsn is not None:
            self._tasks.append(asyncio.create_task(self._listen(), name="notifier-listen"))

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _run(self) -> None:
        while not self._stopping:
            now = datetime.now(UTC)
            try:
                await self.step(now)
                await self.deliver_due(now)
                await self.refresh_health(now)
                if time.monotonic() - self._forgotten_at > FORGET_EVERY:
                    await forget_sent(self.pool, now - SENT_KEPT)
                    self._forgotten_at = time.monotonic()
            except DATABASE_ERRORS as exc:
                log.warning("notifications paused: database unavailable (%s)", exc)
            except Exception:  # a bug must not end notifications for good: log it, try again next round
                log.exception("notification round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.notify.poll_interval)
            self._wake.clear()

    async def _listen(self) -> None:
        """Wake the round on each `NOTIFY guetteur_alerts`; reconnect after errors."""
        assert self.dsn is not None
        while not self._stopping:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {WAKE_CHANNEL}")
                    async for _ in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the poll covers the gap; try again shortly
                log.debug("notification listener: %s", exc)
            await asyncio.sleep(self.settings.notify.poll_interval)
