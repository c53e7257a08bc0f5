"""Database failures become Guetteur errors of the right kind: recoverable when a retry can
cure them (connection, server state, contention, resources), not when they depend on the rows."""

from __future__ import annotations

import pickle

import psycopg
import pytest

from guetteur.errors import (
    GuetteurError,
    PoisonRecord,
    RecordRejected,
    StoreError,
    StoreMisconfigured,
    StoreUnavailable,
)
from guetteur.store.failures import store_error


@pytest.mark.parametrize(("sqlstate", "kind", "recoverable"), [
    ("08006", StoreUnavailable, True),  # connection failure
    ("57P01", StoreUnavailable, True),  # admin shutdown: the server is restarting
    ("40001", StoreUnavailable, True),  # serialization failure
    ("40P01", StoreUnavailable, True),  # deadlock
    ("53100", StoreUnavailable, True),  # disk full
    ("55P03", StoreUnavailable, True),  # lock not available
    ("42501", StoreMisconfigured, True),  # insufficient privilege
    ("22021", RecordRejected, False),  # invalid byte sequence for the encoding
    ("22P05", RecordRejected, False),  # untranslatable character (\u0000 in jsonb)
    ("22003", RecordRejected, False),  # numeric value out of range
    ("23514", RecordRejected, False),  # check violation
    ("54000", RecordRejected, False),  # program limit exceeded
    ("P0001", RecordRejected, False),  # raised by a trigger: unknown classes count as the content's
])
def test_server_errors_are_classified_by_sqlstate(app_dsn: str, sqlstate: str, kind: type[StoreError],
                                                  recoverable: bool) -> None:
    with psycopg.connect(app_dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as raised:
            conn.execute(f"DO $$ BEGIN RAISE EXCEPTION 'test' USING ERRCODE = '{sqlstate}'; END $$")
        error = store_error(raised.value, conn, batch=12)
    assert type(error) is kind and error.recoverable is recoverable
    assert error.code == sqlstate and error.location.batch == 12


def test_client_side_failures_are_classified_by_their_kind(app_dsn: str) -> None:
    """psycopg refuses a NUL in text before sending it (no SQLSTATE): the content's fault. Our
    own conversion failing on a value is too; running out of memory is not."""
    with psycopg.connect(app_dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.DataError) as raised:
            conn.execute("SELECT %s::text", ("a\x00b",))
        assert type(store_error(raised.value, conn)) is RecordRejected
    assert type(store_error(ValueError("year 0 is out of range"))) is RecordRejected
    assert type(store_error(MemoryError())) is StoreUnavailable


def test_a_lost_connection_is_recoverable_whatever_the_error(app_dsn: str, pg_dsn: str) -> None:
    conn = psycopg.connect(app_dsn, autocommit=True, application_name="guetteur-test-lost")
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE application_name = 'guetteur-test-lost'")
    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT 1")
    error = store_error(raised.value, conn)
    assert isinstance(error, StoreUnavailable) and error.recoverable
    conn.close()


def test_errors_cross_processes_with_their_location_and_kind() -> None:
    """Workers send errors to the main process: they pickle whole."""
    error = PoisonRecord("ValueError: year 0 is out of range", code="22008", batch=7, record="0190-ab", source="http")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is PoisonRecord and isinstance(copy, GuetteurError)
    assert copy.location == error.location and copy.code == "22008" and not copy.recoverable
    assert str(copy) == "ValueError: year 0 is out of range (record 0190-ab, batch 7, source http)"
    overridden = pickle.loads(pickle.dumps(RecordRejected("x", recoverable=True)))
    assert overridden.recoverable
