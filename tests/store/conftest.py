"""Fixtures of the store tests: realistic events and an async pool."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from psycopg_pool import AsyncConnectionPool
from store_helpers import realistic_event

from guetteur.model import Event
from guetteur.store.pool import open_pool


@pytest.fixture
def make_event() -> Callable[..., Event]:
    return realistic_event


@pytest.fixture
async def app_pool(fresh_app_dsn: str) -> AsyncIterator[AsyncConnectionPool]:
    """An async pool on a fresh database, as the application role."""
    pool = await open_pool(fresh_app_dsn, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()
