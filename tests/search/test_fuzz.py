"""Hypothesis on the compiler: any text either compiles to SQL whose only variable parts are
bound parameters, or is a KqlError with a position inside the text; the compiled SQL never
fails on real PostgreSQL, and returns the documents the Python evaluator picks."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from tests.search.test_queries import KNOWN, NOW

from guetteur.search.compile import compile_query
from guetteur.search.evaluate import compile_filter, matches
from guetteur.search.kql import KqlError

CONSTANTS = {"'array'", "'string'", "'number'", "'boolean'", "'null'", "'[]'"}
IDENTIFIERS = {'"C"', '"ts"', '"host"', '"user_name"', '"source_ip"', '"destination_ip"', '"action"', '"outcome"',
               '"source_type"', '"severity"'}
PIECES = [
    "host.name", "user.name", "source.ip", "message", "@timestamp", "event.severity", "metric.value", "tags",
    "labels.*", "*.ip", "*", ":", " : ", " < ", ">=", " or ", " and ", "not ", " OR ", "(", ")", '"', "\\",
    "\\*", "\\u0041", "\\n", "web-1", "alice", "10.0.0.0/8", '"2001:db8::1"', "2024-03-05", "now-1d", "404",
    "5", "-1.5e3", "fail*", "*word", "'", ";", "--", "{", "}", "\x00", "é", " ", "\t", "true",
]
kql_like = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
anything = st.text(max_size=80)


@pytest.fixture(scope="module")
def conn(seeded_app_dsn: str) -> Any:
    with psycopg.connect(seeded_app_dsn, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def stored(seeded_dsn: str) -> list[tuple[datetime, dict[str, Any]]]:
    with psycopg.connect(seeded_dsn) as connection:
        return [(ts, orjson.loads(text)) for ts, text in connection.execute("SELECT ts, doc::text FROM events")]


def check(text: str, conn: Any, stored: list[tuple[datetime, dict[str, Any]]]) -> None:
    try:
        compiled = compile_query(text, known=KNOWN, now=NOW)
    except KqlError as exc:
        assert 0 <= exc.position <= len(text)
        assert exc.reason
        return
    rendered = compiled.where.as_string(conn)
    assert rendered.count("%s") == len(compiled.params)
    # the SQL text holds only the compiler's own constants: nothing of the query is in it
    assert set(re.findall(r"'[^']*'", rendered)) <= CONSTANTS, rendered
    assert set(re.findall(r'"[^"]*"', rendered)) <= IDENTIFIERS, rendered
    statement = sql.Composed([sql.SQL("SELECT doc->'labels'->>'doc' FROM events WHERE "), compiled.where])
    found = {r[0] for r in conn.execute(statement, compiled.params).fetchall()}  # never raises
    plan = compile_filter(text, known=KNOWN, now=NOW)
    assert found == {doc["labels"]["doc"] for ts, doc in stored if matches(plan, doc, ts)}, text
    # The renderings on `event_text` (migration 0790): the same documents, or a superset for
    # the candidates' filter, which the exact condition then narrows.
    for rendering, statement in (
        (compiled.text, "SELECT e.doc->'labels'->>'doc' FROM events e JOIN event_text t ON t.id = e.id"
                        " WHERE t.m IS NOT NULL AND {} UNION ALL SELECT e.doc->'labels'->>'doc' FROM events e"
                        " JOIN event_text t ON t.id = e.id WHERE t.m IS NULL AND {}"),
        (compiled.text_filter, "SELECT e.doc->'labels'->>'doc' FROM events e JOIN event_text t ON t.id = e.id"
                               " WHERE (t.m IS NULL OR {}) AND {}"),
    ):
        if rendering is None:
            continue
        assert set(re.findall(r"'[^']*'", rendering[0].as_string(conn))) <= CONSTANTS
        query = sql.SQL(statement).format(rendering[0], compiled.where)
        rows = conn.execute(query, [*rendering[1], *compiled.params]).fetchall()
        assert sorted(r[0] for r in rows) == sorted(found), text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=kql_like)
def test_kql_like_text(text: str, conn: Any, stored: list[tuple[datetime, dict[str, Any]]]) -> None:
    """Query-shaped text built from KQL's own pieces."""
    check(text, conn, stored)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=anything)
def test_any_text(text: str, conn: Any, stored: list[tuple[datetime, dict[str, Any]]]) -> None:
    """Any Unicode text at all."""
    check(text, conn, stored)
