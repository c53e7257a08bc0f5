"""The async connection pool the API reads through (psycopg 3 `AsyncConnectionPool`).

While PostgreSQL is away a request waits at most `timeout` seconds for a connection, then
gets `PoolTimeout` (the API answers 503); a connection that broke meanwhile raises
`OperationalError` on use (503 too) and is discarded. When the database is back, the
supervisor calls `pool.check()`, which drops the idle connections that died with it.
"""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

CONNECTION_WAIT_SECONDS = 10.0


async def open_pool(dsn: str, *, max_size: int = 8, min_size: int = 1,
                    application_name: str = "guetteur-api",
                    timeout: float = CONNECTION_WAIT_SECONDS) -> AsyncConnectionPool:
    """An opened pool of autocommit connections (reads never sit idle in a transaction);
    `timeout`: longest wait for a connection. Close it with `await pool.close()`."""
    pool = AsyncConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max(max_size, min_size),
        open=False,
        timeout=timeout,
        kwargs={"autocommit": True, "application_name": application_name},
    )
    await pool.open(wait=True, timeout=30)
    return pool
