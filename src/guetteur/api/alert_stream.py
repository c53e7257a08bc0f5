"""New and changed alerts for the live stream (`api/stream.py`): the alert history read by id.

History ids are given at insert and committed out of order (the alert manager and analysts
write concurrently), so an id missing below the highest one read is a *gap*: read again for
`GAP_SECONDS` before it is given up. A NOTIFY on `guetteur_alerts` (the manager sends one per
created or escalated alert) wakes the hub at once instead of at its next second.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import psycopg
from psycopg import sql

from guetteur.store.alert_queries import alert_changes, last_alert_change
from guetteur.store.alerts import CHANNEL

MAX_CHANGES = 1000
GAP_SECONDS = 10.0
MAX_GAPS = 10_000


class AlertChanges:
    def __init__(self) -> None:
        self._last: int | None = None
        self._gaps: dict[int, float] = {}

    def reset(self) -> None:
        self._last, self._gaps = None, {}

    async def read(self, conn: psycopg.AsyncConnection[Any]) -> list[bytes]:
        """The stream messages of the alert changes committed since the last read (none at the first)."""
        if self._last is None:
            self._last = await last_alert_change(conn)
            return []
        rows = await alert_changes(conn, self._last, sorted(self._gaps), MAX_CHANGES)
        now = time.monotonic()
        for row in rows:
            self._gaps.pop(row["change"], None)
        above = [row["change"] for row in rows if row["change"] > self._last]
        if above:
            present = set(above)
            for missing in range(self._last + 1, above[-1]):
                if missing not in present and len(self._gaps) < MAX_GAPS:
                    self._gaps.setdefault(missing, now)
            self._last = above[-1]
        for missing in [g for g, seen in self._gaps.items() if now - seen > GAP_SECONDS]:
            del self._gaps[missing]
        return [orjson.dumps({"type": "alert", **row}) for row in rows]


async def wake_on_alerts(conninfo: str, wake: asyncio.Event) -> None:
    """Set `wake` on every NOTIFY of the alert manager, until cancelled (reconnects meanwhile)."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                async for _ in conn.notifies():
                    wake.set()
        except (psycopg.Error, OSError):
            pass
        await asyncio.sleep(1.0)
