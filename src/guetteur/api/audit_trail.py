"""Recording what people do: one audit row (hash-chained, `guetteur.store.audit`) and the
same fact as an ECS event in our own event store (`event.dataset: guetteur.audit`), so
Guetteur's rules can detect attacks on Guetteur (password guessing, a new admin at night...).

The event goes through the pipeline like any received record (a JSON line, parsed as ECS).
When the pipeline is full the event is dropped and logged; the audit row is always written.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from guetteur.api.state import AppState
from guetteur.model import RawRecord
from guetteur.store.audit import AuditEntry, append

log = logging.getLogger(__name__)

DATASET = "guetteur.audit"
# action -> (event.category, event.type) in ECS terms
_ECS_KIND: dict[str, tuple[list[str], list[str]]] = {
    "login": (["authentication"], ["start"]),
    "logout": (["authentication"], ["end"]),
    "refresh": (["authentication"], ["info"]),
    "password.change": (["iam"], ["user", "change"]),
    "totp.enrol": (["iam"], ["user", "change"]),
    "totp.confirm": (["iam"], ["user", "change"]),
    "user.create": (["iam"], ["user", "creation"]),
    "user.change": (["iam"], ["user", "change"]),
    "key.create": (["iam"], ["creation"]),
    "key.revoke": (["iam"], ["deletion"]),
    "search": (["database"], ["access"]),
    "export": (["database"], ["access"]),
}


def ecs_event(entry: AuditEntry, at: datetime) -> dict[str, Any]:
    """The ECS document of one audit entry."""
    category, kind = _ECS_KIND.get(entry.action, (["configuration"], ["change"]))  # rule and setting changes
    event: dict[str, Any] = {
        "@timestamp": at.isoformat().replace("+00:00", "Z"),
        "event": {"kind": "event", "category": category, "type": kind, "action": entry.action,
                  "outcome": entry.outcome, "dataset": DATASET, "module": "guetteur"},
        "user": {"name": entry.actor},
        "message": f"guetteur {entry.action} {entry.outcome}: {entry.actor}"
                   + (f" -> {entry.target}" if entry.target else ""),
        "labels": {k: str(v) for k, v in entry.detail.items()},
    }
    if entry.source_address:
        event["source"] = {"ip": entry.source_address}
    if entry.target:
        event["user"]["target"] = {"name": entry.target}
    return event


async def record(state: AppState, entry: AuditEntry) -> None:
    """Write `entry` to the audit trail and offer it to the event store."""
    await append(state.pool, entry)
    if state.pipeline is None:
        return
    now = time.time()
    line = orjson.dumps(ecs_event(entry, datetime.fromtimestamp(now, UTC)))
    if not state.pipeline.offer_many([RawRecord(line, now, "audit", "json_lines", None, {"dataset": DATASET})]):
        log.warning("audit event not stored in the event store (pipeline full): %s %s", entry.action, entry.actor)
