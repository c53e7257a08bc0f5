"""First-seen rules: the format (bad documents refused with every reason), the loader routes
them beside Sigma, the state fires on new combinations only after learning, stays bounded and
round-trips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from stats_helpers import T0, event, iso

from guetteur.detect.rules import load_rules
from guetteur.stats.batch import collect_batch
from guetteur.stats.first_seen import FirstSeenState
from guetteur.stats.first_seen_rule import FirstSeenRule, FirstSeenRuleError

DAY = 86400

RULE: dict[str, Any] = {
    "title": "New user on a host", "id": "11111111-1111-4111-8111-111111111111", "type": "first_seen",
    "level": "low", "tags": ["attack.lateral-movement"],
    "first_seen": {"fields": ["host.name", "user.name"], "history": "30d", "learning": "7d",
                   "where": {"event.category": "authentication", "event.outcome": ["success"]}},
}

SIGMA = """title: Failed login
id: 22222222-2222-4222-8222-222222222222
logsource: {product: linux, service: auth}
detection:
  selection: {event.outcome: failure}
  condition: selection
level: low
"""


def _rule(**spec: Any) -> FirstSeenRule:
    return FirstSeenRule.from_dict({**RULE, "first_seen": {**RULE["first_seen"], **spec}}, "test.yml")


def _feed(state: FirstSeenState, *events: dict[str, Any]) -> list[Any]:
    hits = []
    for one in events:
        hits.extend(state.observe(collect_batch([one], [state.rule]).first_seen.get(state.rule.id, {})))
    return hits


@pytest.mark.parametrize(("spec", "reason"), [
    ({"fields": []}, "1 to 3"),
    ({"fields": ["a", "b", "c", "d"]}, "1 to 3"),
    ({"fields": ["host.name", "host.name"]}, "repeats"),
    ({"fields": ["bad field!"]}, "bad field"),
    ({"history": "forever"}, "duration"),
    ({"history": "0d"}, "longer than zero"),
    ({"history": "99999d"}, "ten years"),
    ({"learning": 7}, "duration"),
    ({"where": ["x"]}, "must map"),
    ({"where": {"event.outcome": {"$ne": 1}}}, "string or a list"),
    ({"where": {"event.outcome": list(range(101))}}, "1 to 100"),
])
def test_bad_rules_are_refused_with_the_reason(spec: dict[str, Any], reason: str) -> None:
    with pytest.raises(FirstSeenRuleError, match=reason):
        _rule(**spec)


def test_every_problem_of_a_document_is_reported() -> None:
    with pytest.raises(FirstSeenRuleError) as caught:
        FirstSeenRule.from_dict({"type": "first_seen", "level": "severe", "first_seen": "x"}, "bad.yml")
    message = str(caught.value)
    assert "`title`" in message and "`id`" in message and "`level`" in message and "mapping" in message


def test_the_loader_routes_first_seen_rules_beside_sigma(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "sigma.yml").write_text(SIGMA)
    (tmp_path / "new_user.yml").write_text(yaml.safe_dump(RULE))
    (tmp_path / "broken.yml").write_text(yaml.safe_dump({**RULE, "id": "x", "first_seen": {"fields": []}}))
    ruleset = load_rules([tmp_path])
    assert [r.id for r in ruleset.rules] == ["22222222-2222-4222-8222-222222222222"]
    assert [r.id for r in ruleset.first_seen] == [RULE["id"]]
    assert len(ruleset.errors) == 1 and ruleset.errors[0].file.endswith("broken.yml")
    assert "1 to 3" in ruleset.errors[0].reason


def test_fires_on_a_new_combination_after_learning_only() -> None:
    state = FirstSeenState(_rule(), max_values=1000)
    assert _feed(state, event(T0), event(T0 + DAY, user="bob")) == []  # learning
    assert _feed(state, event(T0 + 8 * DAY), event(T0 + 8 * DAY, user="bob")) == []  # known
    assert _feed(state, event(T0 + 8 * DAY, outcome="failure", user="eve")) == []  # not `where`
    hits = _feed(state, event(T0 + 8 * DAY + 5, user="eve", event_id="e1"), event(T0 + 8 * DAY + 6, user="eve"))
    assert len(hits) == 1
    hit = hits[0]
    assert hit.rule_id == RULE["id"] and hit.group_key == {"host.name": "web-01", "user.name": "eve"}
    assert hit.event_ids == ["e1"] and hit.event_times == [iso(T0 + 8 * DAY + 5)]
    assert hit.extra["last_seen_before"] is None and "30d" in hit.extra["explanation"]
    # seen more than the history ago: new again
    again = _feed(state, event(T0 + 8 * DAY + 31 * DAY, user="bob"))
    assert len(again) == 1 and again[0].extra["last_seen_before"] == iso(T0 + 8 * DAY)[:19] + "Z"


def test_state_is_bounded_and_survives_a_snapshot() -> None:
    rule = _rule(learning="0s")
    state = FirstSeenState(rule, max_values=100)
    hits = _feed(state, *(event(T0 + i, user=f"u{i}") for i in range(1000)))
    assert len(hits) == 1000 and len(state.values) == 100 and state.counters["evicted"] == 900
    restored = FirstSeenState(rule, max_values=100)
    assert restored.restore(state.snapshot()) == 100
    assert _feed(restored, event(T0 + 2000, user="u999")) == []  # remembered
    assert len(_feed(restored, event(T0 + 2000, user="u0"))) == 1  # evicted long ago: new again
    other_fields = FirstSeenState(_rule(fields=["user.name"]), max_values=100)
    with pytest.raises(ValueError, match="fields changed"):
        other_fields.restore(state.snapshot())


def test_rules_validate_counts_first_seen_rules_and_reports_bad_ones(tmp_path: Path) -> None:
    import json

    import yaml
    from typer.testing import CliRunner

    from guetteur.cli import app

    (tmp_path / "sigma.yml").write_text(SIGMA)
    (tmp_path / "new_user.yml").write_text(yaml.safe_dump(RULE))
    (tmp_path / "broken.yml").write_text(yaml.safe_dump({**RULE, "id": "x", "first_seen": {"fields": ["a"]}}))
    result = CliRunner().invoke(app, ["rules", "validate", str(tmp_path), "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["rules"] == 1 and report["first_seen"] == 1
    assert [e["file"].endswith("broken.yml") and "history" in e["reason"] for e in report["errors"]] == [True]
