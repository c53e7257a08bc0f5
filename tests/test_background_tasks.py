"""Background loops of `guetteur up` end when stopped, even when a cancellation is swallowed.

Python 3.11's `asyncio.wait_for` (used by psycopg's pool) can swallow a cancellation that lands as
the awaitable it wraps finishes. A loop that stopped by cancellation only then went on for ever,
and `guetteur up` waited for it on SIGTERM (seen in CI with the database supervisor). The same check for each loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from guetteur.config import Settings
from guetteur.runtime_settings import RuntimeSettings
from guetteur.store.retention import RetentionTask
from guetteur.store.supervisor import DatabaseSupervisor


def swallowing_once(entered: asyncio.Event, swallowed: list[bool], result: Any) -> Callable[..., Any]:
    """A coroutine function that swallows the first cancellation it gets, as wait_for may."""

    async def step(*_args: Any) -> Any:
        entered.set()
        try:
            await asyncio.sleep(0.5)
        except asyncio.CancelledError:
            if swallowed:  # once only, so a failing run still ends
                raise
            swallowed.append(True)
        return result

    return step


async def stopped_in_time(stop: Callable[[], Any], entered: asyncio.Event, swallowed: list[bool]) -> bool:
    await asyncio.wait_for(entered.wait(), 30)
    stopping = asyncio.create_task(stop())
    done, _ = await asyncio.wait({stopping}, timeout=30)  # waits without cancelling `stop`
    return bool(swallowed) and stopping in done


async def test_the_settings_refresh_ends_when_a_load_swallows_its_cancellation() -> None:
    runtime = RuntimeSettings(Settings(), interval=0.01)
    entered, swallowed = asyncio.Event(), list[bool]()
    await runtime.start(pool=None)  # its first load fails (no pool): the file's values stay
    runtime.load = swallowing_once(entered, swallowed, False)  # type: ignore[method-assign]
    assert await stopped_in_time(runtime.stop, entered, swallowed), "the refresh outlived its cancellation"
    assert runtime._task is None


async def test_the_retention_loop_ends_when_a_run_swallows_its_cancellation() -> None:
    # a long interval: the loop must not sleep it out after the run it was stopped in
    task = RetentionTask("host=/nonexistent-guetteur-socket dbname=none", Settings(), interval=3600)
    entered, swallowed = asyncio.Event(), list[bool]()
    task.run_once = swallowing_once(entered, swallowed, None)  # type: ignore[method-assign]
    await task.start()
    assert await stopped_in_time(task.stop, entered, swallowed), "the retention loop outlived its cancellation"
    assert task._task is None


async def test_the_database_watch_ends_when_a_probe_swallows_its_cancellation() -> None:
    supervisor = DatabaseSupervisor("host=/nonexistent-guetteur-socket dbname=none", None, interval=0.01)
    await supervisor.start()
    entered, swallowed = asyncio.Event(), list[bool]()
    supervisor.check = swallowing_once(entered, swallowed, None)  # type: ignore[method-assign]
    assert await stopped_in_time(supervisor.stop, entered, swallowed), "the watch outlived its cancellation"
    assert supervisor._task is None
