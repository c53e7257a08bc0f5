"""The write path: one batch of events -> one transaction (binary COPY + hash-chain link).

`EventWriter` is synchronous (it runs in worker processes) and holds one connection, normally as
the application role. Per batch: a cheap client-side check that day partitions are still ahead
(DDL only when a new day is needed), `nextval` + `now()` (the batch's `ingested`), one binary
COPY, the content digest, then under the chain's advisory lock the link to the previous batch and
the `batches` row; all committed together.

The content digest is `guetteur_batch_digest` (digest version 1, see the migration): the SHA-256
of the concatenated SHA-256 of each stored row's canonical text, rows in id order. The server
renders each row's text from what it stored, in the batch's transaction; the SHA-256 work is done
here (PostgreSQL's built-in SHA-256 is several times slower than OpenSSL's and ran on the busiest
process). The result is the function's, byte for byte, so `verify` recomputes it server-side;
the first batch of every connection is checked against the function itself, and a mismatch
(a later migration changing the digest) makes this writer use the function from then on.

Event ids: every stored event has `event.id` = a UUIDv7 (`guetteur.store.ids`). The writer keeps a
valid UUIDv7 already there (detection assigns them first with `assign_event_ids`, and may hand
the raw ids over), assigns one otherwise (setting `event["event"]["id"]` in the caller's dict),
and replaces duplicates within a batch. The receipt lists the ids in input order.

No accepted event is lost to bad data: if a COPY fails on content, the batch is split in halves
(savepoints) until the failing rows are isolated; each is then stored in a minimal safe form
tagged `store_fallback` (see `encoding.encode_fallback`). Connection errors are raised: the batch
is then not stored at all (its transaction rolled back) and the caller retries it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

from guetteur.model import Event
from guetteur.store.chain import CHAIN_LOCK, GENESIS, chain_hash
from guetteur.store.encoding import (
    COPY_COLUMNS,
    COPY_HEADER,
    COPY_TRAILER,
    batch_id_field,
    encode_event,
    encode_fallback,
    pg_micros,
)
from guetteur.store.ids import assign_event_ids
from guetteur.store.partitions import ensure_partitions

log = logging.getLogger(__name__)

_COPY = sql.SQL("COPY events ({}) FROM STDIN (FORMAT BINARY)").format(
    sql.SQL(", ").join(sql.Identifier(c) for c in COPY_COLUMNS)
)
_CHUNK_ROWS = 2000
_PARTITION_RETRY_SECONDS = 30.0
# The row text `guetteur_batch_digest` hashes (0001_events.sql), under the same settings.
_ROW_TEXTS = (
    "SELECT uuid_send(e.id), convert_to(ROW(e.id, e.ts, e.ingested, e.batch_id, e.host, e.user_name,"
    " e.source_ip, e.destination_ip, e.category, e.action, e.outcome, e.severity, e.source_type, e.doc,"
    " e.original)::text, 'UTF8') FROM events e WHERE e.batch_id = %s AND e.ingested = %s"
)
_DIGEST_SETTINGS = (
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';"
    " SET extra_float_digits = 1; SET bytea_output = 'hex'"
)


@dataclass(frozen=True, slots=True)
class BatchReceipt:
    """What a stored batch became. `rows == 0` (and `batch_id == 0`) for an empty input."""

    batch_id: int
    rows: int
    seq: int
    chain_hash: str
    stored_at: datetime | None
    ids: list[str] = field(default_factory=list)
    fallback_rows: int = 0


class EventWriter:
    """Stores batches of events; one connection, not thread-safe (one writer per worker)."""

    def __init__(self, dsn: str, partitions_ahead_days: int = 3) -> None:
        self._dsn = dsn
        self._ahead = partitions_ahead_days
        self._conn: psycopg.Connection | None = None
        self._horizon = date.min
        self._next_partition_try = 0.0
        self._digest_checked = False
        self._client_digest = True
        self._connect()

    def _connect(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self._dsn, autocommit=True, application_name="guetteur-writer")
            self._conn.execute(_DIGEST_SETTINGS)
            self._digest_checked = False
            self._horizon = ensure_partitions(self._conn, self._ahead)
        return self._conn

    def _keep_partitions_ahead(self, conn: psycopg.Connection) -> None:
        """DDL only when the horizon gets closer than `partitions_ahead_days`; never queues
        long behind readers (lock timeout, retried later) while a day of margin remains."""
        today = datetime.now(UTC).date()
        if today + timedelta(days=self._ahead) <= self._horizon or time.monotonic() < self._next_partition_try:
            return
        try:
            self._horizon = ensure_partitions(conn, self._ahead, lock_timeout_ms=2000)
        except psycopg.errors.LockNotAvailable:
            self._next_partition_try = time.monotonic() + _PARTITION_RETRY_SECONDS
            if self._horizon <= today:
                self._horizon = ensure_partitions(conn, self._ahead)
            else:
                log.warning("event partitions not extended (table busy); retrying in %ss", _PARTITION_RETRY_SECONDS)

    def write_batch(self, events: list[Event],
                    with_batch: Callable[[psycopg.Connection], object] | None = None,
                    ids: list[bytes] | None = None) -> BatchReceipt:
        """Store `events` as one batch, linked into the hash chain, in one transaction.

        `with_batch(conn)` runs in the same transaction (the pipeline stores the batch's
        detection hits with it: both are committed or neither). `ids`: what
        `assign_event_ids(events)` returned for these very events, if the caller has it
        (saves reading the ids again); duplicates are still replaced."""
        if not events:
            return BatchReceipt(0, 0, 0, "", None)
        conn = self._connect()
        self._keep_partitions_ahead(conn)
        if ids is None or len(ids) != len(events) or len(set(ids)) != len(ids):
            ids = assign_event_ids(events)
        with conn.transaction():
            head = conn.execute("SELECT nextval('event_batch_ids'), now()").fetchone()
            assert head is not None
            batch_id, stored_at = int(head[0]), head[1]
            if stored_at.astimezone(UTC).date() > self._horizon:  # server clock ahead of ours
                row = conn.execute("SELECT guetteur_ensure_event_partitions(%s)", (self._ahead,)).fetchone()
                assert row is not None
                self._horizon = row[0]
            now_us = pg_micros(stored_at)
            batch_field = batch_id_field(batch_id)
            rows = [encode_event(event, batch_field, now_us, raw) for event, raw in zip(events, ids, strict=True)]
            fallback = self._store(conn, rows, events, batch_field, now_us)
            count, content = self._digest(conn, batch_id, stored_at)
            if count != len(events):
                raise RuntimeError(f"batch {batch_id}: {count} rows stored for {len(events)} events")
            if with_batch is not None:  # before the chain lock, which serialises writers
                with_batch(conn)
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK,))
            prev = conn.execute("SELECT seq, chain_hash FROM batches ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (int(prev[0]) + 1, bytes(prev[1])) if prev else (1, GENESIS)
            linked = chain_hash(prev_hash, content, batch_id, seq, count, stored_at)
            conn.execute(
                "INSERT INTO batches (batch_id, seq, stored_at, row_count, content_hash, prev_hash, chain_hash)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (batch_id, seq, stored_at, count, content, prev_hash, linked),
            )
        if fallback:
            log.warning("batch %s: %s event(s) stored in fallback form", batch_id, fallback)
        return BatchReceipt(
            batch_id=batch_id, rows=count, seq=seq, chain_hash=linked.hex(), stored_at=stored_at,
            ids=[event["event"]["id"] for event in events], fallback_rows=fallback,
        )

    def _digest(self, conn: psycopg.Connection, batch_id: int, stored_at: datetime) -> tuple[int, bytes]:
        """(rows stored, content digest) of the batch, as `guetteur_batch_digest` gives them."""
        if not self._client_digest:
            return _server_digest(conn, batch_id, stored_at)
        with conn.cursor(binary=True) as cur:
            texts = cur.execute(_ROW_TEXTS, (batch_id, stored_at)).fetchall()
        sha256 = hashlib.sha256
        hashed = sorted([(row_id, sha256(text).digest()) for row_id, text in texts])
        found = len(hashed), sha256(b"".join([digest for _row_id, digest in hashed])).digest()
        if not self._digest_checked:
            self._digest_checked = True
            expected = _server_digest(conn, batch_id, stored_at)
            if expected != found:
                log.error("the batch digest computed here differs from guetteur_batch_digest; "
                          "using the database function from now on")
                self._client_digest = False
                return expected
        return found

    def _copy(self, conn: psycopg.Connection, rows: list[bytes]) -> None:
        with conn.cursor() as cur, cur.copy(_COPY) as copy:
            copy.write(COPY_HEADER)
            for start in range(0, len(rows), _CHUNK_ROWS):
                copy.write(b"".join(rows[start:start + _CHUNK_ROWS]))
            copy.write(COPY_TRAILER)

    def _store(self, conn: psycopg.Connection, rows: list[bytes], events: list[Event],
               batch_field: bytes, now_us: int) -> int:
        """COPY `rows` inside a savepoint; on a data error split and retry. Returns the number
        of events stored in fallback form."""
        try:
            with conn.transaction():
                self._copy(conn, rows)
            return 0
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.OperationalError) or conn.broken:
                raise
            if len(rows) > 1:
                mid = len(rows) // 2
                return (self._store(conn, rows[:mid], events[:mid], batch_field, now_us)
                        + self._store(conn, rows[mid:], events[mid:], batch_field, now_us))
            error = f"{type(exc).__name__}: {exc}"
        log.warning("event %s refused by PostgreSQL (%s); storing it in fallback form",
                    events[0].get("event", {}).get("id"), error)
        with conn.transaction():
            self._copy(conn, [encode_fallback(events[0], batch_field, now_us, error)])
        return 1

    def close(self) -> None:
        """Close the connection (a batch in progress is rolled back by the server)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _server_digest(conn: psycopg.Connection, batch_id: int, stored_at: datetime) -> tuple[int, bytes]:
    found = conn.execute(
        "SELECT row_count, digest FROM guetteur_batch_digest(%s, %s)", (batch_id, stored_at)
    ).fetchone()
    assert found is not None
    return int(found[0]), bytes(found[1])
