"""The write path: one batch of events -> one transaction (binary COPY + hash-chain link).

`EventWriter` is synchronous (it runs in worker processes) and holds one connection, normally as
the application role. Per batch: a cheap client-side check that day partitions are still ahead
(DDL only when a new day is needed), `nextval` + `now()` (the batch's `ingested`), one binary
COPY, the batch's rows of `event_text` (migration 0790: the lower-cased `message` that free-text
counts read, copied from the rows just stored by one INSERT ... SELECT on the batch's id), the
content digest, then under the chain's advisory lock the link to the previous batch and
the `batches` row; all committed together.

The content digest is digest version 2 (`chain.py`): SHA-256 over the binary COPY tuples this
writer sent, hashed here while they are sent; PostgreSQL only stores them (version 1 had the
server render every stored row as text again and send it back to be hashed: about half of
PostgreSQL's CPU per event). `verify` recomputes it from the stored rows. The first batch of
every connection is also recomputed from the stored rows (`chain.stored_digest`) and compared;
a mismatch (a server that stores something other than what it was sent) is logged and makes
this writer read every batch back from then on, so what it records is always what `verify`
finds. The row count COPY reports is checked against the batch.

Event ids: every stored event has `event.id` = a UUIDv7 (`guetteur.store.ids`). The writer keeps a
valid UUIDv7 already there (detection assigns them first with `assign_event_ids`, and may hand
the raw ids over), assigns one otherwise (setting `event["event"]["id"]` in the caller's dict),
and replaces duplicates within a batch. The receipt lists the ids in input order.

No accepted event is lost to bad data, and no batch fails forever because of one record. Every
failure is classified (`store.failures`): a recoverable one (connection lost, server restarting,
serialization failure, disk full) rolls the whole batch back and is raised as a recoverable
`StoreError` for the caller to retry. An unrecoverable one (PostgreSQL refuses a value, a
detection hit cannot be converted) splits the batch in halves, each in a savepoint, until the
refused records are isolated; each of those is stored in the same batch in a minimal *quarantine*
form that cannot fail on content (`encoding.encode_quarantined`: tagged `quarantined`, the error,
the whole event as ASCII JSON in `original`), and the rest is stored normally. So the batch is
still one transaction and one link of the hash chain: committed whole or not at all, and a
caller retrying after a crash cannot store half of it twice. If even the quarantine form is
refused, the cause is not the record: `QuarantineFailed` (recoverable) is raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

from guetteur.errors import PoisonRecord, QuarantineFailed, StoreError, StoreInconsistent
from guetteur.model import Event
from guetteur.store.chain import (
    CHAIN_LOCK,
    DIGEST_VERSION,
    GENESIS,
    chain_hash,
    content_digest,
    row_digest,
    stored_digest,
)
from guetteur.store.encoding import (
    COPY_COLUMNS,
    COPY_HEADER,
    COPY_TRAILER,
    batch_id_field,
    encode_event,
    encode_quarantined,
    pg_micros,
)
from guetteur.store.failures import one_row, store_error
from guetteur.store.ids import assign_event_ids
from guetteur.store.partitions import ensure_partitions

log = logging.getLogger(__name__)

_COPY = sql.SQL("COPY events ({}) FROM STDIN (FORMAT BINARY)").format(
    sql.SQL(", ").join(sql.Identifier(c) for c in COPY_COLUMNS)
)
# The batch's `message` texts for free-text counts (migration 0790), from its stored rows: the
# same `doc ->> 'message'` and PostgreSQL `lower` the search compiler tests on `events`.
_TEXT = sql.SQL(
    "INSERT INTO event_text (ingested, ts, id, m) SELECT ingested, ts, id,"
    " CASE jsonb_typeof(doc -> 'message') WHEN 'string' THEN lower(doc ->> 'message') END"
    " FROM events WHERE ingested = %s AND batch_id = %s AND doc ? 'message'")
_CHUNK_ROWS = 2000
_PARTITION_RETRY_SECONDS = 30.0


# What the caller stores with the events, in the batch's transaction (the pipeline: detection
# hits). Called with the positions (indexes into the batch) of the events being stored normally
# in one part of the batch; it must store what belongs to those events only. When the writer
# isolates a refused record it calls this several times, on disjoint parts, and once more with
# the record's single position alongside its quarantine form (what fails then is left out).
WithEvents = Callable[[psycopg.Connection, Sequence[int]], object]


@dataclass(frozen=True, slots=True)
class BatchReceipt:
    """What a stored batch became. `rows == 0` (and `batch_id == 0`) for an empty input.
    `quarantined`: positions of the events stored in quarantine form."""

    batch_id: int
    rows: int
    seq: int
    chain_hash: str
    stored_at: datetime | None
    ids: list[str] = field(default_factory=list)
    quarantined: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Batch:
    """One batch being written: its events, their encoded rows, where they go."""

    batch_id: int
    events: list[Event]
    rows: list[bytes | None]  # None: the event could not even be encoded
    batch_field: bytes
    now_us: int
    with_events: WithEvents | None
    encoding_errors: dict[int, StoreError] = field(default_factory=dict)
    stored_at: datetime = datetime.min  # the batch's `ingested`
    digests: list[bytes] = field(default_factory=list)  # row digests of the tuples stored
    copied: int = 0  # rows COPY reported stored


class EventWriter:
    """Stores batches of events; one connection, not thread-safe (one writer per worker)."""

    def __init__(self, dsn: str, partitions_ahead_days: int = 3) -> None:
        self._dsn = dsn
        self._ahead = partitions_ahead_days
        self._conn: psycopg.Connection | None = None
        self._horizon = date.min
        self._next_partition_try = 0.0
        self._digest_checked = False
        self._client_digest = True  # False: every batch's digest is read back from the server
        try:
            self._connect()
        except psycopg.Error as exc:
            raise store_error(exc, self._conn) from exc

    def _connect(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self._dsn, autocommit=True, application_name="guetteur-writer")
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

    def write_batch(self, events: list[Event], with_events: WithEvents | None = None,
                    ids: list[bytes] | None = None) -> BatchReceipt:
        """Store `events` as one batch, linked into the hash chain, in one transaction.

        `with_events(conn, positions)` stores what goes with the events in the same
        transaction (see `WithEvents`; the pipeline stores detection hits with it: both are
        committed or neither). `ids`: what `assign_event_ids(events)` returned for these very
        events, if the caller has it (saves reading the ids again); duplicates are still
        replaced. Records refused for their content are quarantined (module docstring).

        Raises only `StoreError`s, and only recoverable ones unless the store itself is
        inconsistent (`StoreInconsistent`): nothing of the batch is then stored."""
        if not events:
            return BatchReceipt(0, 0, 0, "", None)
        try:
            return self._write(events, with_events, ids)
        except Exception as exc:
            error = store_error(exc, self._conn)
            if error.recoverable:
                # the retry starts on a new connection: after a failure in the middle of a COPY
                # the old one can be left neither broken nor usable ("another command is already
                # in progress" for ever)
                self.close()
            if error is exc:
                raise
            raise error from exc

    def _write(self, events: list[Event], with_events: WithEvents | None, ids: list[bytes] | None) -> BatchReceipt:
        conn = self._connect()
        self._keep_partitions_ahead(conn)
        if ids is None or len(ids) != len(events) or len(set(ids)) != len(ids):
            ids = assign_event_ids(events)
        with conn.transaction():
            head = one_row(conn.execute("SELECT nextval('event_batch_ids'), now()").fetchone(), "batch id")
            batch_id, stored_at = int(head[0]), head[1]
            if stored_at.astimezone(UTC).date() > self._horizon:  # server clock ahead of ours
                row = one_row(conn.execute("SELECT guetteur_ensure_event_partitions(%s)", (self._ahead,)).fetchone(),
                              "guetteur_ensure_event_partitions")
                self._horizon = row[0]
            batch = _Batch(batch_id, events, [], batch_id_field(batch_id), pg_micros(stored_at), with_events,
                           stored_at=stored_at)
            _encode(batch, ids)
            quarantined = self._store_all(conn, batch)
            self._store_text(conn, batch)
            count, content = self._digest(conn, batch)
            if count != len(events) or batch.copied != count:
                raise StoreInconsistent(f"{batch.copied} rows stored, {count} hashed, for {len(events)} events",
                                        batch=batch_id)
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK,))
            prev = conn.execute("SELECT seq, chain_hash FROM batches ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (int(prev[0]) + 1, bytes(prev[1])) if prev else (1, GENESIS)
            linked = chain_hash(prev_hash, content, batch_id, seq, count, stored_at)
            conn.execute(
                "INSERT INTO batches (batch_id, seq, stored_at, row_count, digest_version, content_hash, prev_hash,"
                " chain_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (batch_id, seq, stored_at, count, DIGEST_VERSION, content, prev_hash, linked),
            )
        if quarantined:
            log.warning("batch %s: %s event(s) quarantined", batch_id, len(quarantined))
        return BatchReceipt(
            batch_id=batch_id, rows=count, seq=seq, chain_hash=linked.hex(), stored_at=stored_at,
            ids=[event["event"]["id"] for event in events], quarantined=quarantined,
        )

    def _store_all(self, conn: psycopg.Connection, batch: _Batch) -> list[int]:
        """Store every event of the batch (and what goes with it, before the chain lock, which
        serialises writers); returns the positions quarantined, in order."""
        positions = list(range(len(batch.events)))
        if not batch.encoding_errors:
            return self._store(conn, batch, positions)
        quarantined = sorted(batch.encoding_errors)
        for position in quarantined:
            self._quarantine(conn, batch, position, batch.encoding_errors[position])
        usable = [p for p in positions if p not in batch.encoding_errors]
        return sorted(quarantined + (self._store(conn, batch, usable) if usable else []))

    def _store(self, conn: psycopg.Connection, batch: _Batch, positions: list[int]) -> list[int]:
        """Store the events at `positions` in a savepoint; when the content is refused, split
        them in halves until the refused ones are isolated, then quarantine those. Returns the
        positions quarantined. A recoverable failure is raised (the whole batch rolls back)."""
        try:
            rows = [batch.rows[p] for p in positions]
            with conn.transaction():
                copied, digests = self._copy(conn, rows)
                if batch.with_events is not None:
                    batch.with_events(conn, positions)
            batch.copied += copied
            batch.digests.extend(digests)
            return []
        except Exception as exc:
            error = store_error(exc, conn, batch=batch.batch_id)
            if error.recoverable:
                raise error from exc
        if len(positions) > 1:
            mid = len(positions) // 2
            return self._store(conn, batch, positions[:mid]) + self._store(conn, batch, positions[mid:])
        self._quarantine(conn, batch, positions[0], error)
        return positions

    def _quarantine(self, conn: psycopg.Connection, batch: _Batch, position: int, error: StoreError) -> None:
        """Store one refused event in quarantine form, with what goes with it if that passes."""
        event = batch.events[position]
        meta = event.get("event")
        source = event.get("input", {}).get("type") if isinstance(event.get("input"), dict) else None
        poison = PoisonRecord(error.message, code=error.code, batch=batch.batch_id,
                              record=str(meta.get("id")) if isinstance(meta, dict) else None,
                              source=source if isinstance(source, str) else None)
        log.warning("quarantined: %s", poison)
        row = encode_quarantined(event, batch.batch_field, batch.now_us, error.message, type(error).__name__, error.code)
        attempts: list[WithEvents | None] = [None]
        if batch.with_events is not None:
            attempts.insert(0, batch.with_events)
        for with_events in attempts:
            try:
                with conn.transaction():
                    copied, digests = self._copy(conn, [row])
                    if with_events is not None:
                        with_events(conn, [position])
                batch.copied += copied
                batch.digests.extend(digests)
                return
            except Exception as exc:
                refused = store_error(exc, conn, batch=batch.batch_id)
                if refused.recoverable:
                    raise refused from exc
        raise QuarantineFailed(f"the quarantine form was refused too ({refused.message}); "
                               f"record refused first for: {error.message}", code=refused.code,
                               location=poison.location) from error

    def _store_text(self, conn: psycopg.Connection, batch: _Batch) -> None:
        """The batch's `event_text` rows. A partition of `events` made without its twin there (by
        hand: the partition function makes both) is paired, then the rows are stored."""
        try:
            with conn.transaction():
                conn.execute(_TEXT, (batch.stored_at, batch.batch_id))
        except psycopg.errors.CheckViolation:  # "no partition of relation event_text found for row"
            conn.execute("SELECT guetteur_ensure_event_partitions(%s)", (self._ahead,))
            conn.execute(_TEXT, (batch.stored_at, batch.batch_id))

    def _digest(self, conn: psycopg.Connection, batch: _Batch) -> tuple[int, bytes]:
        """(rows, content digest version 2) of the batch: from the tuples sent, checked against
        the stored rows on a connection's first batch (module docstring)."""
        if not self._client_digest:
            return stored_digest(conn, batch.batch_id, batch.stored_at)
        found = len(batch.digests), content_digest(batch.digests)
        if not self._digest_checked:
            self._digest_checked = True
            expected = stored_digest(conn, batch.batch_id, batch.stored_at)
            if expected != found:
                log.error("the digest of the rows sent differs from the rows stored; "
                          "reading every batch back from now on")
                self._client_digest = False
                return expected
        return found

    def _copy(self, conn: psycopg.Connection, rows: Sequence[bytes | None]) -> tuple[int, list[bytes]]:
        """COPY `rows` (None: skipped); (rows the server reports stored, their row digests)."""
        digests: list[bytes] = []
        with conn.cursor() as cur:
            with cur.copy(_COPY) as copy:
                copy.write(COPY_HEADER)
                for start in range(0, len(rows), _CHUNK_ROWS):
                    chunk = [row for row in rows[start:start + _CHUNK_ROWS] if row is not None]
                    copy.write(b"".join(chunk))
                    digests.extend([row_digest(row) for row in chunk])
                copy.write(COPY_TRAILER)
            return cur.rowcount, digests

    def close(self) -> None:
        """Close the connection (a batch in progress is rolled back by the server). The next
        batch opens a new one."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()
            except Exception as exc:  # a connection in a bad state: dropping it is the point
                log.debug("closing the writer's connection: %s", exc)

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()




def _encode(batch: _Batch, ids: list[bytes]) -> None:
    """Fill `batch.rows`. `encode_event` does not raise on content; if it ever does, only the
    event concerned is set aside (quarantined), not the batch."""
    events, field_, now_us = batch.events, batch.batch_field, batch.now_us
    try:
        batch.rows = [encode_event(event, field_, now_us, raw) for event, raw in zip(events, ids, strict=True)]
        return
    except Exception:  # rare: find the event(s) concerned
        pass
    rows: list[bytes | None] = []
    for position, (event, raw) in enumerate(zip(events, ids, strict=True)):
        try:
            rows.append(encode_event(event, field_, now_us, raw))
        except Exception as exc:
            rows.append(None)
            batch.encoding_errors[position] = store_error(exc, batch=batch.batch_id)
    batch.rows = rows
