"""The search tests' fixed data set, stored once per module in a database of its own."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from tests.search.databases import copied_database
from tests.search.dataset import DOCS

from guetteur.store.database import app_dsn as resolve_app_dsn
from guetteur.store.writer import EventWriter


@pytest.fixture(scope="module")
def seeded_dsn(pg_server_dsn: str, pg_template: str) -> Iterator[str]:
    """Owner DSN of a database holding exactly `DOCS` (one batch)."""
    with copied_database(pg_server_dsn, pg_template, "guetteur_test_search") as dsn:
        writer = EventWriter(dsn)
        events: list[dict[str, Any]] = copy.deepcopy(list(DOCS))
        for event in events:
            event.setdefault("event", {})
        writer.write_batch(events)
        writer.close()
        yield dsn


@pytest.fixture(scope="module")
def seeded_app_dsn(seeded_dsn: str) -> str:
    return resolve_app_dsn(seeded_dsn)
