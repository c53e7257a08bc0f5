"""The ATT&CK coverage matrix with recent activity: for each tactic (matrix order) every
top-level technique of the bundled catalogue, the enabled rules that cover it (its
sub-techniques included), and the alerts and hits of a recent window.

`attack.coverage_matrix` (the `guetteur rules coverage` command) lists covered techniques
only; the console's matrix shows the uncovered ones too (the gaps are the point) and colours
cells by rules or by recent hits, so it is built here from the same `attack.coverage`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from guetteur.detect import attack


@dataclass(slots=True)
class TechniqueCell:
    id: str  # top-level technique id, "T1110"
    name: str
    rules: list[str] = field(default_factory=list)  # enabled rule ids covering it or a sub-technique
    subtechniques: list[str] = field(default_factory=list)  # its sub-techniques some rule names
    alerts: int = 0
    hits: int = 0


@dataclass(slots=True)
class TacticColumn:
    id: str
    shortname: str
    name: str
    techniques: list[TechniqueCell]

    @property
    def covered(self) -> int:
        return sum(1 for t in self.techniques if t.rules)


@dataclass(slots=True)
class Coverage:
    tactics: list[TacticColumn]
    unknown: list[TechniqueCell]  # technique ids rules name that this catalogue does not know
    rule_titles: dict[str, str]


def hits_per_technique(tag_counts: Iterable[tuple[list[str], int]]) -> Counter[str]:
    """Hits per top-level technique from (a hit's tags, hits with those tags): a hit counts once
    for each technique its tags name (sub-techniques rolled up, revoked ids replaced)."""
    found: Counter[str] = Counter()
    for tags, count in tag_counts:
        for parent in dict.fromkeys(t.split(".", 1)[0] for t in attack.technique_ids(tags)):
            found[parent] += count
    return found


def coverage(rules: Iterable[Any], alerts: Mapping[str, int], hits: Mapping[str, int],
             cat: attack.AttackCatalogue | None = None) -> Coverage:
    """The matrix for `rules` (objects with `id`, `title`, `tags` and maybe `enabled`: the rule
    catalogue's RuleInfo and CorrelationInfo, first-seen rules) and the recent `alerts` and `hits` per top-level technique."""
    cat = cat or attack.catalogue()
    listed = list(rules)
    cover = attack.coverage(listed)  # enabled rules only
    titles = {str(r.id): str(r.title) for r in listed}
    per_parent: dict[str, TechniqueCell] = {}
    unknown: dict[str, TechniqueCell] = {}
    for technique_id, rule_ids in cover.items():
        technique = cat.technique(technique_id)
        parent = technique_id.split(".", 1)[0]
        known_parent = cat.technique(parent)
        if technique is None or known_parent is None:
            cell = unknown.setdefault(technique_id, TechniqueCell(technique_id, ""))
        else:
            cell = per_parent.setdefault(parent, TechniqueCell(parent, known_parent.name))
            if technique.parent:
                cell.subtechniques.append(technique.id)
        cell.rules.extend(r for r in rule_ids if r not in cell.rules)
    columns = []
    for tactic in cat.tactics:
        cells = []
        for technique in sorted((t for t in cat.techniques.values()
                                 if t.parent is None and tactic.shortname in t.tactics), key=lambda t: t.name):
            base = per_parent.get(technique.id)
            cells.append(TechniqueCell(
                technique.id, technique.name, list(base.rules) if base else [],
                sorted(base.subtechniques) if base else [], alerts.get(technique.id, 0), hits.get(technique.id, 0)))
        columns.append(TacticColumn(tactic.id, tactic.shortname, tactic.name, cells))
    for cell in unknown.values():
        parent = cell.id.split(".", 1)[0]
        cell.alerts, cell.hits = alerts.get(parent, 0), hits.get(parent, 0)
    return Coverage(columns, sorted(unknown.values(), key=lambda c: c.id), titles)
