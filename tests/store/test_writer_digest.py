"""The writer hashes the server's row texts itself: the digest must be `guetteur_batch_digest`'s."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from test_writer import hostile_events

from guetteur.model import Event
from guetteur.store.chain import verify
from guetteur.store.ids import assign_event_ids
from guetteur.store.writer import EventWriter

Make = Callable[..., Event]


def test_client_digest_is_the_database_function(fresh_app_dsn: str, fresh_dsn: str, make_event: Make) -> None:
    events = hostile_events(make_event)
    with EventWriter(fresh_app_dsn) as writer:
        receipts = [writer.write_batch(events[i:i + 700]) for i in range(0, len(events), 700)]
        assert writer._client_digest, "the first batch's digest differed from guetteur_batch_digest"
    with psycopg.connect(fresh_dsn) as conn:
        for receipt in receipts:
            row = conn.execute("SELECT content_hash FROM batches WHERE batch_id = %s", (receipt.batch_id,)).fetchone()
            stored_at = conn.execute("SELECT stored_at FROM batches WHERE batch_id = %s",
                                     (receipt.batch_id,)).fetchone()
            assert row is not None and stored_at is not None
            server = conn.execute("SELECT digest FROM guetteur_batch_digest(%s, %s)",
                                  (receipt.batch_id, stored_at[0])).fetchone()
            assert server is not None and bytes(server[0]) == bytes(row[0])
    assert verify(fresh_dsn).ok


def test_a_changed_digest_function_is_followed(fresh_app_dsn: str, fresh_dsn: str, make_event: Make) -> None:
    """A later migration replacing the function: the writer notices on its first batch and
    stores what the function gives, so `verify` still agrees."""
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("""
            CREATE OR REPLACE FUNCTION guetteur_batch_digest(p_batch bigint, p_ingested timestamptz,
                                                             OUT row_count bigint, OUT digest bytea)
            LANGUAGE sql STABLE AS $$
                SELECT count(*), sha256(convert_to(string_agg(e.id::text, ',' ORDER BY e.id), 'UTF8'))
                FROM events e WHERE e.batch_id = p_batch AND e.ingested = p_ingested
            $$""")
    with EventWriter(fresh_app_dsn) as writer:
        writer.write_batch([make_event(i) for i in range(50)])
        assert not writer._client_digest
        writer.write_batch([make_event(i) for i in range(50, 100)])
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
