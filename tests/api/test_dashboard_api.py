"""`/api/v1/dashboard/*` against a running Guetteur: the counts, the activity per bucket (by
severity and by tactic) and the ATT&CK coverage, checked against counts computed here from the
rows the test inserted, and against the alert list filtered as the console's links filter."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml
from psycopg.types.json import Jsonb
from tests.alert.alert_helpers import hit, store_hits
from tests.api.people import add_user, bearer

from guetteur.config import AlertSettings, DetectSettings, RiskSettings, Settings

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
TACTICS = ["credential-access", "discovery", "lateral-movement", "impact", "stealth-ish"]
SEVERITIES = ["critical", "medium", "low"]
STATUSES = ["open", "acknowledged", "closed"]
RULES = Path(__file__).resolve().parents[2] / "rules"


def _alerts(seed: int, count: int) -> list[dict[str, Any]]:
    """Alerts spread over T0 - 6 h .. T0 + 30 h, some long, some outside the day."""
    pick = random.Random(seed)
    made = []
    for i in range(count):
        first = T0 + timedelta(minutes=pick.randint(-360, 30 * 60))
        length = timedelta(minutes=pick.choice([0, 1, 7, 45, 130, 600, 2000]))
        status = pick.choice(STATUSES)
        made.append({
            "rule_id": f"rule-{i % 7}", "severity": pick.choice(SEVERITIES), "status": status,
            "tactics": sorted(set(pick.sample(TACTICS, pick.randint(0, 2)))),
            "techniques": pick.sample(["T1110.001", "T1110", "T1046", "T1021.004", "T1485"], pick.randint(0, 2)),
            "first_seen": first, "last_seen": first + length,
            "close_reason": "duplicate" if status == "closed" else None,
        })
    return made


def _insert(dsn: str, alerts: list[dict[str, Any]]) -> None:
    with psycopg.connect(dsn) as conn:
        for a in alerts:
            conn.execute(
                "INSERT INTO alerts (rule_id, rule_title, severity, status, entity, entity_key, techniques, tactics,"
                " first_seen, last_seen, close_reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (a["rule_id"], a["rule_id"], a["severity"], a["status"], Jsonb({"host.name": "h"}), "h",
                 a["techniques"], a["tactics"], a["first_seen"], a["last_seen"], a["close_reason"]))


def _active(a: dict[str, Any], since: datetime, until: datetime) -> bool:
    # the alert list's own filters: since = last_seen at or after, until = first_seen before
    return bool(a["last_seen"] >= since and a["first_seen"] < until)


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _list_count(http: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> int:
    response = await http.get("/api/v1/alerts", params={"limit": 500, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return len(response.json()["data"])


async def test_counts_and_activity_match_the_rows_and_the_alert_list(make_running: Any, settings: Settings) -> None:
    settings.risk = RiskSettings(enabled=False)
    inserted = _alerts(seed=7, count=160)
    async with make_running() as running:
        http: httpx.AsyncClient = running.http
        viewer = await bearer(http, add_user(running.owner_dsn, "vera", "viewer"))
        _insert(running.owner_dsn, inserted)

        counts = (await http.get("/api/v1/dashboard/alert-counts", headers=viewer)).json()
        for status in ("open", "acknowledged"):
            expected = Counter(a["severity"] for a in inserted if a["status"] == status)
            assert counts[status] == {s: expected[s] for s in SEVERITIES}, status

        window = {"start": T0.isoformat(), "end": (T0 + timedelta(days=1)).isoformat()}
        answer = await http.get("/api/v1/dashboard/alert-activity", params={**window, "buckets": 24}, headers=viewer)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["interval_seconds"] == 3600 and len(body["buckets"]) == 24
        assert _t(body["buckets"][0]["since"]) == T0 and _t(body["buckets"][-1]["until"]) == T0 + timedelta(days=1)
        nonzero = 0
        for bucket in body["buckets"]:
            since, until = _t(bucket["since"]), _t(bucket["until"])
            expected = Counter(a["severity"] for a in inserted if _active(a, since, until))
            assert bucket["counts"] == {s: expected[s] for s in SEVERITIES}, bucket
            nonzero += sum(expected.values()) > 0
        assert nonzero > 12  # the data spreads over the day: the check compared real counts

        # a bar's click lists exactly what it counted (the alert list with its since/until)
        for bucket in body["buckets"][3::7]:
            for severity in SEVERITIES:
                listed = await _list_count(http, viewer, since=bucket["since"], until=bucket["until"],
                                           severity=severity)
                assert listed == bucket["counts"][severity], (bucket, severity)

        only_open = (await http.get("/api/v1/dashboard/alert-activity", headers=viewer,
                                    params={**window, "buckets": 24, "status": "open"})).json()
        for bucket in only_open["buckets"]:
            since, until = _t(bucket["since"]), _t(bucket["until"])
            expected = Counter(a["severity"] for a in inserted if a["status"] == "open" and _active(a, since, until))
            assert bucket["counts"] == {s: expected[s] for s in SEVERITIES}

        # a window not on bucket boundaries: the first and last buckets are clipped to it
        odd = {"start": (T0 + timedelta(minutes=17)).isoformat(), "end": (T0 + timedelta(hours=5, minutes=3)).isoformat()}
        clipped = (await http.get("/api/v1/dashboard/alert-activity", params={**odd, "buckets": 10},
                                  headers=viewer)).json()
        assert clipped["interval_seconds"] == 1800
        assert _t(clipped["buckets"][0]["since"]) == T0 + timedelta(minutes=17)
        assert _t(clipped["buckets"][-1]["until"]) == T0 + timedelta(hours=5, minutes=3)
        for bucket in clipped["buckets"]:
            since, until = _t(bucket["since"]), _t(bucket["until"])
            expected = Counter(a["severity"] for a in inserted if _active(a, since, until))
            assert bucket["counts"] == {s: expected[s] for s in SEVERITIES}

        heat = (await http.get("/api/v1/dashboard/tactic-activity", params={**window, "buckets": 24},
                               headers=viewer)).json()
        rows = {r["shortname"]: r for r in heat["tactics"]}
        names = [r["shortname"] for r in heat["tactics"]]
        assert names[:3] == ["reconnaissance", "resource-development", "initial-access"]  # matrix order
        assert names[-1] == "stealth-ish" and rows["stealth-ish"]["id"] is None  # unknown to the catalogue: last
        assert rows["credential-access"]["id"] == "TA0006"
        for tactic in TACTICS:
            for i, bucket in enumerate(heat["buckets"]):
                since, until = _t(bucket["since"]), _t(bucket["until"])
                assert rows[tactic]["counts"][i] == sum(
                    1 for a in inserted if tactic in a["tactics"] and _active(a, since, until)), (tactic, i)
            assert rows[tactic]["total"] == sum(
                1 for a in inserted if tactic in a["tactics"] and _active(a, T0, T0 + timedelta(days=1)))
        assert rows["reconnaissance"]["counts"] == [0] * 24
        # a heatmap cell's click: the alert list with its tactic, since and until
        cell = heat["buckets"][10]
        assert await _list_count(http, viewer, tactic="credential-access", since=cell["since"], until=cell["until"]) \
            == rows["credential-access"]["counts"][10]

        for params in ({"start": "yesterday"}, {"start": "now", "end": "now-1h"}, {"buckets": 0},
                       {"start": "2000-01-01T00:00:00Z", "buckets": 2}, {"status": "gone"}):
            refused = await http.get("/api/v1/dashboard/alert-activity", params=params, headers=viewer)
            assert refused.status_code == 422, (params, refused.text)
        assert (await http.get("/api/v1/dashboard/tactic-activity", params={"end": "soon"},
                               headers=viewer)).status_code == 422
        assert (await http.get("/api/v1/dashboard/alert-counts")).status_code == 401


def _pack_coverage() -> dict[str, set[str]]:
    """{top-level technique: rule ids} read from the shipped rule files' tags, here, without the
    product's loader."""
    found: dict[str, set[str]] = {}
    for path in RULES.rglob("*.yml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or "id" not in doc:
                continue
            for tag in doc.get("tags") or ():
                tag = str(tag).lower()
                if tag.startswith("attack.t") and tag[8:12].isdigit():
                    found.setdefault(tag[7:12].upper(), set()).add(str(doc["id"]))
    return found


async def test_coverage_lists_the_enabled_rules_and_recent_hits_per_technique(make_running: Any,
                                                                              settings: Settings) -> None:
    settings.risk = RiskSettings(enabled=False)
    settings.alert = AlertSettings(enabled=False)  # the hits stay hits: only the alerts inserted below count
    expected_rules = _pack_coverage()
    brute = expected_rules["T1110"]
    off = sorted(brute)[0]
    async with make_running(detect=DetectSettings(disabled_rules=[off])) as running:
        http: httpx.AsyncClient = running.http
        viewer = await bearer(http, add_user(running.owner_dsn, "vera", "viewer"))
        tags_1110 = ["attack.credential-access", "attack.t1110.001"]
        tags_both = ["attack.t1110", "attack.t1046", "attack.t1110.003"]  # T1110 once per hit
        store_hits(running.owner_dsn, [hit("r-1110", tags=tags_1110) for _ in range(5)]
                   + [hit("r-both", tags=tags_both) for _ in range(3)]
                   + [hit("r-old", tags=["attack.t1086"])]  # revoked: counts for T1059.001, so T1059
                   + [hit("r-cve", tags=["cve.2021-44228"])])
        # a rule whose tags changed: its hits count under the tags of its latest hit
        store_hits(running.owner_dsn, [hit("r-edited", tags=["attack.t1046"])])
        store_hits(running.owner_dsn, [hit("r-edited", tags=["attack.t1021"])])
        old = [hit("r-1110", tags=tags_1110) for _ in range(4)]
        store_hits(running.owner_dsn, old)
        with psycopg.connect(running.owner_dsn) as conn:  # 4 hits of 10 days ago
            conn.execute("UPDATE hits SET created = now() - interval '10 days' WHERE id IN"
                         " (SELECT id FROM hits ORDER BY id DESC LIMIT 4)")
        now = datetime.now(UTC)
        _insert(running.owner_dsn, [
            {"rule_id": "r", "severity": "low", "status": "open", "tactics": [], "techniques": ["T1110.001", "T1110.003"],
             "first_seen": now - timedelta(hours=2), "last_seen": now - timedelta(hours=1), "close_reason": None},
            {"rule_id": "r", "severity": "low", "status": "open", "tactics": [], "techniques": ["T1046"],
             "first_seen": now - timedelta(days=9), "last_seen": now - timedelta(days=8), "close_reason": None}])

        answer = await http.get("/api/v1/dashboard/coverage", params={"days": 7}, headers=viewer)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        tactics = [t["shortname"] for t in body["tactics"]]
        assert tactics[0] == "reconnaissance" and tactics[-1] == "impact" and len(tactics) == 14
        cells: dict[str, dict[str, Any]] = {}
        for tactic in body["tactics"]:
            assert tactic["covered"] == sum(1 for t in tactic["techniques"] if t["rules"])
            for cell in tactic["techniques"]:
                assert cells.setdefault(cell["id"], cell) == cell  # a technique reads the same in each tactic
        assert len(cells) > 150  # every top-level technique, covered or not
        covered = {tid: set(c["rules"]) for tid, c in cells.items() if c["rules"]}
        expected = {tid: ids - {off} for tid, ids in expected_rules.items() if ids - {off} and tid in cells}
        assert covered == expected
        assert off not in covered["T1110"] and covered["T1110"]
        assert "T1110.001" in cells["T1110"]["subtechniques"]
        assert (cells["T1110"]["hits"], cells["T1046"]["hits"], cells["T1059"]["hits"]) == (8, 3, 1)
        assert cells["T1021"]["hits"] == 2
        assert (cells["T1110"]["alerts"], cells["T1046"]["alerts"]) == (1, 0)
        assert sum(c["hits"] for c in cells.values()) == 14
        assert all(r in body["rule_titles"] for ids in covered.values() for r in ids)
        assert cells["T1110"]["url"] == "https://attack.mitre.org/techniques/T1110"

        longer = (await http.get("/api/v1/dashboard/coverage", params={"days": 30}, headers=viewer)).json()
        by_id = {c["id"]: c for t in longer["tactics"] for c in t["techniques"]}
        assert (by_id["T1110"]["hits"], by_id["T1046"]["alerts"]) == (12, 1)
        assert (await http.get("/api/v1/dashboard/coverage", params={"days": 0}, headers=viewer)).status_code == 422
