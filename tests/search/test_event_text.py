"""The message texts (`event_text`, migration 0790): the writer stores one row per event that has
a `message` in the batch's transaction, free-text counts and histograms read them, and they give
exactly what reading `events` gives: on the fixed suite, on messages at the edges of the token
rules (arrays, numbers, no message, non-ASCII, dots), and on random messages. Their partitions
follow those of `events`: created with them, paired when one was made by hand, dropped with them
by retention; a migration fills them for the events stored before it."""

from __future__ import annotations

import copy
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from tests.search.databases import copied_database
from tests.search.test_queries import CASES, KNOWN, NOW
from tests.search.test_word_index import EDGE_QUERIES, EDGES

from guetteur.search.compile import Compiled, compile_query
from guetteur.search.evaluate import compile_filter, matches
from guetteur.store.database import with_params
from guetteur.store.migrate import migrate, migration_files
from guetteur.store.pool import open_pool
from guetteur.store.search import TimeRange, _matched_keys, count, histogram, search
from guetteur.store.writer import EventWriter

WIDE = TimeRange(datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
TEXT_CASES = [c for c in CASES if compile_query(c[0], known=KNOWN, now=NOW).text is not None]


def _labels(dsn: str, compiled: Compiled) -> frozenset[str]:
    """The documents the `event_text` path selects (with their ids: each event once)."""
    matched, params = _matched_keys(compiled, WIDE)
    statement = sql.Composed([sql.SQL("SELECT e.doc->'labels'->>'doc', count(*) OVER (PARTITION BY e.id) FROM events e"
                                      " JOIN ("), matched, sql.SQL(") AS t ON (t.ts, t.id) = (e.ts, e.id)")])
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(statement, params).fetchall()
    assert all(n == 1 for _, n in rows)
    return frozenset(r[0] for r in rows)


def _by_scan(dsn: str, compiled: Compiled) -> frozenset[str]:
    statement = sql.Composed([sql.SQL("SELECT doc->'labels'->>'doc' FROM events WHERE "), compiled.where])
    with psycopg.connect(dsn) as conn:
        return frozenset(r[0] for r in conn.execute(statement, compiled.params).fetchall())


@pytest.fixture(scope="module")
def edge_text_dsn(pg_server_dsn: str, pg_template: str) -> Iterator[str]:
    """A database holding the word-index tests' edge messages (no word index)."""
    with copied_database(pg_server_dsn, pg_template, "guetteur_test_text") as dsn:
        with EventWriter(dsn) as writer:
            writer.write_batch([dict(copy.deepcopy(e), event={}) for e in EDGES])
        yield dsn


def test_the_fixed_suite_has_free_text_queries_for_this_path() -> None:
    """Enough of the suite's queries are answered from `event_text` for the test below to mean
    something; queries on other fields, or that an event without a message can match, are not."""
    assert len(TEXT_CASES) >= 10
    for query in ["not failed", "failed or host.name:web-1", "host.name:web-1 and failed", "*", "",
                  "message:*", "failed or not password"]:
        assert compile_query(query, known=KNOWN, now=NOW).text is None, query
    assert compile_query("failed", known=KNOWN, now=NOW, word_index=True).text is None  # the index is faster


@pytest.mark.parametrize(("query", "expected", "why"), TEXT_CASES, ids=[c[0] for c in TEXT_CASES])
async def test_fixed_queries_from_the_message_texts(seeded_dsn: str, seeded_app_dsn: str, query: str,
                                                    expected: frozenset[str], why: str) -> None:
    """Each query's documents, count and histogram total read from `event_text` are the expected
    ones (as the application role, for the count and histogram)."""
    compiled = compile_query(query, known=KNOWN, now=NOW)
    assert _labels(seeded_dsn, compiled) == expected, why
    pool = await open_pool(seeded_app_dsn, max_size=1)
    try:
        assert await count(pool, compiled, WIDE) == len(expected)
        width, buckets = await histogram(pool, compiled, TimeRange(NOW - timedelta(days=400), NOW + timedelta(days=1)))
        assert sum(n for _, n in buckets) == await count(pool, compiled, TimeRange(
            NOW - timedelta(days=400), NOW + timedelta(days=1)), use_text=False)
    finally:
        await pool.close()


@pytest.mark.parametrize("query", EDGE_QUERIES)
def test_edge_messages_same_answers_as_events(edge_text_dsn: str, query: str) -> None:
    """Arrays (tested on `events`), numbers, no message, non-ASCII, dots, long words: the path
    gives the documents of the scan of `events` and of the Python evaluator."""
    compiled = compile_query(query, known=KNOWN, now=NOW)
    plan = compile_filter(query, known=KNOWN, now=NOW)
    by_python = frozenset(e["labels"]["doc"] for e in EDGES if matches(plan, e, NOW))
    assert _by_scan(edge_text_dsn, compiled) == by_python
    if compiled.text is not None:
        assert _labels(edge_text_dsn, compiled) == by_python


def test_one_row_per_event_with_a_message(edge_text_dsn: str) -> None:
    """String messages lower-cased by PostgreSQL, other JSON types NULL, no row without a message;
    the row's time and id are the event's."""
    with psycopg.connect(edge_text_dsn) as conn:
        rows = conn.execute("SELECT e.doc->'labels'->>'doc', t.m, t.ts = e.ts, t.ingested = e.ingested"
                            " FROM events e LEFT JOIN event_text t ON t.id = e.id ORDER BY 1").fetchall()
    by_doc = {r[0]: r for r in rows}
    assert by_doc["e1"][1:] == ("failed password for root from 10.0.0.5 port 22", True, True)
    assert by_doc["e5"][1] == "ünïcode wörds: naïve café"
    assert by_doc["e3"][1:] == (None, True, True) and by_doc["e6"][1:] == (None, True, True)  # array, number
    assert by_doc["e7"][1:] == (None, None, None)  # no message: no row
    assert len(rows) == len(EDGES)


words = st.text(alphabet=st.sampled_from("aZ_9.. -\t/éİßK:"), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.one_of(words, st.lists(words, max_size=3), st.integers(), st.none()), min_size=1,
                      max_size=6),
       query=st.sampled_from(["a", "z_9", '"a z"', "a.z", "9", "é", "k", "ß", "a*", "a and not z", "a or 9",
                              '"a"', "a and (z or é)", "not a and z"]))
def test_random_messages_same_answers_as_events(fresh_dsn: str, texts: list[Any], query: str) -> None:
    """Random messages (strings, arrays, numbers, none) stored by the writer: the path gives the
    documents of the scan of `events`."""
    docs = [{"labels": {"doc": f"r{i}-{secrets.token_hex(3)}"}, "event": {}} | ({} if t is None else {"message": t})
            for i, t in enumerate(texts)]
    with EventWriter(fresh_dsn) as writer:
        writer.write_batch(docs)
    compiled = compile_query(query, known=KNOWN, now=NOW)
    if compiled.text is not None:
        assert _labels(fresh_dsn, compiled) == _by_scan(fresh_dsn, compiled)


def test_a_partition_made_by_hand_is_paired_by_the_writer(fresh_dsn: str, fresh_app_dsn: str) -> None:
    """Today's `event_text` partition gone (as if `events`' had been made by hand): the writer pairs
    it and stores the batch, texts included."""
    with EventWriter(fresh_app_dsn) as writer:  # its connection made the partitions already
        with psycopg.connect(fresh_dsn, autocommit=True) as conn:
            row = conn.execute("SELECT 'event_text_' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')").fetchone()
            assert row is not None
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(row[0])))
        writer.write_batch([{"message": "Paired Again", "event": {}}])
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("SELECT m FROM event_text").fetchall() == [("paired again",)]


def test_the_migration_fills_the_texts_of_earlier_events(pg_server_dsn: str, tmp_path: Path) -> None:
    """Events stored before migration 0790 get their rows when it runs."""
    name = f"guetteur_test_text_mig_{secrets.token_hex(4)}"
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = with_params(pg_server_dsn, dbname=name)
    try:
        for file_name, text in migration_files():
            if file_name < "0790":
                (tmp_path / file_name).write_bytes(text)
        migrate(dsn, tmp_path)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT guetteur_ensure_event_partitions(1)")
            conn.execute("INSERT INTO events (id, ts, batch_id, doc) VALUES"
                         " (gen_random_uuid(), now(), 1, '{\"message\": \"Before The Table\"}'),"
                         " (gen_random_uuid(), now(), 1, '{\"message\": [\"x\"]}'),"
                         " (gen_random_uuid(), now(), 1, '{}')")
        migrate(dsn)
        with psycopg.connect(dsn) as conn:
            rows = conn.execute("SELECT m FROM event_text ORDER BY m").fetchall()
            twins = conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'event_text'::regclass").fetchone()
            parts = conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass").fetchone()
        assert rows == [("before the table",), (None,)]
        assert twins == parts
    finally:
        with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_the_application_role_cannot_change_or_erase_texts(fresh_dsn: str, fresh_app_dsn: str) -> None:
    """Append-only like `events`: no UPDATE, DELETE or TRUNCATE, even by the owner."""
    with EventWriter(fresh_app_dsn) as writer:
        writer.write_batch([{"message": "keep me", "event": {}}])
    for dsn in (fresh_app_dsn, fresh_dsn):
        for statement in ("UPDATE event_text SET m = 'x'", "DELETE FROM event_text", "TRUNCATE event_text"):
            with psycopg.connect(dsn) as conn, pytest.raises(psycopg.Error):
                conn.execute(statement)


@pytest.fixture
async def app_pool(fresh_app_dsn: str) -> AsyncIterator[Any]:
    pool = await open_pool(fresh_app_dsn, max_size=1)
    yield pool
    await pool.close()


async def test_counts_follow_new_batches(fresh_dsn: str, app_pool: Any) -> None:
    """A count read from the texts sees each committed batch, as a count of `events` does."""
    compiled = compile_query("denied", known=KNOWN, now=NOW)
    assert compiled.text is not None
    with EventWriter(fresh_dsn) as writer:
        for n in range(1, 4):
            writer.write_batch([{"message": f"Access DENIED #{n}.{i}", "event": {}} for i in range(n)]
                               + [{"message": "allowed", "event": {}}])
            window = TimeRange(datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1))
            assert await count(app_pool, compiled, window) == n * (n + 1) // 2
            assert await count(app_pool, compiled, window, use_text=False) == n * (n + 1) // 2


async def _pages(pool: Any, compiled: Compiled, *, use_text: bool, newest_first: bool) -> list[str]:
    out: list[str] = []
    cursor = None
    while True:
        events, cursor = await search(pool, compiled, WIDE, limit=2, after=cursor, newest_first=newest_first,
                                      use_text=use_text)
        out += [e["labels"]["doc"] for e in events]
        if cursor is None:
            return out


@pytest.mark.parametrize(("first_rows", "wider_rows"), [(1, 0), (1, 1_000), (3, 1_000), (100_000, 0)])
@pytest.mark.parametrize("newest_first", [True, False])
async def test_pages_from_the_message_texts(seeded_app_dsn: str, monkeypatch: pytest.MonkeyPatch, first_rows: int,
                                            wider_rows: int, newest_first: bool) -> None:
    """Every free-text query of the suite pages through the same events in the same order whether
    the page is found among the newest events (many first rows), among more of them (a second
    pass at the rate the first found), from `event_text` (one first row, no second pass: never
    a full page there), or by reading `events` alone."""
    monkeypatch.setattr("guetteur.store.search.TEXT_FIRST_ROWS", first_rows)
    monkeypatch.setattr("guetteur.store.search.TEXT_WIDER_ROWS", wider_rows)
    pool = await open_pool(seeded_app_dsn, max_size=1)
    try:
        for query, expected, why in TEXT_CASES:
            compiled = compile_query(query, known=KNOWN, now=NOW)
            by_text = await _pages(pool, compiled, use_text=True, newest_first=newest_first)
            assert by_text == await _pages(pool, compiled, use_text=False, newest_first=newest_first), query
            assert sorted(by_text) == sorted(expected), why
    finally:
        await pool.close()


MIXED = [f"({q}) and {f}" for q, _, _ in TEXT_CASES[:12]
         for f in ("host.name:web-1", "not event.outcome:success", "event.severity >= 3")]


@pytest.mark.parametrize("candidates_max", [0, 100_000])
async def test_free_text_with_other_fields_counts_as_events(seeded_dsn: str, seeded_app_dsn: str,
                                                            stored_docs: list[tuple[datetime, dict[str, Any]]],
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            candidates_max: int) -> None:
    """Free text and other fields: the count and histogram from the candidates of `event_text`
    (or, past `CANDIDATES_MAX` of them, from `events`) are those of the Python evaluator."""
    monkeypatch.setattr("guetteur.store.search.CANDIDATES_MAX", candidates_max)
    window = TimeRange(NOW - timedelta(days=400), NOW + timedelta(days=1))
    pool = await open_pool(seeded_app_dsn, max_size=1)
    try:
        used = found = 0
        for query in MIXED:
            compiled = compile_query(query, known=KNOWN, now=NOW)
            if compiled.text_filter is None:
                continue
            used += 1
            plan = compile_filter(query, known=KNOWN, now=NOW)
            expected = sum(1 for ts, doc in stored_docs if window.start <= ts < window.end and matches(plan, doc, ts))
            assert await count(pool, compiled, window) == expected, query
            _, buckets = await histogram(pool, compiled, window)
            assert sum(n for _, n in buckets) == expected, query
            found += expected
        assert used >= 30 and found >= 10
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def stored_docs(seeded_dsn: str) -> list[tuple[datetime, dict[str, Any]]]:
    with psycopg.connect(seeded_dsn) as conn:
        return [(ts, orjson.loads(text)) for ts, text in conn.execute("SELECT ts, doc::text FROM events").fetchall()]
