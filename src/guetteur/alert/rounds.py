"""The loop of alerting's background tasks (the alert manager, the risk scorer): rounds until
stopped. A full round runs the next one at once; otherwise the task waits for a wake-up or the
poll interval. When the database is away the round rolled back whole: retried after
`RETRY_SECONDS`, the error kept for the health details. An unexpected error is logged with its
traceback and retried too: the task never dies silently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import psycopg

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


class RoundTask(Protocol):
    last_error: str | None
    _stopping: bool
    _wake: asyncio.Event


async def run_rounds(task: RoundTask, label: str, run_round: Callable[[], Awaitable[int]], full: int,
                     interval: float) -> None:
    """Run `run_round` (returns how many items it did; `full` of them means more are waiting)
    until `task._stopping`."""
    while not task._stopping:
        task._wake.clear()
        try:
            done = await run_round()
            task.last_error = None
        except (psycopg.Error, OSError) as exc:  # the database went away: the round rolled back
            task.last_error = str(exc)
            log.warning("%s: %s; retrying", label, exc)
            await asyncio.sleep(RETRY_SECONDS)
            continue
        except Exception as exc:  # pragma: no cover - never die silently
            task.last_error = repr(exc)
            log.exception("%s round failed", label)
            await asyncio.sleep(RETRY_SECONDS)
            continue
        if done >= full or task._stopping:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task._wake.wait(), interval)
