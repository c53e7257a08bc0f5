"""Issue 8, item 1, live: one line stamped two minutes ahead, from another host, no longer
blinds the correlation rules (before the fix: 0 alerts for the second burst, its 20 events
counted as `late_dropped`). Over syslog UDP (no authentication) and over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.e2e.conftest import send_udp
from tests.e2e.correlation_live_helpers import (
    SSH_BRUTE_FORCE,
    burst,
    engine_stats,
    failed_line,
    wait_correlation_hits,
)

Send = Callable[[Any, list[str]], Awaitable[None]]


async def send_syslog_udp(running: Any, lines: list[str]) -> None:
    await asyncio.to_thread(send_udp, running.udp, [line.encode() for line in lines])


async def send_http(running: Any, lines: list[str]) -> None:
    response = await running.ingest("".join(lines).encode(), "text/plain")
    assert response.status_code < 300, response.text


@pytest.mark.parametrize("send", [send_syslog_udp, send_http], ids=["syslog-udp", "http"])
async def test_skewed_line_from_another_host_does_not_blind_the_brute_force_rule(
    make_running: Any, send: Send
) -> None:
    """20 failed SSH logins from .10 raise the brute-force alert; one line stamped now + 120 s
    from another host; the same burst from .11 raises it too. The skewed line is counted."""
    async with make_running() as running:
        await send(running, burst(datetime.now(UTC), "203.0.113.10"))
        await running.wait_stored(20)
        assert await wait_correlation_hits(running.owner_dsn, SSH_BRUTE_FORCE, "203.0.113.10") >= 1

        ahead = datetime.now(UTC) + timedelta(seconds=120)
        await send(running, [failed_line(ahead, "198.51.100.66", host="db-07")])
        await running.wait_stored(21)

        await send(running, burst(datetime.now(UTC), "203.0.113.11"))
        await running.wait_stored(41)
        alerts = await wait_correlation_hits(running.owner_dsn, SSH_BRUTE_FORCE, "203.0.113.11")
        stats = await engine_stats(running)
    assert alerts >= 1  # before the fix: 0
    assert stats["clock_skew"] >= 1  # the +120 s line, counted (and placed at now)
    assert stats["late"] == 0  # no event of the second burst was judged late
    assert stats["clocks"] >= 2  # web-01 and db-07 keep their own time
