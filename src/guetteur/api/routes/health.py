"""Health: a public liveness answer, and the details behind a `read` key.

- `GET /api/v1/health` (no key): `{"status": "ok" | "degraded", "version"}`, plus a short
  `reason` when degraded. Nothing else: no counters, no rule ids, no error text (an
  unauthenticated caller learns only whether Guetteur works). Always 200 while the API
  runs, so a load balancer can tell "degraded" from "dead".
- `GET /api/v1/health/details` (`read` key): the same status, the database (`state`,
  `since`, `reason`, `restarts`, `outages`), the pipeline's counters per source and in
  total, its queues, detection (each counter says what it counts, see the models) and the
  listeners' transport counters, the statistical detectors (`statistics`, with the list
  of silent sources), and the retention task's last run (`retention`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from guetteur import __version__
from guetteur.api.deps import Public, State, Viewer
from guetteur.api.state import AppState

router = APIRouter(tags=["health"])

PUBLIC_REASONS = {"down": "database unavailable", "restarting": "database restarting"}


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="`degraded`: Guetteur answers but cannot store now")
    version: str
    reason: str | None = Field(None, description="why it is degraded (absent when ok)")


class DatabaseHealth(BaseModel):
    state: Literal["up", "down", "restarting"]
    since: datetime = Field(description="when it entered this state")
    reason: str | None = Field(description="why it is not up (the error seen)")
    restarts: int = Field(description="restarts of the embedded server by this process")
    outages: int = Field(description="times the database went away since start")
    embedded: bool = Field(description="the embedded server (restarted by Guetteur) or an external one (watched)")


class FlowHealth(BaseModel):
    """Records of one source through the pipeline, from acceptance into the buffer."""

    model_config = ConfigDict(extra="allow")

    received: int = Field(description="records accepted into the buffer")
    dropped: int = Field(description="records refused because the buffer was full (UDP)")
    truncated: int = Field(description="records cut at `pipeline.max_record_bytes`")
    parsed: int = Field(description="stored events a parser understood")
    unparsed: int = Field(description="stored events no parser understood (kept raw, tagged)")
    merged: int = Field(description="records folded into another event (auditd groups)")
    stored: int = Field(description="events committed to PostgreSQL")
    quarantined: int = Field(0, description="of the stored, events the database refused, kept in quarantine form")


class QueuesHealth(BaseModel):
    model_config = ConfigDict(extra="allow")

    buffer: int = Field(description="records accepted, waiting for a worker")
    buffer_capacity: int
    in_workers: int = Field(description="records handed to workers, not yet committed")
    workers: int = Field(description="parser worker processes alive")


class DetectionHealth(BaseModel):
    """A *hit* is one rule matching one event; an *alert* is a hit of a rule that alerts, stored."""

    model_config = ConfigDict(extra="allow")

    single_event_hits: int = Field(
        description="matches of single-event Sigma rules: one per (event, rule) pair, so an event matching "
                    "three rules counts three; rules that only feed a correlation count too")
    single_event_alerts: int = Field(
        description="of those hits, the ones of alerting rules, stored in the `hits` table with their batch "
                    "(correlation-only base rules excluded)")
    correlation_alerts: int = Field(0, description="correlation rules that fired (an alert each), stored")
    top_rules: dict[str, int] = Field(description="single_event_hits of the 20 busiest rules, by rule id")
    rules: int = Field(0, description="single-event rules loaded")
    correlations: int = Field(0, description="correlation rules loaded")
    rule_errors: int = Field(0, description="rules that failed to load or compile")
    engine: dict[str, Any] = Field(default_factory=dict, description="correlation windows: counters and sizes")


class NotifyHealth(BaseModel):
    """Notifications (docs/notifications.md): the outbox and what this process delivered."""

    model_config = ConfigDict(extra="allow")

    enabled: bool
    pending: int = Field(description="messages waiting for delivery (first try or a retry)")
    oldest_pending_seconds: float | None = Field(description="age of the oldest pending message")
    dead: int = Field(description="dead letters: undelivered after every try (POST .../notify/outbox/{id}/retry)")
    dead_by_channel: dict[str, dict[str, Any]] = Field(description="dead letters and the last error, per channel")
    routed: int = Field(0, description="alert changes routed since start")
    sent: int = Field(0, description="messages delivered since start")
    failed_tries: int = Field(0, description="failed delivery tries since start")
    dead_lettered: int = Field(0, description="messages dead-lettered since start")
    last_error: str | None = None


class SilentSource(BaseModel):
    entity: dict[str, str] = Field(description="`{\"host.name\": ...}` or `{\"event.dataset\": ...}`")
    last_seen: str = Field(description="when its last event arrived")
    since: str = Field(description="when it was declared silent")
    usual_gap_s: float = Field(description="its learnt usual gap between arrivals, seconds")


class StatisticsHealth(BaseModel):
    """The statistical detectors (docs/statistics.md)."""

    model_config = ConfigDict(extra="allow")

    silent: list[SilentSource] = Field(description="sources silent now, longest silent first (at most 100)")
    frequency: dict[str, Any] = Field(description="series tracked, minutes judged, late/dropped counts, hits")
    sources: dict[str, Any] = Field(description="hosts and source types watched, silent now, hits")
    first_seen: dict[str, dict[str, Any]] = Field(description="per first-seen rule: values kept, learning, hits")


class AlertsHealth(BaseModel):
    hits: int = Field(description="hits grouped into alerts since the start")
    alerts_created: int
    rounds: int
    waiting_gaps: int = Field(description="hit ids not committed yet that the alert manager waits for")
    last_error: str | None = Field(description="the last round's error, None once a round succeeded")


class RetentionRun(BaseModel):
    """One retention run (docs/storage.md "Retention"): what it deleted."""

    started_at: datetime
    finished_at: datetime | None
    event_partitions: int = Field(description="day partitions of events dropped")
    events: int = Field(description="events those partitions held")
    hits: int = Field(description="detection hits deleted")
    alerts: int = Field(description="closed alerts deleted (with their history and links)")
    complete: bool = Field(description="false: more is left for the next run (bounded runs, or a busy table)")
    error: str | None = Field(description="why the run stopped early")


class RetentionHealth(BaseModel):
    settings: dict[str, int] = Field(description="the retention days in force (0 = keep forever)")
    interval_seconds: float = Field(description="time between runs")
    runs: int = Field(description="runs since the start")
    next_run: datetime | None
    last_run: RetentionRun | None = Field(description="the last run (null before the first one ended)")


class HealthDetails(HealthPublic):
    database: DatabaseHealth | None = Field(description="absent when Guetteur runs without a database supervisor")
    sources: dict[str, FlowHealth] = Field(default_factory=dict, description="per source (`input.type`)")
    totals: FlowHealth | None = None
    queues: QueuesHealth | None = None
    detection: DetectionHealth | None = None
    statistics: StatisticsHealth | None = Field(None, description="absent when the statistical detectors are off")
    transports: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per listener: bytes, connections open, refused, closed, errors")
    notify: NotifyHealth | None = Field(None, description="notifications: outbox and dead letters")
    alerts: AlertsHealth | None = Field(None, description="the alert manager; absent when alert.enabled is off")
    retention: RetentionHealth | None = Field(None, description="the retention task of `guetteur up`")


def _status(state: AppState) -> HealthPublic:
    database = state.database.status() if state.database is not None else None
    if database is None or database.state == "up":
        return HealthPublic(status="ok", version=__version__)
    return HealthPublic(status="degraded", version=__version__, reason=PUBLIC_REASONS[database.state])


@router.get("/health", response_model=HealthPublic, response_model_exclude_none=True)
async def health(state: State, _: Public) -> HealthPublic:
    """Liveness: `ok`, or `degraded` with a short reason (e.g. the database is away).
    Public; the details are at `/api/v1/health/details` with a `read` key."""
    return _status(state)


@router.get("/health/details", response_model=HealthDetails,
            responses={401: {"description": "missing or invalid `read` key"}})
async def health_details(state: State, key: Viewer) -> HealthDetails:
    """Status, database, pipeline counters, queues, detection and transports."""
    del key
    body: dict[str, Any] = _status(state).model_dump()
    database = state.database.status() if state.database is not None else None
    body["database"] = None if database is None else {
        "state": database.state.value, "since": database.since, "reason": database.reason,
        "restarts": database.restarts, "outages": database.outages, "embedded": database.embedded}
    if state.pipeline is not None:
        body.update(state.pipeline.health())
    # transport facts the pipeline cannot see: bytes, connections open/refused, errors
    body["transports"] = {str(c["source"]): c for c in (s.counters.as_dict() for s in state.sources)}
    if state.notifier is not None:
        body["notify"] = state.notifier.health()
    if state.alerts is not None:
        body["alerts"] = state.alerts.health()
    if state.retention is not None:
        body["retention"] = state.retention.health()
    return HealthDetails.model_validate(body)
