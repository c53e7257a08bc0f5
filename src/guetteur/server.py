"""`guetteur up`: the database, the pipeline, the listeners and the API in one process tree.

Start order: database (embedded or external) and migrations, the read pool and the
database supervisor, parser workers, the sources, the API. Stop order (SIGTERM/SIGINT) is
the reverse for inputs: the sources and the API stop accepting, then the pipeline stores
everything it accepted, then the database stops. Nothing accepted is lost on a clean stop.

While the database is away the supervisor restarts it (embedded) or waits for it
(external), and a stop waits for it at most `store.shutdown_wait` seconds from the stop
request: if it is still away then, the workers are killed (their transactions roll back),
and `serve` raises `ShutdownIncomplete` saying how many accepted records were not stored
(none of them was acknowledged: an acknowledgement means committed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from guetteur.api.app import create_app
from guetteur.api.connections import guarded_h11_protocol
from guetteur.api.state import AppState
from guetteur.api.unavailable import DATABASE_ERRORS
from guetteur.collect.source import build_sources, describe_sources
from guetteur.config import Settings
from guetteur.errors import StoreError
from guetteur.parse.context import configure as configure_parsers
from guetteur.pipeline.runtime import Pipeline
from guetteur.runtime_settings import RuntimeSettings
from guetteur.store.database import app_dsn, resolve_dsn
from guetteur.store.migrate import migrate
from guetteur.store.pool import open_pool
from guetteur.store.supervisor import DatabaseSupervisor
from guetteur.tls import api_tls_options, fingerprint

log = logging.getLogger(__name__)

STOP_POLL_SECONDS = 0.5


class ShutdownIncomplete(StoreError):
    """The database stayed away past `store.shutdown_wait` during a stop: `not_stored`
    accepted records were not stored (and so never acknowledged)."""

    not_stored = 0

    @classmethod
    def after(cls, not_stored: int, waited: float, reason: str | None) -> ShutdownIncomplete:
        error = cls(
            f"stopped without storing {not_stored} accepted record(s): the database was still unavailable "
            f"{waited:.0f}s into the stop (store.shutdown_wait){f'; last error: {reason}' if reason else ''}. "
            "They were not acknowledged (HTTP ingest answers 202 only once committed; syslog has no "
            "acknowledgement): senders that keep what was not acknowledged will send them again")
        error.not_stored = not_stored
        return error


class _ApiServer(uvicorn.Server):
    """uvicorn without its own signal handlers: `serve()` owns SIGTERM/SIGINT and stops
    the API itself, after the inputs, in the order that loses nothing."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[dict[str, Any]], Awaitable[None] | None] | None = None,
    demo: bool = False,
    demo_mail: bool = False,
    handle_signals: bool = True,
) -> dict[str, Any]:
    """Run Guetteur until `stop` is set or SIGTERM/SIGINT; returns the final health counters."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)

    configure_parsers(settings.parse)
    owner_dsn, embedded = await asyncio.to_thread(resolve_dsn, settings)
    try:
        applied = await asyncio.to_thread(migrate, owner_dsn)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        await _first_admin(owner_dsn)
        dsn = app_dsn(owner_dsn)
        pool = await open_pool(dsn, max_size=settings.store.pool_size)
        database = DatabaseSupervisor(dsn, embedded, interval=settings.store.check_interval,
                                      backoff_max=settings.store.restart_backoff_max)
        database.on_recovered(pool.check)  # drop the idle connections that died with the server
        await database.start()
        pipeline = Pipeline(settings, dsn)
        try:
            await pipeline.start(pool)
        except BaseException:
            await database.stop()
            await pool.close()
            raise
        runtime = RuntimeSettings(settings)  # the sections changed from the console, re-read every few seconds
        await runtime.start(pool)
        runtime.on_change(lambda current: pipeline.statistics.use_settings(current.stats)
                          if pipeline.statistics is not None else None)
        alerts = await _start_alerts(settings, pool, dsn, runtime)
        risk = await _start_risk(settings, pool, runtime)
        rollup = await _start_rollup(settings, pool)
        retention = await _start_retention(settings, owner_dsn, runtime, pool)
        notifications = await _start_notifications(settings, pool, dsn, owner_dsn, demo_mail=demo and demo_mail)
        sources = build_sources(settings, pipeline)
        api_task: asyncio.Task[None] | None = None
        demo_task: asyncio.Task[Any] | None = None
        server: uvicorn.Server | None = None
        stop_requested: float | None = None
        incomplete: ShutdownIncomplete | None = None
        try:
            for source in sources:
                await source.start()
            state = AppState(settings=settings, pipeline=pipeline, pool=pool, sources=sources, database=database)
            state.notifier = notifications.notifier
            state.alerts = alerts
            state.runtime = runtime
            state.retention = retention
            https = api_tls_options(settings)  # {} when the API serves plain HTTP
            config = uvicorn.Config(create_app(state), host=settings.api.host, port=settings.api.port,
                                    log_level="warning", lifespan="off", access_log=False,
                                    http=guarded_h11_protocol(settings.api), **https)
            server = _ApiServer(config)
            api_task = asyncio.create_task(server.serve(), name="api")
            while not server.started:
                if api_task.done():
                    api_task.result()  # raises the bind error
                    raise RuntimeError("API server stopped during start-up")
                await asyncio.sleep(0.05)
            info = {
                "api": f"{'https' if https else 'http'}://{settings.api.host}:{settings.api.port}",
                **({"api_sha256": fingerprint(Path(https["ssl_certfile"]))} if https else {}),
                **describe_sources(sources),
                "database": "embedded" if embedded else "external",
            }
            log.info("Guetteur is up: %s", ", ".join(f"{key} {value}" for key, value in info.items()))
            if demo:
                demo_task = asyncio.create_task(_run_demo(settings, owner_dsn, info, stop), name="demo")
            if on_ready is not None:
                result = on_ready(info)
                if asyncio.iscoroutine(result):
                    await result
            await stop.wait()
            stop_requested = time.monotonic()
            log.info("stopping: no new input; storing what was accepted")
        finally:
            if stop_requested is None:
                stop_requested = time.monotonic()
            if demo_task is not None:
                demo_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await demo_task
            for source in reversed(sources):
                with contextlib.suppress(Exception):
                    await source.stop()
            if server is not None and api_task is not None:
                server.should_exit = True
                with contextlib.suppress(Exception):
                    await api_task
            try:
                incomplete = await _stop_pipeline(pipeline, database, stop_requested, settings.store.shutdown_wait)
            finally:
                if alerts is not None:
                    await alerts.stop()  # after the pipeline: the hits of its last batches become alerts
                if risk is not None:
                    await risk.stop()  # mid-round work rolls back and is done again at the next start
                if rollup is not None:
                    await rollup.stop()
                await retention.stop()  # a drop cut short rolls back whole; the next start does it again
                await notifications.stop()  # what it did not deliver stays in the outbox for the next start
                await runtime.stop()
                await pool.close()
                await database.stop()
        if incomplete is not None:
            raise incomplete
        final = pipeline.health()
        log.info("stopped; totals %s", json.dumps(final["totals"]))
        return final
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def _stop_pipeline(pipeline: Pipeline, database: DatabaseSupervisor, stop_requested: float,
                         wait: float) -> ShutdownIncomplete | None:
    """`pipeline.stop()`, which stores everything accepted, bounded while the database is away:
    None once it finished; once the database has been unavailable for `wait` seconds since
    the later of the stop request and the outage start, kill the workers and say what was lost."""
    stopping = asyncio.create_task(pipeline.stop(), name="pipeline-stop")
    announced = False
    while True:
        done, _ = await asyncio.wait({stopping}, timeout=STOP_POLL_SECONDS)
        if done:
            try:
                stopping.result()
            except DATABASE_ERRORS as exc:  # everything was stored; the last correlation snapshot was not
                log.error("stopped with every accepted record stored, but the correlation windows were not "
                          "saved (database unavailable: %s)", exc)
            return None
        if database.available:
            continue
        waited = min(database.down_for(), time.monotonic() - stop_requested)
        if not announced:
            log.warning("stopping while the database is unavailable (%s): waiting up to %.0fs for it",
                        database.status().reason, wait)
            announced = True
        if waited < wait:
            continue
        queues = pipeline.health()["queues"]
        not_stored = int(queues.get("buffer", 0)) + int(queues.get("in_workers", 0))
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await stopping
        pipeline.kill_workers()
        return ShutdownIncomplete.after(not_stored, waited, database.status().reason)


async def _start_alerts(settings: Settings, pool: Any, dsn: str, runtime: RuntimeSettings) -> Any:
    """The alert manager (`alert/manager.py`), started; None when `alert.enabled` is off."""
    if not settings.alert.enabled:
        return None
    from guetteur.alert.manager import AlertManager, risk_function

    manager = AlertManager(settings.alert, pool, dsn, risk_of=risk_function(settings, runtime))
    await manager.start()
    return manager


async def _start_risk(settings: Settings, pool: Any, runtime: RuntimeSettings) -> Any:
    """The risk scorer (`alert/risk_scorer.py`), started; None when alerts or `risk.enabled` are off."""
    if not (settings.alert.enabled and settings.risk.enabled):
        return None
    from guetteur.alert.risk_scorer import RiskScorer

    scorer = RiskScorer(settings.risk, pool, runtime=runtime)
    await scorer.start()
    return scorer



async def _start_rollup(settings: Settings, pool: Any) -> Any:
    """The per-minute counts' task (`search/rollups.py`), started; None when
    `search.rollup_interval` is 0."""
    if not settings.search.rollup_interval:
        return None
    from guetteur.search.rollups import RollupTask

    task = RollupTask(pool, settings.search.rollup_interval)
    await task.start()
    return task


async def _start_retention(settings: Settings, owner_dsn: str, runtime: RuntimeSettings, pool: Any) -> Any:
    """The retention task (`store/retention.py`): a run now, then hourly, with the owner's
    connection (the application role cannot delete events); the settings in force each time."""
    from guetteur.store.retention import RetentionTask

    task = RetentionTask(owner_dsn, settings, runtime=runtime, pool=pool)
    await task.start()
    return task


async def _start_notifications(settings: Settings, pool: Any, dsn: str, owner_dsn: str, *, demo_mail: bool) -> Any:
    """The notifier (`notify/service.py`) and, with `--demo --mail`, the demo mailbox."""
    from guetteur.notify.runtime import start_notifications

    return await start_notifications(settings, pool, dsn, owner_dsn, demo_mail=demo_mail)


async def _first_admin(owner_dsn: str) -> None:
    """No admin yet (first start): create one and print its password once."""
    from guetteur.auth.first_admin import ensure_first_admin

    created = await asyncio.to_thread(ensure_first_admin, owner_dsn)
    if created is not None:
        name, password = created
        print(f"No administrator existed: created user {name!r} with the password below. It is shown only this\n"
              f"once: log in and change it (an admin must also enable TOTP).\n  user:     {name}\n"
              f"  password: {password}", flush=True)


def demo_key(owner_dsn: str, name: str = "demo") -> str:
    """A fresh ingest key for a demo sender (the previous key of that name is revoked).
    `up --demo` and the `demo` command use different names, so one never revokes the other's."""
    from guetteur.store.keys import create_key, revoke_key

    revoke_key(owner_dsn, name)
    return create_key(owner_dsn, name, "ingest")


def reachable(host: str) -> str:
    """The address a local client uses for a listener bound to `host`."""
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


async def _run_demo(settings: Settings, owner_dsn: str, info: dict[str, Any], stop: asyncio.Event) -> None:
    from guetteur.demo import run_demo

    key = await asyncio.to_thread(demo_key, owner_dsn)
    await run_demo(syslog_host=reachable(settings.syslog.host), syslog_port=int(info["syslog_tcp"]),
                   syslog_udp_port=int(info["syslog_udp"]),
                   http_url=f"http://{reachable(settings.api.host)}:{settings.api.port}", api_key=key, stop=stop)
