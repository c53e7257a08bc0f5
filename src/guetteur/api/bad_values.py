"""The answer when PostgreSQL refuses a value a caller sent: 422 with PostgreSQL's reason, never a 500.

Route models check shapes and bounds, but some values only the database can judge: a NUL
character (`\\u0000`) that `text` and `jsonb` cannot hold, a number beyond a column's range, a
string that is not a valid value of the column's type. PostgreSQL reports them all as a
`psycopg.DataError` (SQLSTATE class 22, "data exception"); the statement changed nothing. One
exception handler turns them into the same answer as a failed model check.
"""

from __future__ import annotations

import logging

import psycopg
from fastapi import Request, status
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)


async def value_refused(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for `psycopg.DataError`."""
    reason = exc.diag.message_primary if isinstance(exc, psycopg.Error) and exc.diag.message_primary else str(exc)
    log.info("%s %s: a value was refused by the database: %s", request.method, request.url.path, reason)
    return JSONResponse({"detail": f"a value of the request cannot be stored: {reason}"},
                        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
