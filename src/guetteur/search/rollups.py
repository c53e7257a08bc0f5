"""The task of `guetteur up` that keeps the per-minute counts (`event_rollup`, migration 0780)
up to date: rounds of `store.rollup.aroll_up` (the next committed batches, in chain order),
every `search.rollup_interval` seconds, at once again while batches are waiting. It reads rows
the writers have committed, never inside their transactions; a round that fails rolls back
whole and is retried (alert/rounds.py)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from guetteur.alert.rounds import run_rounds
from guetteur.store.rollup import aroll_up

BATCHES_PER_ROUND = 200


class RollupTask:
    def __init__(self, pool: Any, interval: float) -> None:
        self.pool = pool
        self.interval = interval
        self.rounds = 0
        self.batches = 0
        self.last_error: str | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_round(self) -> int:
        async with self.pool.connection() as conn:
            done = await aroll_up(conn, BATCHES_PER_ROUND)
        self.rounds += 1
        self.batches += done
        return done

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(
            run_rounds(self, "event rollup", self.run_round, BATCHES_PER_ROUND, self.interval), name="event-rollup")

    async def stop(self) -> None:
        """Stop; a round cut short rolls back and is done again at the next start."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._task = None

    def health(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "batches": self.batches, "last_error": self.last_error}
