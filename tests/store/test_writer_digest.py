"""Digest version 2: the writer hashes the COPY tuples it sends, PostgreSQL only stores them, and
`verify` recomputes the same digest from the stored rows; batches written with version 1 (before
migration 0300) still verify with `guetteur_batch_digest`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from test_writer import hostile_events

from guetteur.model import Event
from guetteur.store import writer as writer_module
from guetteur.store.chain import _canonical_field, _TupleReader, stored_digest, verify
from guetteur.store.encoding import (
    COPY_HEADER,
    COPY_TRAILER,
    batch_id_field,
    canonical_doc,
    dump_doc,
    encode_event,
)
from guetteur.store.ids import assign_event_ids
from guetteur.store.writer import EventWriter

Make = Callable[..., Event]

# Numbers and keys whose jsonb text differs from orjson's: each must read back to the bytes sent.
AWKWARD_VALUES: list[Any] = [
    1e16, -1e17, 1.5e16, 1e19, 2.0**64, 1e300, -1e300, 1.7976931348623157e308, 5e-324, 1e-7, -0.0, 0.0, 1.0,
    0.30000000000000004, 2**63, 2**64 - 1, -(2**63), 123456789.123, "1e+16", "-0.0,", "x\u2028y\u0001\x7f",
]


def awkward_events(make: Make) -> list[Event]:
    events = hostile_events(make)
    for n, value in enumerate(AWKWARD_VALUES):
        event = make(n)
        event["labels"] = {"value": value, "in_list": [value, {"v": value}], "é": 1, "Z": 2, "aa": 3, "b": 4}
        events.insert(n * 7, event)
    events.append({"keys": {1: "int key", "1": "string key", 2.5: "float key"}, "n": [1e16, -0.0]})
    return events


def test_canonical_doc_reads_jsonb_back_to_the_bytes_sent(fresh_dsn: str) -> None:
    """For every awkward value, jsonb's text of the document sent, put back in canonical form,
    is byte for byte what `dump_doc` sent (else `verify` would report unchanged rows)."""
    docs = [{"v": value, "l": [value, {"w": value}], "kk": {"é": 1, "z": 2, "aa": 3}} for value in AWKWARD_VALUES]
    with psycopg.connect(fresh_dsn) as conn:
        for doc in docs:
            sent = dump_doc(doc)
            row = conn.execute("SELECT %s::jsonb::text", (sent.decode(),)).fetchone()
            assert row is not None
            assert canonical_doc(row[0]) == sent, (doc, row[0])


def test_every_batch_digest_is_what_the_stored_rows_give(fresh_app_dsn: str, fresh_dsn: str, make_event: Make) -> None:
    """Hostile and awkward events in batches of 700: the digest of the tuples sent equals the one
    recomputed from the stored rows, for every batch (the writer's first-batch check forced on
    each), and `verify` proves the chain."""
    events = awkward_events(make_event)
    with EventWriter(fresh_app_dsn) as writer:
        receipts = []
        for i in range(0, len(events), 700):
            writer._digest_checked = False
            receipts.append(writer.write_batch(events[i:i + 700]))
            assert writer._client_digest, f"batch {receipts[-1].batch_id}: sent digest differs from the stored rows"
    with psycopg.connect(fresh_dsn) as conn:
        for receipt in receipts:
            row = conn.execute("SELECT content_hash, stored_at, digest_version FROM batches WHERE batch_id = %s",
                               (receipt.batch_id,)).fetchone()
            assert row is not None and row[2] == 2
            assert stored_digest(conn, receipt.batch_id, row[1]) == (receipt.rows, bytes(row[0]))
    report = verify(fresh_dsn)
    assert report.ok and report.rows_checked == len(events)


def test_a_server_storing_other_bytes_is_followed(fresh_app_dsn: str, fresh_dsn: str, make_event: Make) -> None:
    """A server that stores something else than what it was sent (here a trigger rewriting
    `host`): the writer's first-batch check notices, it reads every batch back from then on,
    and `verify` still agrees with what was recorded."""
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("""
            CREATE FUNCTION q_rewrite_host() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.host := 'rewritten'; RETURN NEW; END $$;
            CREATE TRIGGER q_rewrite_host BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION q_rewrite_host();
        """)
    with EventWriter(fresh_app_dsn) as writer:
        writer.write_batch([make_event(i) for i in range(50)])
        assert not writer._client_digest
        writer.write_batch([make_event(i) for i in range(50, 100)])
    assert verify(fresh_dsn).ok


def _write_version_1(dsn: str, events: list[Event], monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch as the writer stored it before migration 0300: version 1, the database function's digest."""
    def server_digest(self: EventWriter, conn: psycopg.Connection, batch: Any) -> tuple[int, bytes]:
        row = conn.execute("SELECT row_count, digest FROM guetteur_batch_digest(%s, %s)",
                           (batch.batch_id, batch.stored_at)).fetchone()
        assert row is not None
        return int(row[0]), bytes(row[1])
    with monkeypatch.context() as patch:
        patch.setattr(writer_module, "DIGEST_VERSION", 1)
        patch.setattr(EventWriter, "_digest", server_digest)
        with EventWriter(dsn) as writer:
            writer.write_batch(events)


def test_version_1_batches_still_verify_and_tampering_is_found(
        fresh_app_dsn: str, fresh_dsn: str, make_event: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chain that starts with version 1 batches and goes on with version 2 verifies; a row
    changed in either kind is found and named."""
    _write_version_1(fresh_app_dsn, [make_event(i) for i in range(100)], monkeypatch)
    with EventWriter(fresh_app_dsn) as writer:
        writer.write_batch([make_event(i) for i in range(100, 200)])
        writer.write_batch([make_event(i) for i in range(200, 300)])
    with psycopg.connect(fresh_dsn) as conn:
        versions = [r[0] for r in conn.execute("SELECT digest_version FROM batches ORDER BY seq")]
        batch_ids = [r[0] for r in conn.execute("SELECT batch_id FROM batches ORDER BY seq")]
    assert versions == [1, 2, 2]
    assert verify(fresh_dsn).ok
    for target in (batch_ids[2], batch_ids[0]):  # the later first: the report names the first broken
        with psycopg.connect(fresh_dsn) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute("UPDATE events SET doc = jsonb_set(doc, '{message}', '\"forged\"')"
                         " WHERE id = (SELECT id FROM events WHERE batch_id = %s ORDER BY id LIMIT 1)", (target,))
        report = verify(fresh_dsn)
        assert not report.ok and report.first_broken_batch == target
        assert report.reason is not None and report.reason.startswith("rows changed")


def test_a_changed_digest_version_is_found(fresh_app_dsn: str, fresh_dsn: str, make_event: Make) -> None:
    """Relabelling a version 2 batch as version 1 does not pass: the content hash must then be
    the database function's."""
    with EventWriter(fresh_app_dsn) as writer:
        receipt = writer.write_batch([make_event(i) for i in range(50)])
    with psycopg.connect(fresh_dsn) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE batches SET digest_version = 1 WHERE batch_id = %s", (receipt.batch_id,))
    report = verify(fresh_dsn)
    assert not report.ok and report.first_broken_batch == receipt.batch_id


def test_postgres_does_not_read_the_batch_back(fresh_app_dsn: str, fresh_dsn: str, make_event: Make,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """After the connection's first batch, a batch costs PostgreSQL only the COPY and the chain
    link: the stored rows are not read back (version 1 rendered and sent back every row)."""
    events = [make_event(i) for i in range(600)]
    with EventWriter(fresh_app_dsn) as writer:
        writer.write_batch(events[:100])

        def read_back(*args: Any) -> tuple[int, bytes]:
            raise AssertionError("the batch was read back")

        monkeypatch.setattr(writer_module, "stored_digest", read_back)
        for start in range(100, 600, 100):
            writer.write_batch(events[start:start + 100])
    assert verify(fresh_dsn).ok


def test_given_ids_are_used_and_duplicates_still_replaced(fresh_app_dsn: str, make_event: Make) -> None:
    events = [make_event(i) for i in range(20)]
    ids = assign_event_ids(events)
    with EventWriter(fresh_app_dsn) as writer:
        receipt = writer.write_batch(events, ids=ids)
        assert receipt.ids == [e["event"]["id"] for e in events]
        dup = [make_event(100), make_event(101)]
        raw = assign_event_ids(dup)
        dup[1]["event"]["id"] = dup[0]["event"]["id"]
        receipt = writer.write_batch(dup, ids=[raw[0], raw[0]])
        assert len(set(receipt.ids)) == 2 and receipt.ids[0] == dup[0]["event"]["id"]


@pytest.mark.parametrize("chunk", [1, 7, 64, 65_536])
def test_the_stored_rows_are_read_back_as_a_stream(make_event: Make, chunk: int) -> None:
    """Whatever the chunks the server's COPY output arrives in, the reader gives back exactly
    the tuples the writer encoded (their `doc` is already canonical), and knows the end."""
    events = awkward_events(make_event)[:400]
    field = batch_id_field(7)
    rows = [encode_event(event, field, 0, raw) for event, raw in zip(events, assign_event_ids(events), strict=True)]
    data = COPY_HEADER + b"".join(rows) + COPY_TRAILER
    reader = _TupleReader()
    tuples = []
    for start in range(0, len(data), chunk):
        assert not reader.ended
        tuples.extend(reader.feed(data[start:start + chunk]))
    assert reader.ended
    assert tuples == rows


def test_a_doc_that_is_not_json_fails_the_digest_not_verify() -> None:
    """A stored `doc` that does not read back as JSON (only tampering makes one) is hashed as it
    is: `verify` then reports the batch, it does not crash."""
    assert _canonical_field(b"\x01{not json") == b"\x00\x00\x00\x0a\x01{not json"
