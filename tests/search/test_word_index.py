"""The optional word index on `message` (migration 0600; created by the operator, as
here): the planner answers free text from it, and the answers are the same with the index forced
as without it, on the fixed data set and on messages
built to sit on the edges of the token rules (dots, arrays, non-ASCII, words too long to index)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from tests.search.databases import copied_database
from tests.search.test_queries import CASES, KNOWN, NOW

from guetteur.search.compile import compile_query
from guetteur.search.evaluate import compile_filter, matches
from guetteur.search.values import tokens
from guetteur.store.writer import EventWriter

LONG = "x" * 300
CREATE_INDEX = "CREATE INDEX IF NOT EXISTS events_message_words ON events USING gin (guetteur_message_words(doc))"
EDGES: list[dict[str, Any]] = [
    {"message": "Failed password for root from 10.0.0.5 port 22", "labels": {"doc": "e1"}},
    {"message": "a..b c. .d e.f.g", "labels": {"doc": "e2"}},
    {"message": ["Disk FULL", 3, {"not": "text"}, "retry later"], "labels": {"doc": "e3"}},
    {"message": f"token {LONG} end", "labels": {"doc": "e4"}},
    {"message": "Ünïcode wörds: naïve café", "labels": {"doc": "e5"}},
    {"message": 42, "labels": {"doc": "e6"}},
    {"labels": {"doc": "e7"}},
    {"message": "user_5 USER5 user5.example.org", "labels": {"doc": "e8"}},
]
EDGE_QUERIES = [
    "failed", '"failed password"', '"password failed"', "root or nobody", "b", "a", "d", "e.f.g", "e.f", "f",
    "full", '"disk full"', "later", "text", "3", LONG, f'"token {LONG} end"', "token", "café", "naïve",
    "ünïcode", "user5", "user_5", "user5.example.org", "example", "42", "not failed", "failed and not root",
    "full or root", "fail*", "*",
]


@pytest.fixture(scope="module")
def edge_dsn(pg_server_dsn: str, pg_template: str) -> Iterator[str]:
    """A database holding `EDGES`, its statistics gathered."""
    with copied_database(pg_server_dsn, pg_template, "guetteur_test_words") as dsn:
        writer = EventWriter(dsn)
        writer.write_batch([dict(copy.deepcopy(e), event={}) for e in EDGES])
        writer.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(CREATE_INDEX)
            conn.execute("ANALYZE events")
        yield dsn


@pytest.fixture(scope="module")
def indexed_seeded_dsn(seeded_dsn: str, seeded_app_dsn: str) -> str:
    """The fixed data set's database with the word index (application role DSN)."""
    with psycopg.connect(seeded_dsn, autocommit=True) as conn:
        conn.execute(CREATE_INDEX)
    return seeded_app_dsn


def _run(dsn: str, query: str, *, forced: bool) -> frozenset[str]:
    compiled = compile_query(query, known=KNOWN, now=NOW, word_index=True)
    statement = sql.Composed([sql.SQL("SELECT doc->'labels'->>'doc' FROM events WHERE "), compiled.where])
    with psycopg.connect(dsn) as conn:
        if forced:  # leave the planner no other way than an index where one applies
            conn.execute("SET enable_seqscan = off")
        return frozenset(r[0] for r in conn.execute(statement, compiled.params).fetchall())


def _plan(dsn: str, query: str, *, word_index: bool = True) -> str:
    compiled = compile_query(query, known=KNOWN, now=NOW, word_index=word_index)
    statement = sql.Composed([sql.SQL("EXPLAIN SELECT count(*) FROM events WHERE "), compiled.where])
    with psycopg.connect(dsn) as conn:
        conn.execute("SET enable_seqscan = off")
        return "\n".join(r[0] for r in conn.execute(statement, compiled.params).fetchall())


@pytest.mark.parametrize("query", ['"failed password"', "failed", "root or password", "failed and not root"])
def test_free_text_is_answered_from_the_word_index(edge_dsn: str, query: str) -> None:
    """A word or phrase of `message` (outside `not`) is read from the GIN index on its words,
    not by a scan of every event of the range."""
    plan = _plan(edge_dsn, query)
    assert "Bitmap Index Scan" in plan and "message_words" in plan, plan


@pytest.mark.parametrize("query", ["fail*", "not failed", LONG, "café"])
def test_the_index_is_skipped_where_it_could_change_the_answer(edge_dsn: str, query: str) -> None:
    """Wildcards, negations, non-ASCII words and words longer than the index keeps are not
    looked up in it (their answers come from the exact test alone)."""
    assert "message_words" not in _plan(edge_dsn, query)


@pytest.mark.parametrize("query", EDGE_QUERIES)
def test_edge_messages_same_answers_with_and_without_the_index(edge_dsn: str, query: str) -> None:
    """On messages at the edges of the token rules, SQL with the index forced, SQL by scan and
    the Python evaluator return the same documents."""
    plan = compile_filter(query, known=KNOWN, now=NOW)
    by_python = frozenset(e["labels"]["doc"] for e in EDGES if matches(plan, e, NOW))
    assert _run(edge_dsn, query, forced=True) == by_python
    assert _run(edge_dsn, query, forced=False) == by_python


def test_a_word_longer_than_the_index_keeps_is_stored_and_found(edge_dsn: str) -> None:
    """A 300-character word (GIN keys must fit a third of a page) neither stops the event from
    being stored nor from being found."""
    assert _run(edge_dsn, LONG, forced=True) == {"e4"}


@pytest.mark.parametrize(("query", "expected", "why"), CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_fixed_queries_with_the_index_forced(indexed_seeded_dsn: str, query: str, expected: frozenset[str],
                                             why: str) -> None:
    """Every query of the fixed suite gives its expected documents when the planner must use
    indexes wherever it can."""
    assert _run(indexed_seeded_dsn, query, forced=True) == expected, why


def test_without_the_index_the_compiler_does_not_test_words(edge_dsn: str) -> None:
    """By default (the store has no word index: migrations do not create it) free text compiles to
    the exact test alone, which costs no function call per row."""
    assert "guetteur_message_words" not in compile_query('"failed password"', known=KNOWN, now=NOW).where.as_string(None)
    assert "message_words" not in _plan(edge_dsn, '"failed password"', word_index=False)


messages = st.text(alphabet=st.sampled_from("aZ_9.. -\t/éİßK:"), max_size=60)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=messages, repeat=st.sampled_from([1, 40]))
def test_the_split_words_are_the_matched_words(edge_dsn: str, text: str, repeat: int) -> None:
    """The index's fast path (one split, for strings up to 1500 bytes) gives the same set of
    words as its reference path (the compiler's token pattern, matched), and, on ASCII text, the
    same words as the Python tokenizer the query side uses (up to the 256-byte limit)."""
    message = text * repeat
    doc = orjson.dumps({"message": message}).decode()
    with psycopg.connect(edge_dsn) as conn:
        split, matched = conn.execute("SELECT guetteur_message_words(%s::jsonb),"
                                      " guetteur_message_words_matched(%s::jsonb)", (doc, doc)).fetchone() or ([], [])
    assert set(split) == set(matched) | ({w for w in split if len(w.encode()) > 256})
    if message.isascii():
        assert set(matched) == {w for w in tokens(message) if len(w) <= 256}
