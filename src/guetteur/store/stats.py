"""The statistical detectors' saved state (table `stats_state`, migration 0730).

One row per part (`frequency`, `sources`, `first_seen:<rule id>`), its orjson snapshot
replaced on each save. Parameterised statements only; the caller owns the transaction unless
the connection is in autocommit mode.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

_UPSERT = (
    "INSERT INTO stats_state (part, version, saved_at, entries, data) VALUES (%s, %s, now(), %s, %s)"
    " ON CONFLICT (part) DO UPDATE SET version = excluded.version, saved_at = excluded.saved_at,"
    " entries = excluded.entries, data = excluded.data"
)
_SELECT = "SELECT part, version, data FROM stats_state"


async def asave_parts(conn: psycopg.AsyncConnection[Any], parts: Iterable[tuple[str, int, int, bytes]]) -> None:
    """Replace the saved parts (name, version, entries, data) in one transaction. Parts of rules
    no longer loaded are kept: a rule file being edited must not lose what its rule learnt."""
    async with conn.transaction(), conn.cursor() as cur:
        for name, version, entries, data in parts:
            await cur.execute(_UPSERT, (name, version, entries, data))


async def aload_parts(conn: psycopg.AsyncConnection[Any]) -> dict[str, tuple[int, bytes]]:
    """Every saved part: name -> (version, data)."""
    cursor = await conn.execute(_SELECT)
    return {str(part): (int(version), bytes(data)) for part, version, data in await cursor.fetchall()}
