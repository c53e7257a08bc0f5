"""`Hit`: what detection hands to alerting — one rule matched one event (or a correlation fired).

A `Hit` is produced by the stateless Sigma matcher (`detect.engine.Detector`) for every
enabled rule whose condition holds on an event, and by the correlation engine
(`detect.correlation`) when a correlation rule's window condition holds. Alerting
(`alert/`) turns hits into alerts; it reads only the fields below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from guetteur import ecs
from guetteur.model import Event

# Sigma `level` values, lowest first (sigma-rules-specification.md "Level").
LEVELS: tuple[str, ...] = ("informational", "low", "medium", "high", "critical")


@dataclass(slots=True)
class Hit:
    """One detection.

    rule_id:      the Sigma rule `id` (or the file-derived id when the rule has none).
    rule_title:   the rule `title`.
    level:        the Sigma level (`informational` .. `critical`), `medium` when the rule has none.
    tags:         the rule's tags as written (`attack.t1110`, `attack.credential-access`, `cve.2021-4034`).
    event_ids:    `event.id` of the matching event(s), in time order (None when the event had none yet).
    event_times:  `@timestamp` of the same events.
    event:        the (last) matching event, as given to the detector (not copied).
    group_key:    for correlations, the `group-by` field values of the firing group.
    correlation:  for correlations, the correlation type (`event_count`, `value_count`, `temporal`...).
    rule_names:   the rule `name` when it has one (correlations reference base rules by name or id).
    source:       the rule file, when known (for the analyst: "which rule file fired?").
    alert:        False for a base rule that exists only to feed a correlation (Sigma: a
                  correlation without `generate: true`): alerting skips it, correlation uses it.
    """

    rule_id: str
    rule_title: str
    level: str
    tags: list[str]
    event_ids: list[str]
    event_times: list[str]
    event: Event | None
    group_key: dict[str, object] | None = None
    correlation: str | None = None
    rule_name: str | None = None
    source: str | None = None
    alert: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def attack_tags(self) -> list[str]:
        """The tags in the `attack` namespace (techniques, tactics, groups...)."""
        return [t for t in self.tags if t.lower().startswith("attack.")]

    @property
    def host(self) -> str | None:
        """`host.name` of the matching event (Windows: the computer name), if any."""
        if self.event is None:
            return None
        name = ecs.get(self.event, "host.name")
        if name is None:
            name = ecs.get(self.event, "winlog.computer_name")
        return None if name is None else str(name)

    def to_dict(self, with_event: bool = True) -> dict[str, Any]:
        """Plain JSON-ready form (`guetteur hunt --format json`, the API)."""
        out: dict[str, Any] = {
            "rule_id": self.rule_id,
            "rule_title": self.rule_title,
            "level": self.level,
            "tags": list(self.tags),
            "event_ids": list(self.event_ids),
            "event_times": list(self.event_times),
            "host": self.host,
        }
        if self.rule_name:
            out["rule_name"] = self.rule_name
        if self.source:
            out["source"] = self.source
        if self.group_key is not None:
            out["group_key"] = self.group_key
        if not self.alert:
            out["alert"] = False
        if self.correlation is not None:
            out["correlation"] = self.correlation
        if self.extra:
            out["extra"] = self.extra
        if with_event:
            out["event"] = self.event
        return out
