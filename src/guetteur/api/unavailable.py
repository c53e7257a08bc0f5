"""The answer when PostgreSQL is away: 503 + Retry-After, never a 500 with a traceback.

Any route that reaches the database (events, key checks, health details) may meet a
connection that died with the server (`psycopg.OperationalError`) or wait in vain for one
(`psycopg_pool.PoolTimeout`, after `store.pool.CONNECTION_WAIT_SECONDS`), or the store says
so in its own words (`StoreUnavailable`). One exception handler turns them into the same answer; ingest checks the supervisor before it reads a
body and answers the same way (`unavailable_response`).
"""

from __future__ import annotations

import logging

import psycopg
from fastapi import Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from guetteur.errors import StoreUnavailable

log = logging.getLogger(__name__)

DATABASE_ERRORS = (psycopg.OperationalError, PoolTimeout, StoreUnavailable)
DEFAULT_RETRY_AFTER_SECONDS = 2


def unavailable_response(retry_after: int = DEFAULT_RETRY_AFTER_SECONDS) -> JSONResponse:
    return JSONResponse({"detail": "database unavailable, retry later"}, status_code=503,
                        headers={"Retry-After": str(retry_after)})


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for `DATABASE_ERRORS`."""
    log.warning("%s %s: database unavailable (%s)", request.method, request.url.path, type(exc).__name__)
    supervisor = getattr(request.app.state.guetteur, "database", None)
    retry_after = supervisor.retry_after() if supervisor is not None else DEFAULT_RETRY_AFTER_SECONDS
    return unavailable_response(retry_after)
