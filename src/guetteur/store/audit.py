"""The audit trail: an append-only, hash-chained table of what people did.

One row per action (login, failed login, logout, password change, user change, key change...).
Each row's `chain_hash` is `sha256("guetteur-audit-v1" | prev_hash | seq | at | actor | action |
outcome | source_address | target | detail)`: integers as 8-byte big-endian, `at` in
microseconds since 2000-01-01 UTC, texts as UTF-8 each preceded by its 4-byte length. `seq` is
given under a transaction-level advisory lock, so the API and the CLI append one after the
other. The application role may only SELECT and INSERT (triggers refuse UPDATE, DELETE and
TRUNCATE); `verify_audit` recomputes the chain and names the first row that does not match.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from psycopg_pool import AsyncConnectionPool

from guetteur.store.encoding import pg_micros

AUDIT_LOCK = 7240400
GENESIS = bytes(32)
_DOMAIN = b"guetteur-audit-v1"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One action to record. `detail` holds small facts (strings, numbers), never secrets."""

    actor: str
    action: str
    outcome: str = "success"
    source_address: str = ""
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditRow:
    seq: int
    at: datetime
    actor: str
    action: str
    outcome: str
    source_address: str
    target: str
    detail: str
    prev_hash: bytes
    chain_hash: bytes


def _text(h: Any, value: str) -> None:
    raw = value.encode("utf-8", "replace")
    h.update(len(raw).to_bytes(4, "big"))
    h.update(raw)


def audit_hash(prev_hash: bytes, seq: int, at: datetime, actor: str, action: str, outcome: str,
               source_address: str, target: str, detail: str) -> bytes:
    """The chain hash of one audit row (see the module docstring)."""
    h = hashlib.sha256(_DOMAIN)
    h.update(prev_hash)
    for number in (seq, pg_micros(at)):
        h.update(number.to_bytes(8, "big", signed=True))
    for text in (actor, action, outcome, source_address, target, detail):
        _text(h, text)
    return h.digest()


def _row_values(entry: AuditEntry, seq: int, prev: bytes) -> tuple[Any, ...]:
    at = datetime.now(UTC)
    detail = orjson.dumps(entry.detail, option=orjson.OPT_SORT_KEYS).decode()
    fields = (entry.actor[:200], entry.action[:100], entry.outcome, entry.source_address[:100],
              entry.target[:200], detail)
    return (seq, at, *fields, prev, audit_hash(prev, seq, at, *fields))


_HEAD = "SELECT seq, chain_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
_INSERT = ("INSERT INTO audit_log (seq, at, actor, action, outcome, source_address, target, detail, prev_hash,"
           " chain_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")


async def append(pool: AsyncConnectionPool, entry: AuditEntry) -> int:
    """Append one row to the chain; returns its seq."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
        cur = await conn.execute(_HEAD)
        head = await cur.fetchone()
        seq, prev = (1, GENESIS) if head is None else (int(head[0]) + 1, bytes(head[1]))
        await conn.execute(_INSERT, _row_values(entry, seq, prev))
    return seq


def append_sync(dsn: str, entry: AuditEntry) -> int:
    """`append` for the command line (its own connection)."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
        head = conn.execute(_HEAD).fetchone()
        seq, prev = (1, GENESIS) if head is None else (int(head[0]) + 1, bytes(head[1]))
        conn.execute(_INSERT, _row_values(entry, seq, prev))
    return seq


async def read_audit(pool: AsyncConnectionPool, *, limit: int, before: int | None = None,
                     actor: str | None = None, action: str | None = None) -> list[AuditRow]:
    """Rows newest first, at most `limit`, with seq below `before` when given."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT seq, at, actor, action, outcome, source_address, target, detail, prev_hash, chain_hash"
            " FROM audit_log"
            " WHERE (%(before)s::bigint IS NULL OR seq < %(before)s)"
            " AND (%(actor)s::text IS NULL OR actor = %(actor)s)"
            " AND (%(action)s::text IS NULL OR action = %(action)s)"
            " ORDER BY seq DESC LIMIT %(limit)s",
            {"before": before, "actor": actor, "action": action, "limit": limit},
        )
        return [AuditRow(*row) for row in await cur.fetchall()]


@dataclass(frozen=True, slots=True)
class AuditReport:
    ok: bool
    rows_checked: int
    first_broken_seq: int | None = None
    reason: str | None = None
    head_hash: str | None = None


def verify_audit(conn: psycopg.Connection) -> AuditReport:
    """Walk the audit chain in seq order (inside the caller's transaction) and recompute it."""
    prev, expected, checked = GENESIS, 1, 0
    with conn.cursor(name="guetteur_verify_audit") as cur:
        cur.itersize = 1000
        cur.execute("SELECT seq, at, actor, action, outcome, source_address, target, detail, prev_hash,"
                    " chain_hash FROM audit_log ORDER BY seq")
        for row in cur:
            r = AuditRow(*row)
            reason = None
            if r.seq != expected:
                reason = f"audit rows removed: seq {r.seq} follows {expected - 1}"
            elif bytes(r.prev_hash) != prev:
                reason = "audit link broken: prev_hash is not the previous row's chain hash"
            elif audit_hash(prev, r.seq, r.at, r.actor, r.action, r.outcome, r.source_address, r.target,
                            r.detail) != bytes(r.chain_hash):
                reason = "audit row altered: chain hash does not match its fields"
            if reason is not None:
                return AuditReport(False, checked, r.seq, reason, prev.hex())
            prev, expected, checked = bytes(r.chain_hash), r.seq + 1, checked + 1
    return AuditReport(True, checked, None, None, prev.hex())


def verify_audit_chain(dsn: str) -> AuditReport:
    """`verify_audit` in a read-only snapshot of its own (for `guetteur verify`)."""
    with psycopg.connect(dsn) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            return verify_audit(conn)
