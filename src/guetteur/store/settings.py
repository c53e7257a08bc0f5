"""Settings changed from the console (`runtime_settings`, migration 0760) and the results of
event-store chain verifications (`store_verifications`). The values are validated by the caller
(`guetteur.runtime_settings`); this module only reads and writes rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from guetteur.store.chain import VerifyReport


@dataclass(frozen=True, slots=True)
class StoredSection:
    """One section as the console saved it."""

    section: str
    value: dict[str, Any]
    updated_by: str
    updated_at: datetime


_READ = "SELECT section, value, updated_by, updated_at FROM runtime_settings ORDER BY section"


async def read_sections(conn: Any) -> dict[str, StoredSection]:
    """Every saved section (async connection)."""
    cur = await conn.execute(_READ)
    return {row[0]: StoredSection(*row) for row in await cur.fetchall()}


def read_sections_sync(conn: psycopg.Connection) -> dict[str, StoredSection]:
    """`read_sections` on a sync connection (the command line)."""
    return {row[0]: StoredSection(*row) for row in conn.execute(_READ).fetchall()}


async def write_section(conn: Any, section: str, value: dict[str, Any], actor: str) -> StoredSection:
    """Save (insert or replace) one section's value."""
    cur = await conn.execute(
        "INSERT INTO runtime_settings (section, value, updated_by) VALUES (%s, %s, %s)"
        " ON CONFLICT (section) DO UPDATE SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by,"
        " updated_at = now() RETURNING section, value, updated_by, updated_at",
        (section, Jsonb(value), actor),
    )
    row = await cur.fetchone()
    assert row is not None  # RETURNING of an upsert always has its row
    return StoredSection(*row)


async def delete_section(conn: Any, section: str) -> bool:
    """Forget a section's saved value (the configuration file's applies again)."""
    cur = await conn.execute("DELETE FROM runtime_settings WHERE section = %s", (section,))
    return bool(cur.rowcount)


@dataclass(frozen=True, slots=True)
class StoreVerification:
    """One recorded verification of the event store's hash chain."""

    started_at: datetime
    finished_at: datetime
    started_by: str
    ok: bool
    batches_checked: int
    rows_checked: int
    first_broken_batch: int | None
    reason: str | None
    head_hash: str | None


_INSERT_VERIFICATION = (
    "INSERT INTO store_verifications (started_at, started_by, ok, batches_checked, rows_checked,"
    " first_broken_batch, reason, head_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")


def record_verification_sync(conn: psycopg.Connection, report: VerifyReport, started_at: datetime,
                             started_by: str) -> None:
    """Keep the outcome of one `chain.verify` run."""
    conn.execute(_INSERT_VERIFICATION, (started_at, started_by[:200], report.ok, report.batches_checked,
                                        report.rows_checked, report.first_broken_batch, report.reason,
                                        report.head_hash))


async def last_verification(conn: Any) -> StoreVerification | None:
    """The newest recorded verification, if any."""
    cur = await conn.execute(
        "SELECT started_at, finished_at, started_by, ok, batches_checked, rows_checked, first_broken_batch,"
        " reason, head_hash FROM store_verifications ORDER BY id DESC LIMIT 1")
    row = await cur.fetchone()
    return None if row is None else StoreVerification(*row)
