"""Detection in the live pipeline: a Sigma rule and a correlation fire on events as they
arrive, and their hits are stored with references to the stored events."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from tests.e2e.conftest import send_tcp

from guetteur.config import DetectSettings

RULES = """\
title: Test SSH root login failure
id: 5b0e4f2a-8f1c-4c55-9d7e-0b8a3b1e0001
name: test_ssh_failure
status: test
level: low
tags: [attack.credential-access, attack.t1110]
logsource: {product: linux, service: auth}
detection:
  selection:
    event.outcome: failure
    event.action: ssh_login
  condition: selection
---
title: Test SSH brute force
id: 5b0e4f2a-8f1c-4c55-9d7e-0b8a3b1e0002
status: test
level: high
tags: [attack.credential-access, attack.t1110.001]
correlation:
  type: event_count
  rules: [test_ssh_failure]
  group-by: [source.ip]
  timespan: 2m
  condition: {gte: 5}
  generate: true
"""


async def test_rule_and_correlation_fire_live(make_running: Any, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ssh.yml").write_text(RULES)
    now = datetime.now(UTC)
    stamp = f"{now:%b} {now.day:>2} {now:%H:%M:%S}"  # RFC 3164: day padded with a space
    lines = "".join(
        f"<38>{stamp} web-01 sshd[9]: Failed password for root from 198.51.100.77 port {4000 + n} ssh2\n"
        for n in range(6)
    ) + f"<38>{stamp} web-01 sshd[9]: Accepted password for alice from 10.0.0.5 port 5000 ssh2\n"
    async with make_running(detect=DetectSettings(rules_dirs=[rules])) as running:
        await asyncio.to_thread(send_tcp, running.tcp, lines.encode())
        health = await running.wait_stored(7)
        deadline = time.monotonic() + 30
        while True:
            with psycopg.connect(running.owner_dsn) as conn:
                rows = conn.execute(
                    "SELECT rule_id, level, event_ids, group_key, correlation FROM hits ORDER BY id").fetchall()
            if any(r[4] for r in rows) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        detection = (await running.health())["detection"]
    single = [r for r in rows if r[0] == "5b0e4f2a-8f1c-4c55-9d7e-0b8a3b1e0001"]
    correlated = [r for r in rows if r[0] == "5b0e4f2a-8f1c-4c55-9d7e-0b8a3b1e0002"]
    assert len(single) == 6  # each failure (not the success), stored as an alerting hit
    assert len(correlated) == 1
    assert correlated[0][3] == {"source.ip": "198.51.100.77"}
    assert correlated[0][4] == "event_count"
    assert len(correlated[0][2]) >= 5
    with psycopg.connect(running.owner_dsn) as conn:
        found = conn.execute("SELECT count(*) FROM events WHERE id = ANY(%s::uuid[])", (single[0][2],)).fetchone()
    assert found is not None and found[0] == 1  # the hit references the stored event
    # the built-in pack runs too; our test rule's own counter is exact
    assert detection["top_rules"]["5b0e4f2a-8f1c-4c55-9d7e-0b8a3b1e0001"] == 6
    assert detection["correlations"] >= 1
    assert health["totals"]["stored"] == 7


async def test_rule_counters_api(make_running: Any, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ssh.yml").write_text(RULES)
    now = datetime.now(UTC)
    stamp = f"{now:%b} {now.day:>2} {now:%H:%M:%S}"
    line = f"<38>{stamp} web-01 sshd[9]: Failed password for root from 198.51.100.78 port 4000 ssh2\n"
    async with make_running(detect=DetectSettings(rules_dirs=[rules])) as running:
        await asyncio.to_thread(send_tcp, running.tcp, (line * 3).encode())
        await running.wait_stored(3)
        headers = {"Authorization": f"Bearer {running.read_key}"}
        deadline = time.monotonic() + 30
        while True:  # workers report their counters every few seconds
            body = (await running.http.get("/api/v1/detection/rules", headers=headers)).json()
            ours = [r for r in body["data"] if r["rule_id"] == "5b0e4f2a-8f1c-4c55-9d7e-0b8a3b1e0001"]
            if (ours and ours[0]["hits"] == 3) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
            await asyncio.to_thread(send_tcp, running.tcp, b"<13>Nov 21 08:40:00 h app: tick\n")
        assert (await running.http.get("/api/v1/detection/rules")).status_code == 401
    assert ours and ours[0]["hits"] == 3 and ours[0]["errors"] == 0 and ours[0]["evaluations"] >= 3


RULE_B = """\
title: Test SSH failure from the documentation range
id: 5b0e4f2a-8f1c-4c55-9d7e-0b8a3b1e0003
status: test
level: medium
logsource: {product: linux, service: auth}
detection:
  selection:
    event.outcome: failure
    source.ip|cidr: 198.51.100.0/24
  condition: selection
"""


async def test_rules_hot_reload_add_and_remove(make_running: Any, tmp_path: Path) -> None:
    """A rule file added, then one removed, while Guetteur runs: no restart needed."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ssh.yml").write_text(RULES)
    now = datetime.now(UTC)
    stamp = f"{now:%b} {now.day:>2} {now:%H:%M:%S}"
    line = f"<38>{stamp} web-01 sshd[9]: Failed password for root from 198.51.100.79 port 4000 ssh2\n".encode()

    def hits(dsn: str) -> dict[str, int]:
        with psycopg.connect(dsn) as conn:
            return dict(conn.execute("SELECT rule_id, count(*) FROM hits GROUP BY 1").fetchall())

    async def send_until(running: Any, want: Any) -> dict[str, int]:
        deadline = time.monotonic() + 30
        sent = 0
        while True:
            await asyncio.to_thread(send_tcp, running.tcp, line)
            sent += 1
            await running.wait_stored(running_total[0] + sent)
            found = hits(running.owner_dsn)
            if want(found) or time.monotonic() > deadline:
                running_total[0] += sent
                return found
            await asyncio.sleep(0.3)

    running_total = [0]
    a, b = "5b0e4f2a-8f1c-4c55-9d7e-0b8a3b1e0001", "5b0e4f2a-8f1c-4c55-9d7e-0b8a3b1e0003"
    async with make_running(detect=DetectSettings(rules_dirs=[rules], reload_interval=0.2)) as running:
        found = await send_until(running, lambda f: f.get(a, 0) >= 1)
        assert found.get(a, 0) >= 1 and b not in found
        (rules / "extra.yml").write_text(RULE_B)  # added while running
        found = await send_until(running, lambda f: f.get(b, 0) >= 1)
        assert found.get(b, 0) >= 1
        (rules / "ssh.yml").unlink()  # removed while running
        await asyncio.sleep(1.0)
        before = hits(running.owner_dsn).get(a, 0)
        found = await send_until(running, lambda f: f.get(b, 0) >= found[b] + 3)
        assert found.get(a, 0) == before  # the removed rule no longer fires
