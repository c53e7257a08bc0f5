"""The database supervisor on real servers: an embedded postmaster killed with SIGKILL is noticed
and restarted with its data; an external server that goes away is reported, never restarted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from embedded_helpers import kill_postmaster, postmaster_pid, scratch_pgdata
from guetteur.store.embedded import EmbeddedPostgres
from guetteur.store.supervisor import DatabaseState, DatabaseSupervisor, restart_delay


@pytest.fixture
def pgdata() -> Iterator[Path]:
    with scratch_pgdata("guetteur-supervisor-") as path:
        yield path


async def wait_state(supervisor: DatabaseSupervisor, wanted: DatabaseState, timeout: float = 60.0) -> float:
    """Seconds until the supervisor reports `wanted`."""
    start = time.monotonic()
    while supervisor.status().state is not wanted:
        assert time.monotonic() - start < timeout, f"still {supervisor.status()}"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def test_restart_delays_double_up_to_the_cap() -> None:
    assert [restart_delay(n, 30.0) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


async def test_killed_embedded_postmaster_is_noticed_and_restarted_with_its_data(pgdata: Path) -> None:
    server = EmbeddedPostgres.start(pgdata)
    try:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int)")
            conn.execute("INSERT INTO kept VALUES (1), (2), (3)")
        supervisor = DatabaseSupervisor(server.dsn, server, interval=0.2, backoff_max=4.0)
        await supervisor.start()
        try:
            assert supervisor.available and supervisor.status().state is DatabaseState.UP
            old = kill_postmaster(pgdata)
            noticed = await wait_state(supervisor, DatabaseState.DOWN, timeout=10)
            status = supervisor.status()
            assert not supervisor.available
            assert status.reason is not None and "not running" in status.reason
            assert supervisor.retry_after() >= 1
            back = await wait_state(supervisor, DatabaseState.UP)
            status = supervisor.status()
            assert status.restarts == 1 and status.outages == 1 and status.reason is None
            new = postmaster_pid(pgdata)
            assert new is not None and new != old
            print(f"\nkilled postmaster noticed in {noticed:.2f}s, answering again {back:.2f}s later")
        finally:
            await supervisor.stop()
        with psycopg.connect(server.dsn) as conn:  # crash recovery kept what was committed
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (3,)
    finally:
        server.stop()


async def test_external_server_that_goes_away_is_reported_and_not_restarted(pgdata: Path) -> None:
    external = EmbeddedPostgres.start(pgdata)  # a real server, playing an external one
    try:
        supervisor = DatabaseSupervisor(external.dsn, None, interval=0.2)
        await supervisor.start()
        recovered: list[bool] = []

        async def on_recovered() -> None:
            recovered.append(True)

        supervisor.on_recovered(on_recovered)
        try:
            kill_postmaster(pgdata)
            await wait_state(supervisor, DatabaseState.DOWN, timeout=10)
            reason = supervisor.status().reason
            assert reason is not None and reason.startswith("cannot reach PostgreSQL")
            assert not await supervisor.wait_available(3.0)  # watched, not restarted
            assert supervisor.status().restarts == 0 and external.running_pid() is None
            await asyncio.to_thread(external.restart)  # its operator restarts it
            assert await supervisor.wait_available(30.0)
            status = supervisor.status()
            assert status.outages == 1 and status.restarts == 0 and recovered == [True]
        finally:
            await supervisor.stop()
    finally:
        external.stop()
