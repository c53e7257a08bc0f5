"""Replay of events through one rule: `guetteur rules test` asks whether a rule can fire.

`replay_rule` runs one rule, with every rule and correlation it references, over events
(stored ones, oldest first) and reports its matches and, for each field the rule reads, how
many events of its log source hold it: a rule whose field never occurs is flagged before it
is trusted. Its correlations run in a `CorrelationEngine` of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from guetteur.detect.correlation import CorrelationEngine
from guetteur.detect.engine import Detector
from guetteur.detect.logsource import classify, field_paths, rule_route_key
from guetteur.detect.rules import LoadedCorrelation, LoadedRule, RuleSet
from guetteur.detect.view import MISSING, lookup
from guetteur.model import Event


def rule_fields(rule: Any) -> list[str]:
    """The field names a Sigma rule's detection tests (keywords excluded), in order."""
    names: list[str] = []

    def walk(detection: Any) -> None:
        for item in getattr(detection, "detection_items", ()):
            if hasattr(item, "detection_items"):
                walk(item)
            elif getattr(item, "field", None):
                names.append(str(item.field))

    for detection in rule.detection.detections.values():
        walk(detection)
    return list(dict.fromkeys(names))


@dataclass(slots=True)
class FieldPresence:
    rule_id: str
    field: str
    paths: tuple[tuple[str, ...], ...]
    route: Any
    seen: int = 0


@dataclass(slots=True)
class ReplayReport:
    rule_id: str
    title: str
    events: int = 0
    in_logsource: dict[str, int] = field(default_factory=dict)
    matches: list[dict[str, Any]] = field(default_factory=list)
    match_count: int = 0
    fields: list[FieldPresence] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "events_replayed": self.events,
            "events_in_logsource": self.in_logsource,
            "matches": self.match_count,
            "examples": self.matches,
            "fields": [
                {
                    "rule": f.rule_id,
                    "field": f.field,
                    "paths": [".".join(p) for p in f.paths],
                    "events_with_field": f.seen,
                }
                for f in self.fields
            ],
            "never_present": sorted({f.field for f in self.fields if f.seen == 0}),
        }


def rule_subset(ruleset: RuleSet, target: LoadedRule | LoadedCorrelation) -> RuleSet:
    """The target rule plus, for a correlation, every rule it (transitively) references."""
    chosen_rules: list[LoadedRule] = []
    chosen_corr: list[LoadedCorrelation] = []
    everything: list[LoadedRule | LoadedCorrelation] = [*ruleset.rules, *ruleset.correlations]
    pending: list[LoadedRule | LoadedCorrelation] = [target]
    seen: set[str] = set()
    while pending:
        item = pending.pop()
        if item.id in seen:
            continue
        seen.add(item.id)
        if isinstance(item, LoadedCorrelation):
            chosen_corr.append(item)
            for ref in item.rule.rules or []:
                inner = getattr(ref, "rule", None)
                pending.extend(candidate for candidate in everything if candidate.rule is inner)
        elif isinstance(item, LoadedRule):
            chosen_rules.append(item)
    return RuleSet(rules=chosen_rules, correlations=chosen_corr, filters=list(ruleset.filters))


def replay_rule(
    ruleset: RuleSet, target: LoadedRule | LoadedCorrelation, events: Iterable[Event], examples: int = 10
) -> ReplayReport:
    """Run one rule (with what it references) over `events`; count matches and field presence.

    Correlations get a state of their own, created here and dropped at the end (open windows
    are evaluated then): a replay never reads nor writes the live server's saved windows.
    """
    replay = RuleReplay(ruleset, target, examples)
    replay.feed(events)
    return replay.finish()


class RuleReplay:
    """`replay_rule` in steps: `feed` events as they come (the API reads them in pages, bounded),
    then `finish` once."""

    def __init__(self, ruleset: RuleSet, target: LoadedRule | LoadedCorrelation, examples: int = 10) -> None:
        subset = rule_subset(ruleset, target)
        self.target_id = target.id
        self.examples = examples
        self.detector = Detector(subset, timing=False)
        # stored events come in @timestamp order, so no lateness is needed
        self.engine = CorrelationEngine(subset.correlations, lateness=0.0) if subset.correlations else None
        self.report = ReplayReport(rule_id=target.id, title=str(target.rule.title))
        presences: list[FieldPresence] = []
        for loaded in subset.rules:
            route = rule_route_key(loaded.rule.logsource)
            self.report.in_logsource["/".join(p or "*" for p in route)] = 0
            for name in rule_fields(loaded.rule):
                presences.append(FieldPresence(loaded.id, name, field_paths(name, route), route))
        if self.engine is not None:
            for spec in self.engine.specs:
                for names, paths in zip(spec.group_fields, spec.group_paths, strict=True):
                    for name, path in zip(names, paths, strict=True):
                        presences.append(FieldPresence(spec.rule_id, name, path, None))
        self.presences = presences
        self.routes_index = {
            text: tuple(None if p == "*" else p for p in text.split("/")) for text in self.report.in_logsource
        }

    def _record(self, hit: Any) -> None:
        report = self.report
        if hit.rule_id != self.target_id:
            return
        report.match_count += 1
        if len(report.matches) < self.examples:
            report.matches.append(
                {
                    "time": hit.event_times[-1] if hit.event_times else None,
                    "event_id": hit.event_ids[-1] if hit.event_ids else None,
                    "host": hit.host,
                    "group_key": hit.group_key,
                    "events": len(hit.event_ids),
                }
            )

    def feed(self, events: Iterable[Event]) -> None:
        report, presences, engine = self.report, self.presences, self.engine
        for event in events:
            report.events += 1
            keys: set[Any] = set(classify(event).route_keys())
            for text, route_key in self.routes_index.items():
                if route_key in keys:
                    report.in_logsource[text] += 1
            for presence in presences:
                if presence.route is None or presence.route in keys:
                    if lookup(event, presence.paths) is not MISSING:
                        presence.seen += 1
            hits = self.detector.match(event)
            for hit in hits:
                self._record(hit)
            if engine is not None and hits:
                for hit in engine.process(event, hits):
                    self._record(hit)

    def finish(self) -> ReplayReport:
        """Evaluate the open correlation windows; the report."""
        if self.engine is not None:
            for hit in self.engine.flush():
                self._record(hit)
        self.report.fields = self.presences
        return self.report
