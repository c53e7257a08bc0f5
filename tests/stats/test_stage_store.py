"""The statistics stage on a real PostgreSQL: its hits land in `hits` (seam 1), and what it
learnt (baselines, sources, first-seen values) survives a restart through `stats_state`."""

from __future__ import annotations

from typing import Any

import psycopg
from stats_helpers import T0, event, minute_batch, settings_with, stats_settings

from guetteur.config import Settings
from guetteur.stats.batch import collect_batch
from guetteur.stats.first_seen_rule import FirstSeenRule
from guetteur.stats.stage import StatsStage
from guetteur.store.pool import open_pool

RULE = FirstSeenRule.from_dict({
    "title": "New user on a host", "id": "33333333-3333-4333-8333-333333333333", "type": "first_seen",
    "level": "low", "tags": ["attack.lateral-movement"],
    "first_seen": {"fields": ["host.name", "user.name"], "history": "30d", "learning": "1h"}}, "test.yml")


def _settings() -> Settings:
    return settings_with(stats_settings(frequency_learning_minutes=30, silent_min_seconds=600, silent_learning=5))


def _hits(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT rule_id, level, group_key, extra FROM hits ORDER BY id").fetchall()


async def test_hits_are_stored_and_the_state_survives_a_restart(fresh_app_dsn: str) -> None:
    pool = await open_pool(fresh_app_dsn, max_size=2)
    try:
        stage = StatsStage(_settings(), now=T0, rules=[RULE])
        await stage.restore(pool)  # nothing saved yet
        for i in range(60):  # an hour of steady traffic, one batch a minute
            minute = T0 + 60 * i
            stage.observe(minute_batch(minute, 20, [RULE]), now=minute + 61)
            await stage.tick(pool, now=minute + 61)
        assert _hits(fresh_app_dsn) == []
        await stage.save(pool, now=T0 + 3700)

        restarted = StatsStage(_settings(), now=T0 + 3700, rules=[RULE])
        await restarted.restore(pool)
        assert restarted.series("host.name", "web-01") == stage.series("host.name", "web-01") | {
            "open": restarted.series("host.name", "web-01")["open"], "recent": restarted.series(
                "host.name", "web-01")["recent"]}
        assert restarted.frequency.series[("host.name", "web-01")].observed == 60 - 2  # two minutes open
        assert restarted.sources.sources[("host.name", "web-01")].samples >= 5
        assert restarted.first_seen[RULE.id].values == stage.first_seen[RULE.id].values == {("web-01", "alice"): T0 + 59 * 60}

        burst_at = T0 + 3600 + 600
        restarted.observe(minute_batch(burst_at, 600), now=burst_at + 61)  # a burst
        restarted.observe(collect_batch([event(burst_at + 1, user="mallory", event_id="m1")], [RULE]),
                          now=burst_at + 61)
        await restarted.tick(pool, now=burst_at + 300)
        await restarted.tick(pool, now=burst_at + 1300)  # web-01 silent since the burst
        rows = _hits(fresh_app_dsn)
        by_rule = {}
        for rule_id, level, group_key, extra in rows:
            by_rule.setdefault(rule_id, []).append((level, group_key, extra))
        assert sorted(sorted(g.items()) for _, g, _ in by_rule["guetteur.frequency"]) == sorted(sorted(g.items()) for g in (
            {"host.name": "web-01"}, {"user.name": "alice"}, {"source.ip": "10.0.0.1"},
            {"event.category": "authentication", "event.outcome": "success"})), by_rule  # every series of the burst
        assert [g for _, g, _ in by_rule[RULE.id]] == [{"host.name": "web-01", "user.name": "mallory"}]
        assert {"host.name": "web-01"} in [g for _, g, _ in by_rule["guetteur.silent_source"]]
        assert all(e["explanation"] for hits in by_rule.values() for _, _, e in hits)
        assert restarted.health()["sources"]["silent"] >= 1
    finally:
        await pool.close()


async def test_a_corrupt_saved_state_is_ignored(fresh_dsn: str, fresh_app_dsn: str) -> None:
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO stats_state (part, version, data) VALUES ('frequency', 1, %s), "
                     "('sources', 1, %s)", (b"{not json", b'{"version": 1, "sources": [["evil", "x", [1,2,3,4,null]]]}'))
    pool = await open_pool(fresh_app_dsn, max_size=2)
    try:
        stage = StatsStage(_settings(), now=T0, rules=[RULE])
        await stage.restore(pool)
        assert stage.frequency.series == {} and stage.sources.sources == {}
    finally:
        await pool.close()
