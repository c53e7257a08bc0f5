"""The worker's per-batch aggregation: one key per distinct (minute, host, user, address,
category, outcome, dataset), hostile values kept small and never crashing the worker."""

from __future__ import annotations

from typing import Any

from stats_helpers import T0, event, iso

from guetteur.stats.batch import MAX_TEXT, collect_batch
from guetteur.stats.first_seen_rule import FirstSeenRule


def test_counts_per_minute_and_entity() -> None:
    events = [event(T0 + 1), event(T0 + 30), event(T0 + 61), event(T0 + 62, user="bob")]
    counts = collect_batch(events).counts
    assert counts[(iso(T0)[:16], "web-01", "alice", "10.0.0.1", "authentication", "success", "linux_auth")] == 2
    assert sum(counts.values()) == 4 and len(counts) == 3


def test_hostile_values_become_short_text() -> None:
    """Objects and lists where text belongs (JSON input) are unhashable: they are counted by
    their text, cut at MAX_TEXT; events without the fields count under None."""
    hostile: list[dict[str, Any]] = [
        event(T0, user={"name": {"$gt": ""}}),
        event(T0, host="h" * 100_000),
        {"@timestamp": 12345, "event": "not an object", "host": ["a", "b"], "user": None},
        {},
        {"@timestamp": "garbage"},
    ]
    counts = collect_batch(hostile).counts
    assert sum(counts.values()) == len(hostile)
    assert (iso(T0)[:16], "web-01", "{'name': {'$gt': ''}}", "10.0.0.1", "authentication", "success",
            "linux_auth") in counts
    assert (None, None, None, None, None, None, None) in counts  # `{}` and a number for a time
    assert all(len(str(key[1])) <= MAX_TEXT or key[1] == "h" * 100_000 for key in counts)  # hashable: cut later


def test_first_seen_keeps_the_first_occurrence_per_combination() -> None:
    rule = FirstSeenRule.from_dict({"title": "t", "id": "r1", "type": "first_seen",
                                    "first_seen": {"fields": ["host.name", "user.name"], "history": "30d",
                                                   "where": {"event.outcome": "success"}}}, "test")
    events = [event(T0 + 5, event_id="b"), event(T0 + 1, event_id="a"), event(T0 + 9, user="bob", outcome="failure"),
              event(T0 + 9, user=["x"]), event(T0 + 9, user=None)]
    found = collect_batch(events, [rule]).first_seen
    assert found == {"r1": {("web-01", "alice"): (iso(T0 + 5), "b")}}


def test_the_rule_index_finds_what_testing_every_rule_finds() -> None:
    """The worker looks rules up by their first `where` field; on random events (lists, numbers,
    missing fields) it remembers exactly what testing every rule on every event remembers."""
    import random

    from guetteur.stats.batch import _holds, _lookup

    def rule(rule_id: str, where: dict[str, Any] | None, fields: list[str]) -> FirstSeenRule:
        spec: dict[str, Any] = {"fields": fields, "history": "1d"}
        if where is not None:
            spec["where"] = where
        return FirstSeenRule.from_dict({"title": rule_id, "id": rule_id, "type": "first_seen", "first_seen": spec}, "t")

    rules = [rule("a", {"event.category": "process", "event.outcome": ["success", 1]}, ["host.name", "user.name"]),
             rule("b", {"event.code": [4672, "4624"]}, ["user.name"]),
             rule("c", None, ["source.ip"]),
             rule("d", {"event.category": ["authentication", "process"]}, ["host.name"])]
    rng = random.Random(7)
    pick = lambda *values: rng.choice(values)  # noqa: E731
    events: list[dict[str, Any]] = []
    for i in range(3000):
        doc = event(T0 + i, host=pick("h1", "h2", None), user=pick("u1", "u2", None, ["x"]), ip=pick("1.1.1.1", None),
                    category=pick("process", "authentication", "network"), outcome=pick("success", "failure"))
        doc["event"]["code"] = pick(4672, "4672", 4624, None)
        doc["event"]["category"] = pick(doc["event"]["category"], ["process", "authentication"], [], "process", 1)
        doc["event"]["outcome"] = pick(doc["event"]["outcome"], 1, None)
        events.append(doc)
    expected: dict[str, dict[tuple[Any, ...], Any]] = {}
    for doc in events:
        for r in rules:
            combo = tuple(_lookup(doc, p) for p in r.paths)
            if _holds(doc, r) and all(type(v) in (str, int, float) for v in combo):
                expected.setdefault(r.id, {}).setdefault(tuple(str(v) for v in combo), doc["@timestamp"])
    found = collect_batch(events, rules).first_seen
    assert {k: {c: t for c, (t, _) in v.items()} for k, v in found.items()} == expected
    assert set(expected) == {"a", "b", "c", "d"}
