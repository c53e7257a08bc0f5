"""The search tests' fixed data set, stored once per module in a database of its own."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.search.dataset import DOCS

from guetteur.store.database import app_dsn as resolve_app_dsn
from guetteur.store.database import with_params
from guetteur.store.writer import EventWriter


@pytest.fixture(scope="module")
def seeded_dsn(pg_server_dsn: str, pg_template: str) -> Iterator[str]:
    """Owner DSN of a database holding exactly `DOCS` (one batch)."""
    name = f"guetteur_test_search_{secrets.token_hex(4)}"
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
            sql.Identifier(name), sql.Identifier(pg_template)))
    dsn = with_params(pg_server_dsn, dbname=name)
    writer = EventWriter(dsn)
    events: list[dict[str, Any]] = copy.deepcopy(list(DOCS))
    for event in events:
        event.setdefault("event", {})
    writer.write_batch(events)
    writer.close()
    try:
        yield dsn
    finally:
        with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def seeded_app_dsn(seeded_dsn: str) -> str:
    return resolve_app_dsn(seeded_dsn)
