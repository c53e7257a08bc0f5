"""The async connection pool the API reads through (psycopg 3 `AsyncConnectionPool`)."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool


async def open_pool(dsn: str, *, max_size: int = 8, min_size: int = 1,
                    application_name: str = "guetteur-api") -> AsyncConnectionPool:
    """An opened pool of autocommit connections (reads never sit idle in a transaction).
    Close it with `await pool.close()`."""
    pool = AsyncConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max(max_size, min_size),
        open=False,
        kwargs={"autocommit": True, "application_name": application_name},
    )
    await pool.open(wait=True, timeout=30)
    return pool
