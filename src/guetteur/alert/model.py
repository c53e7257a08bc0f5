"""What alerting reads and writes: stored hits, severities, entities, alert records.

A *hit* (`hits` table, seam 1 of the alerting contract) is one detection: a Sigma rule on one
event, a correlation, a statistical or a risk detector. An *alert* groups the hits of one rule
on one entity while it is open (`grouping.py`). This module holds the pure mappings:

- severity: Sigma informational and low -> `low`, medium -> `medium`, high and critical ->
  `critical`; `alert.severity_overrides` (rule id -> severity) changes one rule's;
- entity: the correlation's group-by values (`group_key`), else the event's `host.name`,
  `user.name`, `source.ip` (`extra.entity`, written with the hit);
- ATT&CK techniques and tactics from the rule's tags (the bundled catalogue).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

import orjson

from guetteur.detect import attack

Severity = Literal["low", "medium", "critical"]
Status = Literal["open", "acknowledged", "closed"]
CloseReason = Literal["true_positive", "false_positive", "benign_positive", "duplicate", "other"]

SEVERITIES: tuple[Severity, ...] = ("low", "medium", "critical")
STATUSES: tuple[Status, ...] = ("open", "acknowledged", "closed")
CLOSE_REASONS: tuple[CloseReason, ...] = ("true_positive", "false_positive", "benign_positive", "duplicate", "other")
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
LEVEL_SEVERITY: dict[str, Severity] = {
    "informational": "low", "low": "low", "medium": "medium", "high": "critical", "critical": "critical",
}
# Entity fields taken from a single event (a correlation's group-by fields are taken as they are).
EVENT_ENTITY_FIELDS: tuple[str, ...] = ("host.name", "user.name", "source.ip")
MAX_ENTITY_FIELDS = 8
MAX_ENTITY_VALUE = 512


def severity_of(rule_id: str, level: str, overrides: Mapping[str, str] | None = None) -> Severity:
    """The alert severity of a hit of `rule_id` at Sigma `level` (unknown levels are medium)."""
    if overrides:
        forced = overrides.get(rule_id)
        if forced in SEVERITY_RANK:
            return forced  # type: ignore[return-value]
    return LEVEL_SEVERITY.get(level.lower() if isinstance(level, str) else "", "medium")


def entity_of(group_key: Mapping[str, Any] | None, extra: Mapping[str, Any] | None) -> dict[str, str]:
    """The entity of a hit: its group-by values, else the event's host, user and source address.

    Values become text (a list is joined with `,`), long ones are cut, empty ones dropped, at
    most `MAX_ENTITY_FIELDS` fields: an entity is a key, not a document."""
    source: Mapping[str, Any] | None = group_key if group_key else None
    if source is None and extra:
        candidate = extra.get("entity")
        source = candidate if isinstance(candidate, Mapping) else None
    out: dict[str, str] = {}
    for name, value in (source or {}).items():
        if len(out) >= MAX_ENTITY_FIELDS:
            break
        if value is None or value == "" or value == []:
            continue
        text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
        out[str(name)[:128]] = text[:MAX_ENTITY_VALUE]
    return out


def entity_key(entity: Mapping[str, str]) -> str:
    """The canonical text of an entity (sorted keys): equal entities, equal keys."""
    return orjson.dumps(dict(entity), option=orjson.OPT_SORT_KEYS).decode()


def attack_of(tags: Sequence[str]) -> tuple[list[str], list[str]]:
    """(technique ids, tactic shortnames) of a rule's tags: tactics named by a tag first, else
    the tactics of its techniques, in matrix order (new lists: the caller may change them)."""
    techniques, tactics = _attack_of(tuple(tags))
    return list(techniques), list(tactics)


@lru_cache(maxsize=4096)
def _attack_of(tags: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    techniques = attack.technique_ids(tags)
    named: list[str] = []
    implied: list[str] = []
    for ref in attack.parse_tags(tags):
        if ref.kind == "tactic" and ref.status == "known":
            named.extend(t for t in ref.tactics if t not in named)
        elif ref.kind == "technique":
            implied.extend(t for t in ref.tactics if t not in implied)
    tactics = named or implied
    order = {t.shortname: t.order for t in attack.catalogue().tactics}
    return tuple(techniques), tuple(sorted(tactics, key=lambda name: order.get(name, 99)))


@dataclass(slots=True)
class StoredHit:
    """One row of `hits`, as the alert manager reads it."""

    id: int
    created: datetime
    rule_id: str
    rule_title: str
    level: str
    tags: list[str]
    event_ids: list[str | None]
    event_times: list[datetime | None]
    group_key: dict[str, Any] | None = None
    correlation: str | None = None
    extra: dict[str, Any] | None = None

    @property
    def first_time(self) -> datetime:
        """Event time of its first event (its commit time when no event has one)."""
        times = [t for t in self.event_times if t is not None]
        return min(times) if times else self.created

    @property
    def last_time(self) -> datetime:
        times = [t for t in self.event_times if t is not None]
        return max(times) if times else self.created


def alert_key(hit: StoredHit) -> tuple[str, str]:
    """(rule id, entity key): hits with equal keys group into one alert while it is open."""
    return (hit.rule_id, entity_key(entity_of(hit.group_key, hit.extra)))


@dataclass(slots=True)
class AlertRecord:
    """An alert as the manager groups it (a row of `alerts`; `id` None until inserted)."""

    id: int | None
    rule_id: str
    rule_title: str
    severity: Severity
    status: Status
    entity: dict[str, str]
    entity_key: str
    tags: list[str]
    techniques: list[str]
    tactics: list[str]
    first_seen: datetime
    last_seen: datetime
    count: int
    event_ids: list[str]
    event_total: int
    risk_score: int
    silenced: bool = False
    silence_id: int | None = None
    hit_ids: list[int] = field(default_factory=list)  # hits grouped into it in this round

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule_id, self.entity_key)
