"""A running Guetteur (`server.serve`) in the test's event loop, on free ports and a fresh database."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from embedded_helpers import scratch_pgdata
from guetteur.config import DetectSettings, PipelineSettings, Settings, StoreSettings
from guetteur.server import serve
from guetteur.store.database import ensure_database, resolve_dsn
from guetteur.store.embedded import EmbeddedPostgres
from guetteur.store.keys import create_key
from guetteur.store.migrate import migrate


@dataclass
class Running:
    settings: Settings
    info: dict[str, Any]
    owner_dsn: str
    ingest_key: str
    read_key: str
    http: httpx.AsyncClient
    final: dict[str, Any]

    @property
    def tcp(self) -> tuple[str, int]:
        return ("127.0.0.1", int(self.info["syslog_tcp"]))

    @property
    def udp(self) -> tuple[str, int]:
        return ("127.0.0.1", int(self.info["syslog_udp"]))

    async def health(self) -> dict[str, Any]:
        """The health details (`/api/v1/health/details`, with the read key)."""
        response = await self.http.get("/api/v1/health/details",
                                       headers={"Authorization": f"Bearer {self.read_key}"})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def wait_stored(self, count: int, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until `totals.stored + merged` reaches `count` and the pipeline is idle."""
        deadline = time.monotonic() + timeout
        while True:
            body = await self.health()
            totals = body["totals"]
            idle = body["queues"]["buffer"] == 0 and body["queues"]["in_workers"] == 0
            if totals["stored"] + totals["merged"] >= count and idle:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"not stored in time: {body}")
            await asyncio.sleep(0.1)

    async def ingest(self, body: bytes, content_type: str = "text/plain", **params: str) -> httpx.Response:
        return await self.http.post("/api/v1/ingest", content=body, params=params,
                                    headers={"Authorization": f"Bearer {self.ingest_key}",
                                             "Content-Type": content_type})

    async def events(self, **params: Any) -> dict[str, Any]:
        response = await self.http.get("/api/v1/events", params=params,
                                       headers={"Authorization": f"Bearer {self.read_key}"})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


def send_tcp(address: tuple[str, int], payload: bytes) -> None:
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(payload)


def send_udp(address: tuple[str, int], datagrams: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, address)


@pytest.fixture
def external_server() -> Iterator[tuple[EmbeddedPostgres, str]]:
    """A second, real PostgreSQL playing an external server that a test may kill (the session's
    and the machine's servers are never touched): its handle and the owner DSN of its migrated
    database `guetteur`."""
    with scratch_pgdata("guetteur-external-") as pgdata:
        server = EmbeddedPostgres.start(pgdata)
        try:
            dsn = ensure_database(server.dsn, "guetteur")
            migrate(dsn)
            yield server, dsn
        finally:
            server.stop()


@pytest.fixture
def make_running(settings: Settings, fresh_dsn: str) -> Callable[..., Any]:
    """`async with make_running(detect=..., **pipeline_overrides) as running:` a Guetteur on a fresh database."""
    import contextlib

    @contextlib.asynccontextmanager
    async def factory(detect: DetectSettings | None = None, store: StoreSettings | None = None,
                      embedded_data_dir: Path | None = None, database_url: str | None = None,
                      **pipeline: Any) -> AsyncIterator[Running]:
        """`embedded_data_dir`: run on the embedded server of that data directory instead of
        the session's server (stopped with Guetteur: read the database inside the block);
        `database_url`: on that (migrated) database instead of a fresh one."""
        conf = settings.model_copy(update={
            "database_url": database_url or fresh_dsn,
            "pipeline": PipelineSettings(**{"workers": 1, "batch_max_age": 0.05, **pipeline}),
            "detect": detect or settings.detect,
            "store": store or settings.store,
        })
        owner_dsn = database_url or fresh_dsn
        if embedded_data_dir is not None:
            conf = conf.model_copy(update={"database_url": None, "data_dir": embedded_data_dir})
            owner_dsn, handle = await asyncio.to_thread(resolve_dsn, conf)
            try:
                await asyncio.to_thread(migrate, owner_dsn)  # the keys' table
                ingest_key = create_key(owner_dsn, "test-ingest", "ingest")
                read_key = create_key(owner_dsn, "test-read", "read")
            finally:
                if handle is not None:
                    await asyncio.to_thread(handle.stop)  # serve() starts it again, as `guetteur up` would
        else:
            ingest_key = create_key(owner_dsn, "test-ingest", "ingest")
            read_key = create_key(owner_dsn, "test-read", "read")
        ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        task = asyncio.create_task(serve(conf, stop=stop, on_ready=ready.set_result, handle_signals=False))
        done, _ = await asyncio.wait({task, ready}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        info = ready.result()
        async with httpx.AsyncClient(base_url=info["api"], timeout=30) as http:
            running = Running(conf, info, owner_dsn, ingest_key, read_key, http, {})
            try:
                yield running
            finally:
                stop.set()
                running.final = await asyncio.wait_for(task, timeout=120)

    return factory
