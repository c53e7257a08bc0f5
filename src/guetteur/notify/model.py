"""What the notifier handles: alert changes, channels, routes, and the delivery error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from guetteur.errors import GuetteurError

Severity = Literal["low", "medium", "critical"]
SEVERITIES: tuple[str, ...] = ("low", "medium", "critical")


class DeliveryFailed(GuetteurError):
    """A message could not be delivered. `recoverable`: a later try may succeed (timeout, refused
    connection, SMTP 4xx, HTTP 5xx/408/429); otherwise it is dead-lettered at once (SMTP 5xx,
    HTTP 4xx, a secret that cannot be decrypted)."""

    recoverable = True


@dataclass(frozen=True, slots=True)
class AlertChange:
    """One `created` or `escalated` row of `alert_history` with its alert, as messages show it."""

    history_id: int
    alert_id: int
    action: str  # created | escalated
    at: datetime
    rule_id: str
    rule_title: str
    severity: str
    entity: dict[str, str]
    techniques: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    count: int = 1
    event_total: int = 0
    risk_score: int | None = None
    silenced: bool = False
    previous_severity: str | None = None  # escalations: the severity before

    def to_json(self) -> dict[str, Any]:
        """The snapshot kept in an outbox row (JSON types only)."""
        return {
            "history_id": self.history_id, "alert_id": self.alert_id, "action": self.action,
            "at": self.at.isoformat(), "rule_id": self.rule_id, "rule_title": self.rule_title,
            "severity": self.severity, "entity": self.entity, "techniques": list(self.techniques),
            "tactics": list(self.tactics), "tags": list(self.tags),
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "count": self.count, "event_total": self.event_total, "risk_score": self.risk_score,
            "previous_severity": self.previous_severity,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertChange:
        def when(value: Any) -> datetime | None:
            return datetime.fromisoformat(value) if isinstance(value, str) else None

        at = when(data.get("at"))
        return cls(
            history_id=int(data.get("history_id", 0)), alert_id=int(data.get("alert_id", 0)),
            action=str(data.get("action", "created")), at=at if at is not None else datetime.fromtimestamp(0),
            rule_id=str(data.get("rule_id", "")), rule_title=str(data.get("rule_title", "")),
            severity=str(data.get("severity", "low")),
            entity={str(k): str(v) for k, v in (data.get("entity") or {}).items()},
            techniques=tuple(data.get("techniques") or ()), tactics=tuple(data.get("tactics") or ()),
            tags=tuple(data.get("tags") or ()), first_seen=when(data.get("first_seen")),
            last_seen=when(data.get("last_seen")), count=int(data.get("count") or 1),
            event_total=int(data.get("event_total") or 0), risk_score=data.get("risk_score"),
            previous_severity=data.get("previous_severity"))


@dataclass(frozen=True, slots=True)
class Match:
    """What a route takes: every given criterion must hold; an empty match takes everything.
    `rules`, `tags` and entity values are shell-style wildcards (`*`, `?`), case-insensitive."""

    severities: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    entity: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Route:
    id: int
    name: str
    channel_id: int
    match: Match
    mode: Literal["immediate", "digest"]
    digest_minutes: int = 60
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Channel:
    """A configured channel; `config` is the validated, non-secret part, `secrets` the
    decrypted secrets (only in the delivering process, never returned by the API)."""

    id: int
    name: str
    kind: Literal["email", "webhook"]
    config: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
