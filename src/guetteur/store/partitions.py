"""Day partitions of `events` (by UTC day of `ingested`), created ahead of need.

Partitions are created by the SECURITY DEFINER function `guetteur_ensure_event_partitions`
(migration 0001), so the application role can keep them ahead without owning the table. It only
ever creates days from today (server clock) to today + N (N <= 60): event content never chooses
which partitions exist.
"""

from __future__ import annotations

from datetime import date

import psycopg


def ensure_partitions(conn: psycopg.Connection, days_ahead: int, lock_timeout_ms: int = 0) -> date:
    """Create the missing partitions up to today + `days_ahead`; returns the last covered day.

    With `lock_timeout_ms` > 0, gives up (raises `psycopg.errors.LockNotAvailable`) rather than
    queue behind a long query: creating a partition briefly locks the whole table.
    Runs in its own transaction on `conn`.
    """
    with conn.transaction():
        if lock_timeout_ms > 0:
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{lock_timeout_ms}ms",))
        row = conn.execute("SELECT guetteur_ensure_event_partitions(%s)", (days_ahead,)).fetchone()
    assert row is not None
    last: date = row[0]
    return last


def list_partitions(conn: psycopg.Connection) -> list[str]:
    """Names of the existing partitions of `events`, oldest first."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'events'::regclass ORDER BY c.relname"
    ).fetchall()
    return [str(r[0]) for r in rows]
