"""ConnectionTable on its own, with an explicit clock: the rules the TCP listener relies on."""

from __future__ import annotations

import pytest

from guetteur.collect.connections import EVICTED, FRAME_TIMEOUT, IDLE, ConnectionTable, TcpConnection
from guetteur.collect.counters import SourceCounters


def _table(**limits: float) -> tuple[ConnectionTable, list[TcpConnection]]:
    """A table whose connections record, in `closed`, the order they were closed in."""
    options: dict[str, float] = {"max_connections": 3, "max_per_address": 2, "idle_timeout": 10,
                                 "frame_timeout": 5, **limits}
    table = ConnectionTable(SourceCounters("test"), **options)  # type: ignore[arg-type]
    return table, []


def _admit(table: ConnectionTable, closed: list[TcpConnection], address: str, now: float) -> TcpConnection | None:
    holder: list[TcpConnection] = []
    connection = table.admit(address, lambda: closed.append(holder[0]), now)
    if connection is not None:
        holder.append(connection)
    return connection


def test_time_spent_waiting_on_the_sink_counts_neither_as_idle_nor_against_a_frame() -> None:
    table, closed = _table()
    conn = _admit(table, closed, "a", 0.0)
    assert conn is not None
    table.received(conn, 1.0, records=0, pending_bytes=10)  # an unfinished frame from t=1
    table.wait(conn, 2.0)
    assert table.sweep(100.0) == 0  # 98 s waiting: busy, not idle, frame not expired
    table.resume(conn, 100.0)
    assert conn.partial_since == pytest.approx(99.0)  # one second of reading so far
    assert table.sweep(103.0) == 0
    assert table.sweep(104.0) == 1 and conn.closing == FRAME_TIMEOUT
    assert table.counters.connections_closed_frame_timeout == 1


def test_a_frame_is_timed_from_its_own_start_not_from_the_first_unfinished_one() -> None:
    """Every read ending mid-line leaves bytes pending, but each held frame is completed by
    the next read: the pending frame is a new one each time and never ages."""
    table, closed = _table()
    conn = _admit(table, closed, "a", 0.0)
    assert conn is not None
    for second in range(100):
        table.received(conn, float(second), records=3, pending_bytes=100)
        assert table.sweep(second + 0.5) == 0
    table.received(conn, 100.0, records=0, pending_bytes=200)  # this one stalls
    assert conn.partial_since == 99.0 and table.sweep(104.0) == 1 and closed == [conn]


def test_a_silent_connection_is_closed_after_the_idle_timeout_and_its_slot_freed() -> None:
    table, closed = _table()
    quiet = _admit(table, closed, "a", 0.0)
    busy = _admit(table, closed, "a", 0.0)
    assert quiet is not None and busy is not None
    table.received(busy, 8.0, records=1, pending_bytes=0)
    assert table.sweep(10.0) == 1 and closed == [quiet] and quiet.closing == IDLE
    assert _admit(table, closed, "a", 10.0) is not None  # the address has a free slot again
    table.release(quiet)  # its task ends later: nothing counted twice
    assert len(table) == 2 and table.counters.connections_closed_idle == 1


def test_eviction_takes_a_connection_that_never_sent_then_the_longest_idle_and_never_a_waiting_one() -> None:
    table, closed = _table(max_per_address=10)
    sender = _admit(table, closed, "a", 0.0)
    silent = _admit(table, closed, "b", 5.0)
    waiting = _admit(table, closed, "c", 0.0)
    assert sender and silent and waiting
    table.received(sender, 1.0, records=3, pending_bytes=0)
    table.wait(waiting, 1.0)
    newcomer = _admit(table, closed, "d", 6.0)
    assert newcomer is not None and closed == [silent] and silent.closing == EVICTED
    table.received(newcomer, 7.0, records=1, pending_bytes=0)
    assert _admit(table, closed, "e", 8.0) is not None and closed == [silent, sender]
    assert table.counters.connections_evicted == 2


def test_refusals_are_counted_by_reason() -> None:
    table, closed = _table(max_connections=2)
    first = _admit(table, closed, "a", 0.0)
    second = _admit(table, closed, "a", 0.0)
    assert first and second
    assert _admit(table, closed, "a", 0.0) is None  # its address is at its quota
    table.wait(first, 0.0)
    table.wait(second, 0.0)
    assert _admit(table, closed, "b", 0.0) is None  # full, and both are busy
    counters = table.counters
    assert (counters.connections_rejected, counters.connections_rejected_per_address,
            counters.connections_rejected_full) == (2, 1, 1)
    assert closed == []


def test_limits_must_be_positive_and_the_sweep_runs_often_enough() -> None:
    with pytest.raises(ValueError):
        _table(idle_timeout=0)
    assert _table(idle_timeout=300, frame_timeout=60)[0].sweep_interval == 1.0
    assert _table(idle_timeout=0.5, frame_timeout=60)[0].sweep_interval == 0.125
