"""The writer isolates records PostgreSQL refuses (the events or what goes with them) inside the
batch's transaction, stores them in quarantine form, and stores the rest normally; recoverable
failures roll the whole batch back and are raised for the caller to retry."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import pytest
from store_helpers import count

from guetteur.detect.hits import Hit
from guetteur.errors import QuarantineFailed, StoreUnavailable
from guetteur.model import Event
from guetteur.store.chain import verify
from guetteur.store.detection import insert_hits
from guetteur.store.ids import assign_event_ids
from guetteur.store.writer import EventWriter

Make = Callable[[int], Event]

def hit_for(event: Event, **changes: Any) -> Hit:
    fields: dict[str, Any] = {
        "rule_id": "rule-1", "rule_title": "Test rule", "level": "high", "tags": ["attack.t1110"],
        "event_ids": [event["event"]["id"]], "event_times": [event["@timestamp"]], "event": event,
    }
    fields.update(changes)
    return Hit(**fields)


def hits_callback(hits: dict[int, list[Hit]]) -> Callable[[psycopg.Connection, Sequence[int]], None]:
    def store(conn: psycopg.Connection, positions: Sequence[int]) -> None:
        part = [hit for p in positions for hit in hits.get(p, ())]
        if part:
            insert_hits(conn, part)

    return store


def quarantined_rows(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT id::text, source, error_kind, sqlstate, error, record FROM quarantined_events ORDER BY id"
        ).fetchall()


def test_a_hit_that_cannot_be_stored_quarantines_its_event_only(fresh_app_dsn: str, fresh_dsn: str,
                                                               make_event: Make) -> None:
    """One event of 1,000 (holding a NUL character) has a hit psycopg refuses on every attempt
    (its rule title holds a NUL: no SQLSTATE, the content's fault). The 999 others and their
    hits are stored normally, the poison is stored once, quarantined, with its exact content,
    in the same chained batch."""
    events = [make_event(i) for i in range(1000)]
    poison = events[613]
    poison["message"] = "Failed password for r\x00ot"
    poison["input"] = {"type": "http"}
    ids = assign_event_ids(events)  # as detection does before the hits exist
    hits = {i: [hit_for(event)] for i, event in enumerate(events) if i % 3 == 0}
    hits[613] = [hit_for(poison, rule_title="Marker\x00Rule")]
    with EventWriter(fresh_app_dsn) as writer:
        receipt = writer.write_batch(events, hits_callback(hits), ids)
    assert receipt.rows == 1000 and receipt.quarantined == [613]
    assert count(fresh_dsn) == 1000
    assert count(fresh_dsn, "SELECT count(*) FROM hits") == len(hits) - 1
    assert count(fresh_dsn, "SELECT count(*) FROM hits WHERE %s = ANY(event_ids)", (poison["event"]["id"],)) == 0
    assert verify(fresh_dsn).ok
    [(event_id, source, kind, code, error, record)] = quarantined_rows(fresh_dsn)
    assert event_id == poison["event"]["id"] and source == "http"
    assert kind == "RecordRejected" and code is None and "cannot contain NUL" in error
    kept = json.loads(record)
    assert kept["message"] == "Failed password for r\x00ot"  # exact, NUL included
    assert kept["@timestamp"] == poison["@timestamp"]


def test_a_value_postgresql_refuses_is_quarantined_with_its_sqlstate(fresh_app_dsn: str, fresh_dsn: str,
                                                                    make_event: Make) -> None:
    """PostgreSQL's jsonb refuses \\u0000 (SQLSTATE 22P05, a data exception): not recoverable,
    so the record is isolated and quarantined, never retried."""
    events = [make_event(i) for i in range(40)]
    ids = assign_event_ids(events)
    hits = {i: [hit_for(event)] for i, event in enumerate(events)}
    hits[7] = [hit_for(events[7], group_key={"user.name": "ad\x00min"})]
    with EventWriter(fresh_app_dsn) as writer:
        receipt = writer.write_batch(events, hits_callback(hits), ids)
    assert receipt.quarantined == [7]
    assert count(fresh_dsn) == 40 and count(fresh_dsn, "SELECT count(*) FROM hits") == 39
    [(_id, _source, kind, code, error, _record)] = quarantined_rows(fresh_dsn)
    assert (kind, code) == ("RecordRejected", "22P05")
    assert "UntranslatableCharacter" in error
    assert verify(fresh_dsn).ok


def test_a_refused_event_row_keeps_its_hit(fresh_app_dsn: str, fresh_dsn: str, make_event: Make) -> None:
    """When the event row is what PostgreSQL refuses (a constraint), its hit is still stored,
    next to its quarantined form: the detection is not lost."""
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE events ADD CONSTRAINT test_refuse CHECK (host IS DISTINCT FROM 'refuse-me')")
    events = [make_event(i) for i in range(10)]
    events[4]["host"]["name"] = "refuse-me"
    ids = assign_event_ids(events)
    hits = {4: [hit_for(events[4])]}
    with EventWriter(fresh_app_dsn) as writer:
        receipt = writer.write_batch(events, hits_callback(hits), ids)
    assert receipt.quarantined == [4]
    assert count(fresh_dsn, "SELECT count(*) FROM hits WHERE %s = ANY(event_ids)", (events[4]["event"]["id"],)) == 1
    [(_id, _source, kind, code, _error, _record)] = quarantined_rows(fresh_dsn)
    assert (kind, code) == ("RecordRejected", "23514")


def test_a_recoverable_failure_rolls_the_batch_back_and_quarantines_nothing(fresh_app_dsn: str, fresh_dsn: str,
                                                                           make_event: Make) -> None:
    """A serialization failure (SQLSTATE 40001) raised by the server while the hits are stored is
    recoverable: nothing of the batch is stored or quarantined, the caller retries it whole."""
    attempts = []

    def conflicting(conn: psycopg.Connection, positions: Sequence[int]) -> None:
        attempts.append(len(positions))
        if len(attempts) == 1:
            conn.execute("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")

    events = [make_event(i) for i in range(20)]
    with EventWriter(fresh_app_dsn) as writer:
        with pytest.raises(StoreUnavailable) as raised:
            writer.write_batch(events, conflicting)
        assert raised.value.recoverable and raised.value.code == "40001"
        assert count(fresh_dsn) == 0
        receipt = writer.write_batch(events, conflicting)  # the retry
    assert attempts == [20, 20] and receipt.quarantined == []
    assert count(fresh_dsn) == 20 and verify(fresh_dsn).ok


def test_when_even_the_quarantine_form_is_refused_the_failure_is_retried(fresh_app_dsn: str, fresh_dsn: str,
                                                                         make_event: Make) -> None:
    """A constraint that also refuses the quarantine form (its host column is NULL) means the
    cause is not the record: QuarantineFailed, recoverable, and nothing stored."""
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE events ADD CONSTRAINT test_host CHECK (host IS NOT NULL)")
    events = [make_event(i) for i in range(8)]
    del events[3]["host"]
    with EventWriter(fresh_app_dsn) as writer, pytest.raises(QuarantineFailed) as raised:
        writer.write_batch(events)
    assert raised.value.recoverable and raised.value.code == "23514"
    assert count(fresh_dsn) == 0
