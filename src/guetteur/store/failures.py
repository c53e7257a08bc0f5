"""Database failures as Guetteur errors: which kind, hence whether a retry may succeed.

PostgreSQL says what went wrong with a SQLSTATE whose first two characters are its class.
The classes a retry can cure (the connection, the server's state, contention, resources)
are recoverable; the classes that depend on the rows sent (data exceptions, constraints,
program limits) are not, and the writer isolates the rows concerned. A failure psycopg
detects before sending anything has no SQLSTATE: its exception class decides. Any other
exception raised while writing is the content's doing (a value our own code cannot
convert), except running out of memory or an operating-system error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from guetteur.errors import (
    RecordRejected,
    StoreError,
    StoreInconsistent,
    StoreMisconfigured,
    StoreUnavailable,
)

# SQLSTATE class -> kind. Unknown classes count as the content's: the writer then splits the
# batch, and when even a record's quarantine form is refused the failure is retried instead.
_BY_CLASS: dict[str, type[StoreError]] = {
    "08": StoreUnavailable,  # connection exception
    "40": StoreUnavailable,  # transaction rollback: serialization failure, deadlock
    "53": StoreUnavailable,  # insufficient resources: disk full, out of memory, too many connections
    "55": StoreUnavailable,  # object not in prerequisite state: lock not available
    "57": StoreUnavailable,  # operator intervention: admin or crash shutdown, cannot connect now
    "58": StoreUnavailable,  # system error: I/O
    "HV": StoreUnavailable,  # foreign data wrapper (a remote table's server)
    "28": StoreMisconfigured,  # invalid authorization specification
    "3D": StoreMisconfigured,  # invalid catalog name: the database is gone
    "3F": StoreMisconfigured,  # invalid schema name
    "42": StoreMisconfigured,  # syntax error or access rule violation: privileges, missing table
    "22": RecordRejected,  # data exception: a value the column type refuses
    "23": RecordRejected,  # integrity constraint violation
    "54": RecordRejected,  # program limit exceeded: a value too large, too deep
}

# Failures psycopg raises without a SQLSTATE (before or instead of asking the server).
_BY_PSYCOPG: tuple[tuple[type[psycopg.Error], type[StoreError]], ...] = (
    (psycopg.OperationalError, StoreUnavailable),  # connection refused, lost, closed
    (psycopg.InterfaceError, StoreUnavailable),
    (psycopg.DataError, RecordRejected),  # e.g. a NUL character in a text value
    (psycopg.IntegrityError, RecordRejected),
    (psycopg.ProgrammingError, RecordRejected),  # e.g. a value psycopg cannot adapt
)

def kind_of(exc: BaseException, conn: psycopg.Connection[Any] | None = None) -> type[StoreError]:
    """The error kind `exc` (raised while using `conn`) belongs to."""
    if isinstance(exc, StoreError):
        return type(exc)
    if conn is not None and (conn.closed or conn.broken):
        return StoreUnavailable
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate
        if state:
            return _BY_CLASS.get(state[:2], RecordRejected)
        for psycopg_kind, kind in _BY_PSYCOPG:
            if isinstance(exc, psycopg_kind):
                return kind
        return StoreUnavailable
    if isinstance(exc, MemoryError | OSError):
        return StoreUnavailable
    return RecordRejected


def store_error(exc: BaseException, conn: psycopg.Connection[Any] | None = None, **where: Any) -> StoreError:
    """`exc` as a `StoreError` of the right kind (itself when it already is one); `where`
    gives its location (`batch`, `record`, `source`...). Raise it `from exc`."""
    if isinstance(exc, StoreError):
        return exc
    kind = kind_of(exc, conn)
    state = exc.sqlstate if isinstance(exc, psycopg.Error) else None
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return kind(message, code=state, **where)


def one_row(row: Sequence[Any] | None, what: str) -> Sequence[Any]:
    """`row`, the result of a query that always returns one; StoreInconsistent when none came."""
    if row is None:
        raise StoreInconsistent(f"{what}: no row returned")
    return row
