"""The hash chain over stored batches, and `verify`.

Each stored batch gets a row in `batches`: its content hash over every stored row, the previous
batch's chain hash, and its own chain hash
`sha256("guetteur-chain-v1" | prev_hash | content_hash | batch_id | seq | row_count | stored_at)`
(integers as 8-byte big-endian, `stored_at` in microseconds since 2000-01-01 UTC).
`seq` is the position in the chain, given under a transaction-level advisory lock, so writers in
several processes append one after the other.

Content hash, `digest_version` 2 (batches written since migration 0300): the SHA-256 of the
concatenated, sorted SHA-256 of every row's binary COPY tuple (`row_digest`: the fields of
`encoding.COPY_COLUMNS`, `doc` in its canonical form, `encoding.canonical_doc`). The writer
hashes the tuples it sends; `verify` reads the batch's rows back with a binary COPY, puts each
`doc` in canonical form again and hashes the same bytes, so a changed, added or removed row
changes it (a row moved out of its batch's `ingested` is missing from it). Version 1 (older
batches): `guetteur_batch_digest`, computed by PostgreSQL over each row's text.

`verify` walks the chain in `seq` order inside one snapshot, recomputes every content hash and
chain link, then checks that no stored row sits outside the batches, and reports the first
broken batch. It cannot see the newest batches removed together with their `batches` rows (a
truncated tail): keep the printed head hash somewhere else to detect that.

Retention (store/retention.py, migration 0785) drops whole day partitions but keeps their
`batches` rows, and records each drop in `retention_log` (the partitions, how many batches they
held, the chain hash of the newest). A batch whose UTC day of `stored_at` is a partition recorded
there is checked for its chain link only: its content is gone by design. Each record must match
the chain (the batches counted on those days, the newest one's chain hash), or verify fails. A
batch whose rows vanished without such a record is still reported as broken. The report says
how many batches expired and from which day contents were verified (`VerifyReport.retention`).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg import sql

from guetteur.errors import StoreInconsistent
from guetteur.store.encoding import COPY_COLUMNS, canonical_doc, pg_micros
from guetteur.store.failures import one_row

GENESIS = bytes(32)
CHAIN_LOCK = 7240102
_DOMAIN = b"guetteur-chain-v1"
DIGEST_VERSION = 2  # what the writer stores; verify knows 1 and 2
_DOC = COPY_COLUMNS.index("doc")
_FIELD = struct.Struct(">i")
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_BATCH_ROWS = sql.SQL("COPY (SELECT {} FROM events WHERE batch_id = {} AND ingested = {}) TO STDOUT (FORMAT BINARY)")


def content_digest(row_digests: Iterable[bytes]) -> bytes:
    """Digest version 2 of a batch from its rows' `row_digest`s (in any order)."""
    return hashlib.sha256(b"".join(sorted(row_digests))).digest()


def row_digest(tuple_bytes: bytes) -> bytes:
    """Digest of one binary COPY tuple, as the writer sent it."""
    return hashlib.sha256(tuple_bytes).digest()


def stored_digest(conn: psycopg.Connection, batch_id: int, stored_at: datetime) -> tuple[int, bytes]:
    """(rows, digest version 2) of a stored batch, recomputed from its rows (read as a stream:
    one row in memory at a time, whatever the batch's size)."""
    query = _BATCH_ROWS.format(sql.SQL(", ").join(sql.Identifier(c) for c in COPY_COLUMNS),
                               sql.Literal(batch_id), sql.Literal(stored_at))
    reader = _TupleReader()
    digests: list[bytes] = []
    with conn.cursor() as cur, cur.copy(query) as copy:
        for chunk in copy:
            digests.extend(row_digest(t) for t in reader.feed(chunk))
    if not reader.ended:
        raise StoreInconsistent("binary COPY output ended before its trailer")
    return len(digests), content_digest(digests)


def _canonical_field(text: bytes) -> bytes:
    """A stored `doc` field's bytes as the writer sent them: version byte and canonical JSON.
    A document that cannot be read back as JSON (only a tampered one) is hashed as it is, so
    it fails the digest instead of the check."""
    try:
        doc = b"\x01" + canonical_doc(text[1:])
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        doc = text
    return _FIELD.pack(len(doc)) + doc


class _TupleReader:
    """Cuts a binary COPY output, fed in chunks, into tuples, each `doc` in canonical form."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._header = False
        self.ended = False

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[bytes]:
        buffer = self._buffer
        buffer += chunk
        at = 0
        if not self._header:
            fixed = len(_COPY_SIGNATURE) + 8
            if len(buffer) < fixed:
                return []
            if not buffer.startswith(_COPY_SIGNATURE):
                raise StoreInconsistent("binary COPY output without its signature")
            at = fixed + _FIELD.unpack_from(buffer, fixed - 4)[0]  # header extension
            if len(buffer) < at:
                return []
            self._header = True
        tuples: list[bytes] = []
        size_total = len(buffer)
        while at + 2 <= size_total and not self.ended:
            count = int.from_bytes(buffer[at:at + 2], "big", signed=True)
            if count == -1:
                self.ended = True
                at += 2
                break
            parts = [bytes(buffer[at:at + 2])]
            end = at + 2
            for position in range(count):
                if end + 4 > size_total:
                    break
                size = _FIELD.unpack_from(buffer, end)[0]
                field_end = end + 4 + max(size, 0)
                if field_end > size_total:
                    break
                if position == _DOC and size > 0:
                    parts.append(_canonical_field(bytes(buffer[end + 4:field_end])))
                else:
                    parts.append(bytes(buffer[end:field_end]))
                end = field_end
            else:
                tuples.append(b"".join(parts))
                at = end
                continue
            break  # the tuple is not complete yet
        del buffer[:at]
        return tuples


def chain_hash(prev_hash: bytes, content_hash: bytes, batch_id: int, seq: int, row_count: int,
               stored_at: datetime) -> bytes:
    """The chain hash of one batch (see the module docstring)."""
    h = hashlib.sha256(_DOMAIN)
    h.update(prev_hash)
    h.update(content_hash)
    for number in (batch_id, seq, row_count, pg_micros(stored_at)):
        h.update(number.to_bytes(8, "big", signed=True))
    return h.digest()


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Outcome of `verify`. `first_broken_batch` is a batch_id (None when the chain is intact or
    when the damage is rows outside any batch, described in `reason`)."""

    ok: bool
    batches_checked: int
    rows_checked: int
    first_broken_batch: int | None = None
    reason: str | None = None
    head_hash: str | None = None
    expired_batches: int = 0  # batches whose content retention removed (their links were checked)
    expired_rows: int = 0
    retention: str | None = None  # what retention cut and what was verified, in words


@dataclass(slots=True)
class _Cut:
    """One `retention_log` record of dropped partitions, and what the chain holds on its days."""

    id: int
    at: datetime
    batches: int
    last_chain_hash: bytes | None
    found: int = 0
    found_seq: int = 0
    found_hash: bytes | None = None


def _retention_cuts(cur: psycopg.Cursor[Any]) -> tuple[dict[date, _Cut], list[_Cut]]:
    """The days whose partition retention dropped -> their record (empty before migration 0785)."""
    if cur.execute("SELECT to_regclass('retention_log') IS NOT NULL").fetchone() != (True,):
        return {}, []
    days: dict[date, _Cut] = {}
    cuts: list[_Cut] = []
    for id_, at, partitions, batches, last_hash in cur.execute(
            "SELECT id, at, partitions, batches, last_chain_hash FROM retention_log"
            " WHERE kind = 'events' ORDER BY id").fetchall():
        cut = _Cut(int(id_), at, int(batches), bytes(last_hash) if last_hash is not None else None)
        cuts.append(cut)
        for name in partitions:
            try:
                day = datetime.strptime(str(name)[len("events_"):], "%Y%m%d").date()
            except ValueError:
                continue
            days.setdefault(day, cut)
    return days, cuts


def _cuts_match(cuts: list[_Cut]) -> str | None:
    for cut in cuts:
        if cut.found != cut.batches:
            return (f"retention record {cut.id} ({cut.at:%Y-%m-%d %H:%M} UTC) says {cut.batches} batches were cut, "
                    f"the chain has {cut.found} on its days")
        if cut.batches and cut.found_hash != cut.last_chain_hash:
            return f"retention record {cut.id}: the chain hash of its newest batch does not match the chain"
    return None


def _retention_note(expired: int, expired_rows: int, expired_days: list[date], cuts: list[_Cut],
                    first_content_day: date | None) -> str | None:
    if not expired:
        return None
    last_cut = max(c.at for c in cuts if c.found)
    verified = (f"contents verified from {first_content_day.isoformat()}" if first_content_day is not None
                else "no batch left with content")
    before = max(expired_days) + timedelta(days=1)
    return (f"{expired} batches ({expired_rows} events) before {before.isoformat()} expired by retention "
            f"(last cut on {last_cut:%Y-%m-%d}); links verified; {verified}")


def verify(dsn: str) -> VerifyReport:
    """Recompute every batch's content hash and the chain; report the first broken batch."""
    batches = rows = 0
    expired = expired_rows = 0
    expired_days: set[date] = set()
    first_content_day: date | None = None
    prev = GENESIS
    expected_seq = 1
    with psycopg.connect(dsn) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction(), conn.cursor() as digest_cur, conn.cursor(name="guetteur_verify") as cur:
            # Before the snapshot: a retention drop either committed before it (its record is
            # visible) or waits for this verification (no partition vanishes under it).
            digest_cur.execute("LOCK TABLE events IN ACCESS SHARE MODE")
            cut_days, cuts = _retention_cuts(digest_cur)
            cur.itersize = 1000
            cur.execute(
                "SELECT batch_id, seq, stored_at, row_count, digest_version, content_hash, prev_hash, chain_hash"
                " FROM batches ORDER BY seq"
            )
            for batch_id, seq, stored_at, row_count, version, content, prev_hash, stored_chain in cur:
                content, stored_chain = bytes(content), bytes(stored_chain)
                reason = _check_link(expected_seq, prev, seq, bytes(prev_hash), stored_chain,
                                     content, batch_id, row_count, stored_at, version)
                day = stored_at.astimezone(UTC).date()
                cut = cut_days.get(day)
                if reason is None and cut is not None:  # content dropped by retention: the link only
                    cut.found += 1
                    if seq > cut.found_seq:
                        cut.found_seq, cut.found_hash = seq, stored_chain
                    expired += 1
                    expired_rows += row_count
                    expired_days.add(day)
                    batches += 1
                    prev = stored_chain
                    expected_seq = seq + 1
                    continue
                if reason is None and version == 1:
                    digest_cur.execute(
                        "SELECT row_count, digest FROM guetteur_batch_digest(%s, %s)", (batch_id, stored_at)
                    )
                    found = one_row(digest_cur.fetchone(), "guetteur_batch_digest")
                    reason = _check_content(row_count, content, int(found[0]), bytes(found[1]))
                elif reason is None:
                    count, digest = stored_digest(conn, batch_id, stored_at)
                    reason = _check_content(row_count, content, count, digest)
                if reason is not None:
                    return VerifyReport(False, batches, rows, batch_id, reason, prev.hex(), expired, expired_rows)
                batches += 1
                rows += row_count
                if first_content_day is None or day < first_content_day:
                    first_content_day = day
                prev = stored_chain
                expected_seq = seq + 1
            mismatch = _cuts_match(cuts)
            if mismatch is not None:
                return VerifyReport(False, batches, rows, None, mismatch, prev.hex(), expired, expired_rows)
            total_row = digest_cur.execute("SELECT count(*) FROM events").fetchone()
            total = int(total_row[0]) if total_row else 0
            if total != rows:
                orphan = digest_cur.execute(
                    "SELECT e.batch_id FROM events e LEFT JOIN batches b USING (batch_id)"
                    " WHERE b.batch_id IS NULL ORDER BY e.batch_id LIMIT 1"
                ).fetchone()
                where = f" (unknown batch_id {orphan[0]})" if orphan else ""
                return VerifyReport(False, batches, rows, None,
                                    f"rows outside any batch: {total - rows} stored rows are not in the chain{where}",
                                    prev.hex(), expired, expired_rows)
    note = _retention_note(expired, expired_rows, sorted(expired_days), cuts, first_content_day)
    return VerifyReport(True, batches, rows, None, None, prev.hex(), expired, expired_rows, note)


def _check_link(expected_seq: int, prev: bytes, seq: int, prev_hash: bytes, stored_chain: bytes,
                content: bytes, batch_id: int, row_count: int, stored_at: datetime, version: int) -> str | None:
    if seq != expected_seq:
        return f"chain link broken: batch seq {seq} follows {expected_seq - 1} (batches removed)"
    if prev_hash != prev:
        return "chain link broken: prev_hash is not the previous batch's chain hash"
    if chain_hash(prev_hash, content, batch_id, seq, row_count, stored_at) != stored_chain:
        return "batch record altered: chain hash does not match its fields"
    if version not in (1, DIGEST_VERSION):
        return f"unknown digest version {version}"
    return None


def _check_content(row_count: int, content: bytes, count: int, digest: bytes) -> str | None:
    if count < row_count:
        return f"rows deleted: {row_count - count} of {row_count} missing"
    if count > row_count:
        return f"rows added: {count - row_count} more than the {row_count} recorded"
    if digest != content:
        return "rows changed: content hash differs"
    return None
