"""`run_demo` and its clients against real local listeners (sockets, an HTTP server)."""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest
from demo_fake_inputs import FakeIngest, SyslogListeners

from guetteur.demo import SCENARIOS, DeliveryError, IngestRefused, run_demo
from guetteur.demo.step import HTTP, SYSLOG_TCP, SYSLOG_UDP
from guetteur.demo.transports import HttpIngestClient, SyslogTcpClient, octet_frame, retry_after_seconds


async def _settle(condition, timeout: float = 5.0) -> None:
    """Wait until the listeners have read what was sent (they run on the same loop/threads)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


async def test_demo_delivers_every_line_it_counts_and_waits_out_429() -> None:
    """Counts received on each input equal the counts sent; throttled batches are resent, not lost."""
    listeners = await SyslogListeners().start()
    ingest = FakeIngest(throttle=3, retry_after="0").start()
    try:
        stats = await run_demo(syslog_host="127.0.0.1", syslog_port=listeners.tcp_port,
                               syslog_udp_port=listeners.udp_port, http_url=ingest.url, api_key="k-demo",
                               rate=300, attack_every=0.4, first_attack_after=0.1, duration=2.5, seed=7)
        await _settle(lambda: len(listeners.tcp_lines) >= stats.sent[SYSLOG_TCP]
                      and len(listeners.udp_lines) >= stats.sent[SYSLOG_UDP])
    finally:
        await listeners.stop()
        ingest.stop()
    assert stats.sent[SYSLOG_TCP] == len(listeners.tcp_lines) > 0
    assert stats.sent[SYSLOG_UDP] == len(listeners.udp_lines) > 0
    assert stats.sent[HTTP] == len(ingest.lines) > 0
    assert stats.http_throttled == 3
    assert [r[0] for r in ingest.requests].count(429) == 3
    assert stats.http_rejected == 0
    # Every generated line was delivered: nothing lost between generator and inputs.
    assert stats.total_sent == stats.normal_lines + sum(stats.scenario_lines.values())
    assert stats.normal_lines >= 300  # about rate x duration; loose, never a timing assertion
    assert sum(stats.scenarios_started.values()) >= 2
    assert set(stats.scenario_lines) <= set(SCENARIOS)
    # JSON formats travel as NDJSON, the rest as text/plain.
    ctypes = {r[1].split(";")[0] for r in ingest.requests if r[0] == 202}
    assert ctypes == {"application/x-ndjson", "text/plain"}
    for line in listeners.tcp_lines + listeners.udp_lines:
        assert line.startswith(b"<"), line[:80]


async def test_same_seed_same_attack_order() -> None:
    listeners = await SyslogListeners().start()
    try:
        runs = []
        for _ in range(2):
            stats = await run_demo(syslog_host="127.0.0.1", syslog_port=listeners.tcp_port,
                                   syslog_udp_port=listeners.udp_port, http_url=None, api_key=None, rate=20,
                                   attack_every=0.2, first_attack_after=0.0, duration=0.7, seed=42)
            runs.append(stats.scenarios_started)
    finally:
        await listeners.stop()
    assert runs[0] == runs[1] and runs[0]


async def test_without_http_url_application_lines_go_over_tcp() -> None:
    listeners = await SyslogListeners().start()
    try:
        stats = await run_demo(syslog_host="127.0.0.1", syslog_port=listeners.tcp_port,
                               syslog_udp_port=listeners.udp_port, http_url=None, api_key=None, rate=400,
                               attack_every=0, duration=1.0, seed=3)
        await _settle(lambda: len(listeners.tcp_lines) >= stats.sent[SYSLOG_TCP])
    finally:
        await listeners.stop()
    assert stats.sent[HTTP] == 0
    assert stats.sent[SYSLOG_TCP] == len(listeners.tcp_lines)
    assert any(line.startswith(b"INFO:     ") for line in listeners.tcp_lines)  # uvicorn lines, raw
    assert not stats.scenarios_started


async def test_stop_event_ends_the_run() -> None:
    listeners = await SyslogListeners().start()
    stop = asyncio.Event()
    try:
        task = asyncio.create_task(run_demo(syslog_host="127.0.0.1", syslog_port=listeners.tcp_port,
                                            syslog_udp_port=listeners.udp_port, http_url=None, api_key=None,
                                            rate=50, stop=stop))
        await asyncio.sleep(0.3)
        stop.set()
        stats = await asyncio.wait_for(task, 10)
    finally:
        await listeners.stop()
    assert stats.normal_lines > 0


async def test_bad_key_stops_the_demo_with_a_clear_error() -> None:
    listeners = await SyslogListeners().start()
    ingest = FakeIngest(key="right").start()
    try:
        with pytest.raises(IngestRefused, match="401"):
            await run_demo(syslog_host="127.0.0.1", syslog_port=listeners.tcp_port,
                           syslog_udp_port=listeners.udp_port, http_url=ingest.url, api_key="wrong",
                           rate=200, attack_every=0, duration=3.0)
    finally:
        await listeners.stop()
        ingest.stop()


async def test_no_listener_is_a_delivery_error() -> None:
    listeners = await SyslogListeners().start()
    port = listeners.tcp_port
    await listeners.stop()
    await asyncio.sleep(0.05)
    with pytest.raises(DeliveryError, match="syslog TCP"):
        await run_demo(syslog_host="127.0.0.1", syslog_port=port, http_url=None, api_key=None, duration=0.2)


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        asyncio.run(run_demo(syslog_host="127.0.0.1", syslog_port=9, http_url=None, api_key=None,
                             scenarios=["nope"]))


# --- the HTTP client on its own --------------------------------------------------------------

async def test_http_client_sleeps_for_retry_after_then_resends() -> None:
    ingest = FakeIngest(throttle=2, retry_after="7").start()
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    client = HttpIngestClient(ingest.url, "k-demo", sleep=record)
    try:
        accepted = await client.post(["a", "b", "c"], ndjson=False, hint="syslog")
    finally:
        await client.close()
        ingest.stop()
    assert accepted == 3
    assert slept == [7.0, 7.0]
    assert ingest.lines == [b"a", b"b", b"c"]
    assert [r[0] for r in ingest.requests] == [429, 429, 202]
    assert ingest.requests[-1][2] == "syslog"


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'{"accepted": 999}', b'{"accepted": -1}',
                                  b'{"accepted": "3"}', b"\xff\xfe"])
async def test_http_client_survives_odd_202_bodies(body: bytes) -> None:
    """A 202 whose body is missing, garbage or lies counts the lines that were sent."""
    ingest = FakeIngest(accepted_body=body).start()
    client = HttpIngestClient(ingest.url, "k-demo")
    try:
        assert await client.post(["a", "b", "c"], ndjson=False) == 3
    finally:
        await client.close()
        ingest.stop()
    assert client.counters.accepted == 3


async def test_http_client_splits_a_batch_on_413() -> None:
    ingest = FakeIngest(max_lines=3).start()
    client = HttpIngestClient(ingest.url, "k-demo")
    try:
        accepted = await client.post([f"line {i}" for i in range(10)], ndjson=False)
    finally:
        await client.close()
        ingest.stop()
    assert accepted == 10
    assert sorted(ingest.lines) == sorted(f"line {i}".encode() for i in range(10))


async def test_http_client_gives_up_on_a_single_oversized_line() -> None:
    ingest = FakeIngest(max_lines=0).start()
    client = HttpIngestClient(ingest.url, "k-demo")
    try:
        assert await client.post(["x" * 100], ndjson=False) == 0
    finally:
        await client.close()
        ingest.stop()
    assert client.counters.rejected == 1
    assert client.counters.rejected_reasons == {"413": 1}


async def test_http_client_retries_server_errors_then_fails_clearly() -> None:
    ingest = FakeIngest(status_override=500).start()
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    client = HttpIngestClient(ingest.url, "k-demo", sleep=record, max_attempts=3)
    try:
        assert await client.post(["x"], ndjson=False) == 0
    finally:
        await client.close()
        ingest.stop()
    assert len(ingest.requests) == 3 and len(slept) == 2
    assert client.counters.rejected == 1


async def test_http_client_unreachable_is_a_delivery_error() -> None:
    ingest = FakeIngest().start()
    url = ingest.url
    ingest.stop()

    async def no_wait(seconds: float) -> None:
        pass

    client = HttpIngestClient(url, "k", sleep=no_wait, max_attempts=2)
    try:
        with pytest.raises(DeliveryError, match="unreachable"):
            await client.post(["x"], ndjson=False)
    finally:
        await client.close()


@pytest.mark.parametrize(("header", "expected"), [
    ("3", 3.0), ("0", 0.0), ("1.5", 1.5), ("-4", 0.0), ("100000", 30.0), ("", 1.0), (None, 1.0),
    ("soon", 1.0), ("nan", 1.0), ("inf", 30.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_retry_after_parsing(header: str | None, expected: float) -> None:
    assert retry_after_seconds(header) == expected


def test_retry_after_http_date_in_the_future() -> None:
    header = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 <= retry_after_seconds(header) <= 10.0


def test_octet_framing() -> None:
    assert octet_frame(b"<13>hello") == b"9 <13>hello"
    assert octet_frame("é".encode()) == b"2 \xc3\xa9"  # length in octets, not characters
    assert octet_frame(b"") == b"0 "


async def test_tcp_client_reconnects_after_the_server_drops_it() -> None:
    listeners = await SyslogListeners().start()
    client = SyslogTcpClient("127.0.0.1", listeners.tcp_port)
    try:
        await client.send([b"<13>one"])
        await _settle(lambda: len(listeners.tcp_lines) == 1)
        assert client._writer is not None
        client._writer.transport.abort()  # the connection breaks under the client
        await client.send([b"<13>two"])
        await _settle(lambda: len(listeners.tcp_lines) == 2)
    finally:
        await client.close()
        await listeners.stop()
    assert listeners.tcp_lines == [b"<13>one", b"<13>two"]


def test_tcp_client_refuses_unknown_framing() -> None:
    with pytest.raises(ValueError):
        SyslogTcpClient("127.0.0.1", 1, framing="xml")
