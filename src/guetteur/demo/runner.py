"""`run_demo`: play normal traffic and attack scenarios into a running Guetteur.

Normal traffic flows at `rate` lines/s; an attack scenario starts every ~`attack_every`
seconds, the first within the first 20 s, cycling through `SCENARIOS` in a shuffled
order so every scenario shows up. Lines go to the real inputs: syslog TCP, syslog UDP
and `POST /api/v1/ingest`. When the HTTP side throttles (429), normal traffic slows
down instead of piling up in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from guetteur.demo.normal import normal_traffic
from guetteur.demo.scenarios import SCENARIOS
from guetteur.demo.sim import Sim
from guetteur.demo.step import HTTP, JSON_FORMATS, SYSLOG_TCP, SYSLOG_UDP, Step
from guetteur.demo.transports import DeliveryError, HttpIngestClient, SyslogTcpClient, SyslogUdpClient

log = logging.getLogger(__name__)

TICK = 0.05
HTTP_BATCH_LINES = 500
HTTP_BATCH_AGE = 0.25
HTTP_MAX_PENDING = 20_000
CLOSE_TIMEOUT = 30.0
FIRST_ATTACK_WITHIN = 20.0

#: demo format -> parser names to ask for with `?source=`, first registered one wins.
#: A format with no registered parser is sent without a hint (auto-detection).
HINT_CANDIDATES: dict[str, tuple[str, ...]] = {
    "nginx": ("nginx_access", "web_access"),
    "apache": ("apache_access", "web_access"),
    "uvicorn": ("uvicorn_access",),
    "python-logging": ("python_logging",),
    "app-json": ("json_lines",),
    "postgresql": ("postgresql", "postgres"),
    "auditd": ("auditd",),
    "zeek-conn": ("zeek",),
}


def parser_hint(fmt: str) -> str | None:
    """The registered parser to name for lines of `fmt`, or None (let Guetteur detect)."""
    from guetteur.parse import PARSERS

    return next((name for name in HINT_CANDIDATES.get(fmt, ()) if name in PARSERS), None)


@dataclass(slots=True)
class DemoStats:
    """What a demo run sent.

    sent:              lines delivered per transport (HTTP: accepted with 202).
    normal_lines:      normal-traffic lines generated.
    scenario_lines:    lines generated per scenario name (all its runs).
    scenarios_started: runs started per scenario name.
    http_throttled:    429/503 answers waited out; http_retried: resends after errors;
    http_rejected:     lines the server refused for good (400, 413 on a single line...).
    elapsed:           seconds the run lasted.
    """

    sent: dict[str, int] = field(default_factory=lambda: {SYSLOG_TCP: 0, SYSLOG_UDP: 0, HTTP: 0})
    normal_lines: int = 0
    scenario_lines: dict[str, int] = field(default_factory=dict)
    scenarios_started: dict[str, int] = field(default_factory=dict)
    http_throttled: int = 0
    http_retried: int = 0
    http_rejected: int = 0
    elapsed: float = 0.0

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total_sent": self.total_sent}


class _HttpBatcher:
    """Buffers HTTP lines per (NDJSON?, hint) and flushes them from one background task,
    so batches leave in order and a 429 wait never blocks the syslog senders."""

    def __init__(self, client: HttpIngestClient) -> None:
        self.client = client
        self._buffers: dict[tuple[bool, str | None], list[str]] = {}
        self._pending = 0
        self._oldest = 0.0
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="demo-http-batcher")

    @property
    def pending(self) -> int:
        return self._pending

    async def put(self, step: Step) -> None:
        if self.error is not None:
            raise self.error
        await self._room.wait()
        key = (step.fmt in JSON_FORMATS, parser_hint(step.fmt))
        if not self._pending:
            self._oldest = time.monotonic()
        self._buffers.setdefault(key, []).append(step.line)
        self._pending += 1
        if self._pending >= HTTP_MAX_PENDING:
            self._room.clear()
        if self._pending >= HTTP_BATCH_LINES:
            self._wake.set()

    async def _run(self) -> None:
        try:
            while not (self._closing and not self._pending):
                if not self._pending or (
                        self._pending < HTTP_BATCH_LINES and not self._closing
                        and time.monotonic() - self._oldest < HTTP_BATCH_AGE):
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), HTTP_BATCH_AGE / 2)
                    continue
                buffers, self._buffers = self._buffers, {}
                self._pending = 0
                self._room.set()
                for (ndjson, hint), lines in buffers.items():
                    for i in range(0, len(lines), HTTP_BATCH_LINES * 4):
                        await self.client.post(lines[i:i + HTTP_BATCH_LINES * 4], ndjson=ndjson, hint=hint)
        except BaseException as exc:
            self.error = exc
            self._room.set()
            raise

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except DeliveryError:
                pass  # already recorded in self.error; run_demo reports it


class _Router:
    """Sends each step on its transport and keeps `DemoStats`."""

    def __init__(self, stats: DemoStats, tcp: SyslogTcpClient, udp: SyslogUdpClient,
                 http: _HttpBatcher | None) -> None:
        self.stats, self.tcp, self.udp, self.http = stats, tcp, udp, http

    async def send(self, step: Step, scenario: str | None) -> None:
        if scenario is None:
            self.stats.normal_lines += 1
        else:
            self.stats.scenario_lines[scenario] = self.stats.scenario_lines.get(scenario, 0) + 1
        if step.transport == HTTP and self.http is not None:
            await self.http.put(step)
        elif step.transport == SYSLOG_UDP:
            await self.udp.send([step.line.encode()])
            self.stats.sent[SYSLOG_UDP] += 1
        else:  # syslog TCP, or an HTTP line when no URL was given (auto-detected by Guetteur)
            await self.tcp.send([step.line.encode()])
            self.stats.sent[SYSLOG_TCP] += 1


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep; True when `stop` was set meanwhile."""
    if seconds <= 0:
        return stop.is_set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _play(router: _Router, name: str, sim: Sim, stop: asyncio.Event) -> None:
    for step in SCENARIOS[name].play(sim):
        if await _sleep_or_stop(stop, step.delay):
            return
        sim.elapse(step.delay)
        await router.send(step, name)


async def run_demo(
    *,
    syslog_host: str,
    syslog_port: int,
    http_url: str | None,
    api_key: str | None,
    rate: float = 50.0,
    attack_every: float = 30.0,
    duration: float | None = None,
    stop: asyncio.Event | None = None,
    seed: int | None = None,
    syslog_udp_port: int | None = None,
    scenarios: Sequence[str] | None = None,
    first_attack_after: float | None = None,
) -> DemoStats:
    """Send demo traffic until `duration` seconds have passed or `stop` is set.

    syslog_port is the TCP port, and the UDP port too unless `syslog_udp_port` is given.
    http_url: Guetteur's base URL (`http://127.0.0.1:8000`); None sends the HTTP-shipped
    formats over syslog TCP instead. api_key: an ingest key (`Authorization: Bearer`).
    rate: normal lines per second. attack_every: seconds between scenario starts (<= 0:
    no attacks). scenarios: names to play (default: all of `SCENARIOS`).
    first_attack_after: seconds before the first scenario (default: random, < 20 s).
    Raises `DeliveryError` when an input cannot be reached, `IngestRefused` for a bad key.
    """
    names = list(scenarios) if scenarios is not None else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    rng = random.Random(seed)
    sim = Sim(rng=rng)
    stop = stop or asyncio.Event()
    stats = DemoStats()
    tcp = SyslogTcpClient(syslog_host, syslog_port)
    udp = SyslogUdpClient(syslog_host, syslog_udp_port or syslog_port)
    http_client = HttpIngestClient(http_url, api_key) if http_url else None
    batcher = _HttpBatcher(http_client) if http_client else None
    router = _Router(stats, tcp, udp, batcher)
    await tcp.connect()
    await udp.connect()
    if batcher is not None:
        batcher.start()

    order: list[str] = []
    plays: set[asyncio.Task[None]] = set()
    start = time.monotonic()
    if first_attack_after is None:
        first_attack_after = rng.uniform(5.0, min(15.0, attack_every if attack_every > 0 else 15.0))
    next_attack = start + min(first_attack_after, FIRST_ATTACK_WITHIN)
    normal = normal_traffic(sim)
    made = 0
    try:
        while not stop.is_set():
            now = time.monotonic()
            elapsed = now - start
            if duration is not None and elapsed >= duration:
                break
            due = int(rate * elapsed) - made
            if due > rate * 2:  # we fell behind (throttled): skip, do not burst
                made += due - int(rate * TICK) - 1
                due = int(rate * TICK) + 1
            for _ in range(max(due, 0)):
                await router.send(next(normal), None)
                made += 1
            if names and attack_every > 0 and now >= next_attack:
                if not order:
                    order = rng.sample(names, len(names))
                name = order.pop()
                stats.scenarios_started[name] = stats.scenarios_started.get(name, 0) + 1
                log.info("demo: starting scenario %s", name)
                task = asyncio.create_task(_play(router, name, sim.fork(), stop), name=f"demo-{name}")
                plays.add(task)
                task.add_done_callback(plays.discard)
                next_attack = now + attack_every * rng.uniform(0.8, 1.2)
            for task in [t for t in plays if t.done()]:
                task.result()  # a delivery error in a scenario stops the demo
            if batcher is not None and batcher.error is not None:
                raise batcher.error
            await _sleep_or_stop(stop, TICK)
    finally:
        for task in list(plays):
            task.cancel()
        await asyncio.gather(*plays, return_exceptions=True)
        if batcher is not None:
            try:
                await asyncio.wait_for(batcher.close(), CLOSE_TIMEOUT)
            except TimeoutError:
                log.warning("demo: %d HTTP lines not delivered before closing", batcher.pending)
        await tcp.close()
        await udp.close()
        if http_client is not None:
            stats.sent[HTTP] = http_client.counters.accepted
            stats.http_throttled = http_client.counters.throttled
            stats.http_retried = http_client.counters.retried
            stats.http_rejected = http_client.counters.rejected
            await http_client.close()
        stats.elapsed = time.monotonic() - start
    if batcher is not None and batcher.error is not None:
        raise batcher.error
    return stats
