"""Helpers of the live correlation tests: sshd lines, the hits table, the engine's counters."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import psycopg

SSH_BRUTE_FORCE = "012bad0a-65d1-4c47-b750-3df1d296229b"  # rules/linux/credential_access_ssh_brute_force.yml
SSH_LOGIN_AFTER_BRUTE_FORCE = "85a132a2-5771-44a0-a80c-418595a3db1a"


def bsd_stamp(moment: datetime) -> str:
    """RFC 3164 time (`Dec  5 14:20:00`, day padded with a space)."""
    return f"{moment:%b} {moment.day:>2} {moment:%H:%M:%S}"


def failed_line(moment: datetime, ip: str, host: str = "web-01", port: int = 4000) -> str:
    return f"<38>{bsd_stamp(moment)} {host} sshd[9]: Failed password for root from {ip} port {port} ssh2\n"


def accepted_line(moment: datetime, ip: str, host: str = "web-01") -> str:
    return f"<38>{bsd_stamp(moment)} {host} sshd[9]: Accepted password for root from {ip} port 5000 ssh2\n"


def burst(moment: datetime, ip: str, count: int = 20, host: str = "web-01") -> list[str]:
    """`count` failed logins for root from `ip`, all stamped `moment`."""
    return [failed_line(moment, ip, host, 4000 + n) for n in range(count)]


def correlation_hits(dsn: str, rule_id: str, ip: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM hits WHERE rule_id = %s AND group_key->>'source.ip' = %s",
                           (rule_id, ip)).fetchone()
    return int(row[0]) if row else 0


async def wait_correlation_hits(dsn: str, rule_id: str, ip: str, timeout: float = 30.0) -> int:
    """The hits of `rule_id` for `ip`, waiting up to `timeout` s for the first one."""
    deadline = time.monotonic() + timeout
    while True:
        found = await asyncio.to_thread(correlation_hits, dsn, rule_id, ip)
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def engine_stats(running: Any) -> dict[str, Any]:
    """The correlation engine's counters from health (details behind the read key when the
    server has that route, else the public answer)."""
    headers = {"Authorization": f"Bearer {running.read_key}"}
    response = await running.http.get("/api/v1/health/details", headers=headers)
    if response.status_code == 404:
        response = await running.http.get("/api/v1/health")
    response.raise_for_status()
    stats: dict[str, Any] = response.json()["detection"]["engine"]
    return stats
