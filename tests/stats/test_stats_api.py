"""Through a running Guetteur: events reach the statistical detectors, the series endpoint
answers viewers with the baseline (and refuses hostile or unknown input with the reason), the
health details list the detectors' state, the public health stays minimal, and a stop saves
what they learnt."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import psycopg

LINES = b"".join(
    b"<86>Dec  1 10:00:%02d web-07 sshd[1]: Failed password for root from 198.51.100.9 port 22 ssh2\n" % (i % 60)
    for i in range(40))


async def test_series_endpoint_and_health(make_running: Callable[..., Any]) -> None:
    async with make_running() as running:
        response = await running.ingest(LINES)
        assert response.status_code in (200, 202), response.text
        await running.wait_stored(40)
        headers = {"Authorization": f"Bearer {running.read_key}"}
        health: dict[str, Any] = {}
        for _ in range(100):  # the minute is judged once the event clock passed it: wait for tracking
            health = await running.health()
            if health["statistics"]["sources"]["sources"] >= 2:
                break
            await asyncio.sleep(0.1)
        statistics = health["statistics"]
        assert statistics["sources"]["sources"] >= 2  # web-07 and linux_auth
        assert statistics["silent"] == []
        assert {"series", "max_series", "untracked_dropped"} <= set(statistics["frequency"])

        url = "/api/v1/stats/series"
        found: Any = None
        for _ in range(100):  # tracked once its minute is judged (the next tick: no lateness here)
            found = await running.http.get(url, params={"dimension": "host.name", "value": "web-07"}, headers=headers)
            if found.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert found.status_code == 200, found.text
        series = found.json()
        assert series["value"] == "web-07" and series["learning"] is True and series["observed_minutes"] >= 1
        assert series["recent"]["counts"][0] == 40 and len(series["hours"]) == 24
        by_outcome = await running.http.get(url, params={"dimension": "event.category/outcome",
                                                         "value": "authentication/failure"}, headers=headers)
        assert by_outcome.status_code == 200 and by_outcome.json()["recent"]["counts"][0] == 40
        assert set(statistics["first_seen"]) >= {"4cfc8fff-6acb-4209-b398-08e2d4c276d7"}  # the pack's rules

        public = (await running.http.get("/api/v1/health")).json()
        assert set(public) == {"status", "version"}

        assert (await running.http.get(url, params={"dimension": "host.name", "value": "web-07"})).status_code == 401
        unknown = await running.http.get(url, params={"dimension": "host.name", "value": "nope"}, headers=headers)
        assert unknown.status_code == 404 and "not tracked" in unknown.json()["detail"]
        for params in ({"dimension": "process.name", "value": "x"}, {"dimension": "host.name", "value": "x" * 300},
                       {"dimension": "host.name", "value": ""}, {"dimension": "host.name"}):
            bad = await running.http.get(url, params=params, headers=headers)
            assert bad.status_code == 422, (params, bad.text)
        hostile = await running.http.get(url, params={"dimension": "user.name", "value": "'; DROP TABLE hits;--\x00"},
                                         headers=headers)
        assert hostile.status_code in (404, 422)
    # a clean stop saved what the detectors learnt
    with psycopg.connect(running.owner_dsn) as conn:
        parts = dict(conn.execute("SELECT part, entries FROM stats_state").fetchall())
    assert parts["frequency"] >= 4 and parts["sources"] >= 2
    assert parts["first_seen:e178476e-0ee6-4e62-a835-f4a94ca1c988"] == 0  # no successful login was sent


FIRST_SEEN_RULE = """title: New user on a host, no learning
id: 5b0e4f2a-8f1c-4c55-9d7e-0b8a3b1e0f51
type: first_seen
level: low
first_seen:
  fields: [host.name, user.name]
  history: 30d
  where: {event.category: authentication, event.outcome: success}
"""


async def test_a_first_seen_rule_fires_through_the_pipeline(make_running: Callable[..., Any], tmp_path: Any) -> None:
    """Worker aggregation, acknowledgement, main-process state, hits table: one hit per new
    combination, none for a repeat, none for a failure."""
    from guetteur.config import DetectSettings

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "new_user.yml").write_text(FIRST_SEEN_RULE)
    lines = b"".join(b"<86>Dec  1 10:00:%02d db-02 sshd[1]: %s for %s from 10.0.0.9 port 22 ssh2\n" % (i, what, who)
                     for i, (what, who) in enumerate([(b"Accepted password", b"alice"), (b"Accepted password", b"alice"),
                                                      (b"Failed password", b"bob"), (b"Accepted password", b"carol")]))
    async with make_running(detect=DetectSettings(rules_dirs=[tmp_path / "rules"])) as running:
        assert (await running.ingest(lines)).status_code in (200, 202)
        await running.wait_stored(4)
        rows: list[Any] = []
        for _ in range(100):  # stored at the next tick
            with psycopg.connect(running.owner_dsn) as conn:
                rows = conn.execute("SELECT group_key, event_ids FROM hits WHERE rule_id = %s ORDER BY id",
                                    ("5b0e4f2a-8f1c-4c55-9d7e-0b8a3b1e0f51",)).fetchall()
            if len(rows) >= 2:
                break
            await asyncio.sleep(0.1)
    assert [r[0] for r in rows] == [{"host.name": "db-02", "user.name": "alice"},
                                    {"host.name": "db-02", "user.name": "carol"}]
    assert all(len(r[1]) == 1 and r[1][0] for r in rows)  # the event's id
