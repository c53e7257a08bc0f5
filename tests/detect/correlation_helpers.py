"""Small builders shared by the correlation tests: rules from YAML text, events, base hits."""

from __future__ import annotations

from typing import Any

from guetteur import ecs
from guetteur.detect.correlation import CorrelationEngine
from guetteur.detect.hits import Hit
from guetteur.detect.rules import RuleSet, load_rule_texts

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def ruleset(text: str) -> RuleSet:
    loaded = load_rule_texts([("test.yml", text)])
    assert not loaded.errors, loaded.errors
    return loaded


def engine(text: str, *, lateness: float = 0.0, **kwargs: Any) -> tuple[CorrelationEngine, RuleSet]:
    rules = ruleset(text)
    eng = CorrelationEngine(rules.correlations, lateness=lateness, **kwargs)
    assert not eng.errors, eng.errors
    return eng, rules


def event(t: float, eid: str | None = None, **fields: Any) -> dict[str, Any]:
    """An ECS event at epoch `t` with dotted `fields` (`source__ip="1.2.3.4"` -> source.ip)."""
    doc: dict[str, Any] = {"@timestamp": ecs.iso_utc(t)}
    for name, value in fields.items():
        ecs.put(doc, name.replace("__", "."), value)
    ecs.put(doc, "event.id", eid or f"ev-{t:.3f}")
    return doc


def hit(rules: RuleSet, name: str, doc: dict[str, Any]) -> Hit:
    """The base hit the detector would give for rule `name` on `doc`."""
    loaded = next(r for r in rules.rules if r.rule.name == name or r.id == name)
    return Hit(
        rule_id=loaded.id,
        rule_title=str(loaded.rule.title),
        level="low",
        tags=[],
        event_ids=[doc["event"]["id"]],
        event_times=[doc["@timestamp"]],
        event=doc,
        rule_name=loaded.rule.name,
        alert=False,
    )


def feed(eng: CorrelationEngine, rules: RuleSet, name: str, doc: dict[str, Any]) -> list[Hit]:
    return eng.process(doc, [hit(rules, name, doc)])
