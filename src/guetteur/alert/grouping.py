"""Hits -> alert changes, by event time, without I/O.

The same rule on the same entity updates the newest alert of that (rule, entity) while it is
not closed and the hit's first event is at most `window` after the alert's last one (and not
more than `window` before its first: a late straggler of an old burst groups too). Otherwise the
hit opens a new alert: a closed alert's next hit, or a hit past the window, starts another.

An update raises `count`, `last_seen`, the event ids (bounded) and their total, the risk score
(the max of its hits'), and the severity (never lowers it): a higher severity is an
*escalation*, which notifies; a plain update does not. A new alert, or an update of an alert
that is not yet silenced, is checked against the silences active at the hit's event time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from guetteur.alert.model import (
    SEVERITY_RANK,
    AlertRecord,
    Severity,
    StoredHit,
    attack_of,
    entity_key,
    entity_of,
    severity_of,
)
from guetteur.alert.silences import Silence, first_silence

RiskOf = Callable[[StoredHit, list[str], dict[str, str]], int]


@dataclass(slots=True)
class AlertChange:
    """What one round did to one alert: `created`, or updated (`escalated_from` set when the
    severity went up), `newly_silenced` when a silence caught it in this round."""

    alert: AlertRecord
    created: bool
    severity_before: Severity
    count_before: int
    newly_silenced: bool = False
    links: list[tuple[int, datetime]] = field(default_factory=list)  # (hit id, its event time)

    @property
    def escalated(self) -> bool:
        return not self.created and SEVERITY_RANK[self.alert.severity] > SEVERITY_RANK[self.severity_before]


@dataclass(slots=True)
class Grouper:
    window: timedelta
    max_event_ids: int = 100
    severity_overrides: Mapping[str, str] = field(default_factory=dict)
    silences: list[Silence] = field(default_factory=list)
    risk_of: RiskOf | None = None

    def group(self, hits: Iterable[StoredHit], open_alerts: Mapping[tuple[str, str], AlertRecord]) -> list[AlertChange]:
        """The changes `hits` (in id order) make to `open_alerts` (the newest not-closed alert
        per (rule id, entity key), as stored) and to new alerts."""
        current: dict[tuple[str, str], AlertRecord] = dict(open_alerts)
        changes: dict[int, AlertChange] = {}  # by id() of the record: new records have no id yet
        for hit in hits:
            entity = entity_of(hit.group_key, hit.extra)
            key = (hit.rule_id, entity_key(entity))
            alert = current.get(key)
            if alert is not None and self._groups(alert, hit):
                change = changes.get(id(alert))
                if change is None:
                    change = changes[id(alert)] = AlertChange(alert, False, alert.severity, alert.count)
                self._update(change, hit, entity)
            else:
                alert = self._new(hit, entity, key[1])
                current[key] = alert
                change = changes[id(alert)] = AlertChange(alert, True, alert.severity, 0,
                                                          newly_silenced=alert.silenced)
            change.links.append((hit.id, hit.last_time))
        return list(changes.values())

    def _groups(self, alert: AlertRecord, hit: StoredHit) -> bool:
        if alert.status == "closed":
            return False
        return hit.first_time <= alert.last_seen + self.window and hit.last_time >= alert.first_seen - self.window

    def _severity(self, hit: StoredHit) -> Severity:
        return severity_of(hit.rule_id, hit.level, self.severity_overrides)

    def _risk(self, hit: StoredHit, tactics: list[str], entity: dict[str, str]) -> int:
        return 0 if self.risk_of is None else max(0, min(100, int(self.risk_of(hit, tactics, entity))))

    def _new(self, hit: StoredHit, entity: dict[str, str], key: str) -> AlertRecord:
        techniques, tactics = attack_of(hit.tags)
        silence = first_silence(self.silences, hit.rule_id, hit.tags, entity, hit.last_time)
        return AlertRecord(
            id=None, rule_id=hit.rule_id, rule_title=hit.rule_title, severity=self._severity(hit), status="open",
            entity=entity, entity_key=key, tags=list(hit.tags), techniques=techniques, tactics=tactics,
            first_seen=hit.first_time, last_seen=hit.last_time, count=1,
            event_ids=[e for e in hit.event_ids if e is not None][: self.max_event_ids],
            event_total=len(hit.event_ids), risk_score=self._risk(hit, tactics, entity),
            silenced=silence is not None, silence_id=None if silence is None else silence.id,
        )

    def _update(self, change: AlertChange, hit: StoredHit, entity: dict[str, str]) -> None:
        alert = change.alert
        alert.count += 1
        alert.first_seen = min(alert.first_seen, hit.first_time)
        alert.last_seen = max(alert.last_seen, hit.last_time)
        room = self.max_event_ids - len(alert.event_ids)
        if room > 0:
            fresh = [e for e in hit.event_ids if e is not None and e not in alert.event_ids]
            alert.event_ids.extend(fresh[:room])
        alert.event_total += len(hit.event_ids)
        severity = self._severity(hit)
        if SEVERITY_RANK[severity] > SEVERITY_RANK[alert.severity]:
            alert.severity = severity
        techniques, tactics = attack_of(hit.tags)
        if techniques != alert.techniques:
            alert.techniques.extend([t for t in techniques if t not in alert.techniques])
        if tactics != alert.tactics:
            alert.tactics.extend([t for t in tactics if t not in alert.tactics])
        alert.risk_score = max(alert.risk_score, self._risk(hit, tactics, entity))
        if not alert.silenced:
            silence = first_silence(self.silences, hit.rule_id, hit.tags, entity, hit.last_time)
            if silence is not None:
                alert.silenced, alert.silence_id = True, silence.id
                change.newly_silenced = True
