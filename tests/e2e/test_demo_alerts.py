"""Every demo attack scenario, sent through the real ports of a running Guetteur, ends as exactly
one grouped alert per rule it is meant to raise, with the severity its rule's level gives and
the rule's ATT&CK techniques (which cover the scenario's)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from tests.e2e.conftest import send_tcp
from tests.e2e.demo_helpers import EXPECTED, PACK, play_every_scenario

from guetteur.alert.model import attack_of, severity_of
from guetteur.demo import SCENARIOS


def alerting_rule(path: Path) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    rule: dict[str, Any] = docs[-1]
    return rule


async def settled_alerts(dsn: str, wanted: set[str], timeout: float = 60.0) -> list[tuple[Any, ...]]:
    """The alerts once every wanted rule has one and every hit is in an alert (twice in a row,
    a second apart: late correlation windows have closed)."""
    deadline = time.monotonic() + timeout
    previous: list[tuple[Any, ...]] | None = None
    while True:
        with psycopg.connect(dsn) as conn:
            alerts = conn.execute("SELECT rule_id, severity, techniques, count, entity, id FROM alerts ORDER BY id").fetchall()
            pending = conn.execute("SELECT count(*) FROM hits h WHERE NOT EXISTS"
                                   " (SELECT 1 FROM alert_hits l WHERE l.hit_id = h.id)").fetchone()
        done = wanted <= {a[0] for a in alerts} and pending is not None and pending[0] == 0
        if done and alerts == previous or time.monotonic() > deadline:
            return alerts
        previous = alerts if done else None
        await asyncio.sleep(1.0)


@pytest.mark.slow
async def test_every_demo_scenario_ends_as_one_alert_per_rule(make_running: Any) -> None:
    if not PACK.is_dir():
        pytest.skip("built-in rule pack absent")
    rules = {name: [alerting_rule(PACK / f) for f in files] for name, files in EXPECTED.items()}
    async with make_running() as running:
        sent = await play_every_scenario(running)
        await running.wait_stored(sent, timeout=120)
        alerts = await settled_alerts(running.owner_dsn, {str(r["id"]) for rs in rules.values() for r in rs})
        with psycopg.connect(running.owner_dsn) as conn:
            hits = dict(conn.execute("SELECT rule_id, count(*) FROM hits GROUP BY 1").fetchall())
    problems = []
    for scenario, scenario_rules in sorted(rules.items()):
        techniques: set[str] = set()
        for rule in scenario_rules:
            rule_id = str(rule["id"])
            mine = [a for a in alerts if a[0] == rule_id]
            want_severity = severity_of(rule_id, rule["level"])
            want_techniques = attack_of(rule.get("tags", []))[0]
            if len(mine) != 1:
                problems.append(f"{scenario}: {rule['title']}: {len(mine)} alerts from {hits.get(rule_id, 0)} hits "
                                f"({[(a[3], a[4]) for a in mine]})")
                continue
            _, severity, got_techniques, _, _, _ = mine[0]
            if severity != want_severity or list(got_techniques) != want_techniques:
                problems.append(f"{scenario}: {rule['title']}: {severity} {got_techniques}, expected "
                                f"{want_severity} {want_techniques}")
            techniques.update(got_techniques)
        covered = {t for t in SCENARIOS[scenario].techniques if any(g == t or g.startswith(t + ".") or
                                                                    t.startswith(g + ".") for g in techniques)}
        if not covered:
            problems.append(f"{scenario}: no alert carries one of {SCENARIOS[scenario].techniques} ({techniques})")
    assert not problems, "\n".join(problems)


BRUTE_FORCE = "012bad0a-65d1-4c47-b750-3df1d296229b"


async def test_a_burst_of_20_failed_ssh_logins_is_one_alert(make_running: Any) -> None:
    """20 failed SSH logins, two seconds apart, give several brute-force hits (the correlation
    fires at 5 and again as the count grows) and one alert counting them all."""
    start = datetime.now(UTC) - timedelta(seconds=45)
    lines = [f"<38>{start + timedelta(seconds=2 * i):%b %d %H:%M:%S} web-01 sshd[{4000 + i}]: Failed password for "
             f"deploy from 203.0.113.7 port {50000 + i} ssh2\n".encode() for i in range(20)]
    async with make_running() as running:
        await asyncio.to_thread(send_tcp, running.tcp, b"".join(lines))
        await running.wait_stored(20)
        alerts = await settled_alerts(running.owner_dsn, {BRUTE_FORCE})
        with psycopg.connect(running.owner_dsn) as conn:
            row = conn.execute("SELECT count(*) FROM hits WHERE rule_id = %s", (BRUTE_FORCE,)).fetchone()
        hits = row[0] if row else 0
        response = await running.http.get("/api/v1/alerts", params={"rule_id": BRUTE_FORCE},
                                          headers={"Authorization": f"Bearer {running.read_key}"})
    assert hits >= 2, hits
    [alert] = response.json()["data"]
    assert [a[0] for a in alerts] == [BRUTE_FORCE]
    assert alert["count"] == hits and alert["severity"] == "medium" and alert["techniques"] == ["T1110.001"]
    assert alert["entity"] == {"host.name": "web-01", "source.ip": "203.0.113.7", "user.name": "deploy"}
