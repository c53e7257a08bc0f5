"""`/api/v1/alerts`: the alerts analysts work (docs/alerts.md).

Viewers (and read keys) list and read; analysts and admins triage: status (acknowledge, close
with a reason, reopen), assignee, comments, bulk changes, and a silence made from an alert in
one call. Every change is kept in the alert's history (who, when, what) and in the audit trail.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from guetteur.alert.lifecycle import check_request
from guetteur.alert.model import CloseReason, Severity, Status
from guetteur.alert.silences import parse_matchers
from guetteur.api.audit_trail import record
from guetteur.api.deps import Analyst, State, Viewer, client_address
from guetteur.api.routes.silences import SilencePublic, silence_public
from guetteur.errors import AlertInputError
from guetteur.store import alert_queries as queries
from guetteur.store import alert_triage as triage
from guetteur.store.audit import AuditEntry
from guetteur.store.silences import create_silence, get_silence
from guetteur.store.users import find_user

router = APIRouter(prefix="/alerts", tags=["alerts"])

MAX_PAGE = 500
MAX_BULK = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
_EXAMPLE: dict[str, Any] = {
    "id": 42, "rule_id": "012bad0a-65d1-4c47-b750-3df1d296229b", "rule_title": "SSH Brute Force",
    "severity": "medium", "status": "open",
    "entity": {"host.name": "web-01", "source.ip": "203.0.113.7", "user.name": "deploy"},
    "tags": ["attack.credential-access", "attack.t1110.001"], "techniques": ["T1110.001"],
    "tactics": ["credential-access"], "first_seen": "2026-12-05T10:01:02Z", "last_seen": "2026-12-05T10:02:40Z",
    "count": 4, "event_ids": ["0193a7c2-5b1e-7c3d-9a2b-1f0e3d4c5b6a"], "event_total": 20, "risk_score": 61,
    "silenced": False, "silence_id": None, "assignee": None, "close_reason": None,
    "created": "2026-12-05T10:01:03Z", "updated": "2026-12-05T10:02:41Z",
}


class AlertPublic(BaseModel):
    """One alert: one rule on one entity while it stays open."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    id: int
    rule_id: str
    rule_title: str
    severity: Severity = Field(description="low, medium or critical (from the rule's Sigma level or an override)")
    status: Status
    entity: dict[str, str] = Field(description="the correlation's group-by values, else the event's host.name, "
                                               "user.name and source.ip")
    tags: list[str]
    techniques: list[str] = Field(description="ATT&CK technique ids")
    tactics: list[str] = Field(description="ATT&CK tactic shortnames")
    first_seen: datetime = Field(description="event time of the first contributing event")
    last_seen: datetime = Field(description="event time of the last contributing event")
    count: int = Field(description="detections (hits) grouped into this alert")
    event_ids: list[str] = Field(description="the first contributing event ids (bounded: alert.max_event_ids)")
    event_total: int = Field(description="every contributing event, counted")
    risk_score: int = Field(ge=0, le=100, description="the highest risk score of its detections")
    silenced: bool = Field(description="a silence matched: recorded and counted, never notified")
    silence_id: int | None
    assignee: str | None = Field(description="the user it is assigned to")
    close_reason: CloseReason | None
    created: datetime
    updated: datetime


class AlertsPublic(BaseModel):
    data: list[AlertPublic]
    count: int = Field(description="alerts in this page")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; None on the last page")


class HistoryEntry(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": 7, "at": "2026-12-05T10:05:00Z", "actor": "anna", "action": "closed",
         "details": {"from": "acknowledged", "to": "closed", "reason": "true_positive"}}]})

    id: int
    at: datetime
    actor: str = Field(description="`system` (the alert manager) or a user name")
    action: Literal["created", "updated", "escalated", "acknowledged", "closed", "reopened", "assigned",
                    "commented", "silenced"]
    details: dict[str, Any]


class AlertDetail(AlertPublic):
    history: list[HistoryEntry]
    events: list[dict[str, Any]] = Field(description="the contributing events (ECS documents) still stored")
    timeline: list[dict[str, Any]] = Field(description="events of the same host, user or source address from "
                                                       "an hour before the first event to an hour after the last")
    risk_contributions: list[dict[str, Any]] = Field(description="risk scoring's contributions of this alert")


class AlertUpdate(BaseModel):
    """What to change; omitted fields stay. `assignee: null` unassigns."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"status": "closed", "close_reason": "false_positive"}, {"status": "acknowledged", "assignee": "anna"}]})

    status: Status | None = None
    close_reason: CloseReason | None = Field(None, description="required when closing")
    assignee: str | None = Field(None, min_length=1, max_length=100, pattern=NO_NUL, description="a user name; null: nobody")


class BulkUpdate(AlertUpdate):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"ids": [41, 42, 43], "status": "closed", "close_reason": "duplicate"}]})

    ids: list[Annotated[int, Field(ge=1, lt=2**63)]] = Field(min_length=1, max_length=MAX_BULK)


class BulkFailure(BaseModel):
    id: int
    reason: str


class BulkResult(BaseModel):
    updated: list[int]
    failed: list[BulkFailure]


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": "Blocked at the firewall."}]})

    text: str = Field(min_length=1, max_length=triage.MAX_COMMENT, pattern=NO_NUL)


class SilenceFromAlert(BaseModel):
    """A silence matching this alert's rule and entity (or the entity fields named in `fields`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "known vulnerability scanner", "duration_minutes": 1440, "fields": ["source.ip"]}]})

    reason: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)
    duration_minutes: int = Field(60, ge=1, le=366 * 24 * 60, description="from now")
    fields: list[Annotated[str, Field(max_length=128)]] | None = Field(None, max_length=8, description="entity fields to match; default: all")
    match_rule: bool = Field(True, description="match this rule only (false: any rule on the entity)")


class RuleStatisticsPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"rule_id": "012bad0a-65d1-4c47-b750-3df1d296229b", "rule_title": "SSH Brute Force", "alerts": 12,
         "open": 2, "acknowledged": 1, "closed": 9, "silenced": 0,
         "close_reasons": {"true_positive": 6, "false_positive": 3}, "false_positive_ratio": 0.333}]})

    rule_id: str
    rule_title: str
    alerts: int
    open: int
    acknowledged: int
    closed: int
    silenced: int
    close_reasons: dict[str, int]
    false_positive_ratio: float | None = Field(description="false_positive / closed over the period; None "
                                                           "before any alert of the rule is closed")


class RulesStatisticsPublic(BaseModel):
    days: int
    data: list[RuleStatisticsPublic]


def _public(row: queries.AlertRow) -> AlertPublic:
    return AlertPublic(
        id=row.id, rule_id=row.rule_id, rule_title=row.rule_title, severity=row.severity,
        status=row.status, entity=row.entity, tags=row.tags, techniques=row.techniques,
        tactics=row.tactics, first_seen=row.first_seen, last_seen=row.last_seen, count=row.count,
        event_ids=row.event_ids, event_total=row.event_total, risk_score=row.risk_score, silenced=row.silenced,
        silence_id=row.silence_id, assignee=row.assignee, close_reason=row.close_reason,
        created=row.created, updated=row.updated)


def _cursor(row: queries.AlertRow) -> str:
    return f"{(row.last_seen - _EPOCH) // timedelta(microseconds=1)}.{row.id}"


def _after(cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    micros, _, ident = cursor.partition(".")
    if not (micros.lstrip("-").isdigit() and ident.isdigit()) or len(cursor) > 40 or int(ident) >= 2**63:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "cursor: not one this API gave")
    try:
        return _EPOCH + timedelta(microseconds=int(micros)), int(ident)
    except OverflowError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "cursor: not one this API gave") from None


def _unprocessable(exc: AlertInputError) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT if exc.conflict else status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


@router.get("", response_model=AlertsPublic, responses={422: {"description": "a bad filter or cursor"}})
async def alerts_list(
    state: State, who: Viewer,
    alert_status: Annotated[list[Status] | None, Query(alias="status", description="open, acknowledged, closed")] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    rule_id: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    technique: Annotated[str | None, Query(pattern=r"^[Tt]\d{4}(\.\d{3})?$", description="T1110 matches its "
                                                                                          "sub-techniques")] = None,
    tactic: Annotated[str | None, Query(pattern=r"^[a-z][a-z-]{1,39}$", examples=["credential-access"])] = None,
    host: Annotated[str | None, Query(max_length=512, pattern=NO_NUL, description="entity host.name")] = None,
    user: Annotated[str | None, Query(max_length=512, pattern=NO_NUL, description="entity user.name")] = None,
    source_ip: Annotated[str | None, Query(max_length=64, description="entity source.ip")] = None,
    assignee: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    silenced: bool | None = None,
    since: Annotated[datetime | None, Query(description="last_seen at or after")] = None,
    until: Annotated[datetime | None, Query(description="first_seen before")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> AlertsPublic:
    """Alerts, most recent activity (last_seen) first, filtered, one keyset page at a time."""
    del who
    if source_ip is not None:
        try:
            source_ip = str(ipaddress.ip_address(source_ip))
        except ValueError:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "source_ip: not an address") from None
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name}: give a time zone (Z or +01:00)")
    filters = queries.AlertFilters(
        status=list(alert_status) if alert_status else None, severity=list(severity) if severity else None,
        rule_id=rule_id, technique=technique.upper() if technique else None, tactic=tactic, host=host, user=user,
        source_ip=source_ip, assignee=assignee, silenced=silenced, since=since, until=until)
    rows = await queries.list_alerts(state.pool, filters, limit=limit + 1, after=_after(cursor))
    page = rows[:limit]
    return AlertsPublic(data=[_public(r) for r in page], count=len(page),
                        next_cursor=_cursor(page[-1]) if len(rows) > limit else None)


@router.get("/rule-statistics", response_model=RulesStatisticsPublic)
async def alerts_rule_statistics(state: State, who: Viewer,
                                 days: Annotated[int, Query(ge=1, le=366)] = 30,
                                 rule_id: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None) -> RulesStatisticsPublic:
    """Per rule, over the alerts created in the last `days` days: counts by status and close
    reason, and the false-positive ratio analysts' close reasons give."""
    del who
    stats = await queries.rule_statistics(state.pool, days, rule_id)
    return RulesStatisticsPublic(days=days, data=[RuleStatisticsPublic(
        rule_id=s.rule_id, rule_title=s.rule_title, alerts=s.alerts, open=s.open, acknowledged=s.acknowledged,
        closed=s.closed, silenced=s.silenced, close_reasons=s.reasons,
        false_positive_ratio=s.false_positive_ratio) for s in stats])


async def _found(state: State, alert_id: int) -> queries.AlertRow:
    row = await queries.get_alert(state.pool, alert_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert")
    return row


@router.get("/{alert_id}", response_model=AlertDetail, responses={404: {"description": "no such alert"}})
async def alerts_get(alert_id: int, state: State, who: Viewer) -> AlertDetail:
    """One alert with its history, its events, its entity's timeline and its risk contributions."""
    del who
    row = await _found(state, _check_id(alert_id))
    return AlertDetail(
        **_public(row).model_dump(), history=[HistoryEntry(**vars_of(h)) for h in
                                              await queries.alert_history(state.pool, row.id)],
        events=await queries.alert_events(state.pool, row.event_ids),
        timeline=await queries.entity_timeline(state.pool, row),
        risk_contributions=await queries.risk_contributions(state.pool, row.id))


def vars_of(row: queries.HistoryRow) -> dict[str, Any]:
    return {"id": row.id, "at": row.at, "actor": row.actor, "action": row.action, "details": row.details}


def _check_id(alert_id: int) -> int:
    if not 1 <= alert_id < 2**63:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert")
    return alert_id


async def _apply(state: State, actor: str, alert_id: int, body: AlertUpdate) -> dict[str, Any]:
    """Apply one update (status, then assignee); returns what changed, for the audit trail."""
    if body.status is None and "assignee" not in body.model_fields_set:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "nothing to change: give status or assignee")
    if body.status is not None or body.close_reason is not None:
        try:
            check_request(body.status or "", body.close_reason)
        except AlertInputError as exc:
            raise _unprocessable(exc) from None
    changed: dict[str, Any] = {}
    if "assignee" in body.model_fields_set:
        user_id = None
        if body.assignee is not None:
            user = await find_user(state.pool, name=body.assignee)
            if user is None or user.disabled_at is not None or user.role == "viewer":
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                    "assignee: no active analyst or admin by that name")
            user_id = user.id
    try:
        if body.status is not None:
            change = await triage.set_status(state.pool, alert_id, actor, body.status, body.close_reason)
            changed["status"] = change.status
            if change.close_reason:
                changed["close_reason"] = change.close_reason
        if "assignee" in body.model_fields_set:
            await triage.set_assignee(state.pool, alert_id, actor, user_id, body.assignee)
            changed["assignee"] = body.assignee or ""
    except triage.AlertNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert") from None
    except AlertInputError as exc:
        raise _unprocessable(exc) from None
    return changed


@router.patch("/{alert_id}", response_model=AlertPublic,
              responses={404: {"description": "no such alert"},
                         409: {"description": "the alert's status does not allow this change"},
                         422: {"description": "a bad change (closing without a reason, an unknown assignee)"}})
async def alerts_update(alert_id: int, body: AlertUpdate, request: Request, state: State, who: Analyst) -> AlertPublic:
    """Acknowledge, close (with a reason), reopen, assign or unassign."""
    changed = await _apply(state, who.actor, _check_id(alert_id), body)
    await record(state, AuditEntry(who.actor, "alert.change", "success", client_address(request), str(alert_id),
                                   changed))
    return _public(await _found(state, alert_id))


@router.post("/bulk", response_model=BulkResult, responses={422: {"description": "a bad change"}})
async def alerts_bulk(body: BulkUpdate, request: Request, state: State, who: Analyst) -> BulkResult:
    """The same change on many alerts; each one that cannot take it is listed with the reason."""
    updated: list[int] = []
    failed: list[BulkFailure] = []
    change = AlertUpdate.model_validate(body.model_dump(include=body.model_fields_set - {"ids"}))
    for alert_id in dict.fromkeys(body.ids):
        try:
            await _apply(state, who.actor, _check_id(alert_id), change)
            updated.append(alert_id)
        except HTTPException as exc:
            if exc.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT and not failed and not updated:
                raise  # the change itself is bad: say so once
            failed.append(BulkFailure(id=alert_id, reason=str(exc.detail)))
    await record(state, AuditEntry(who.actor, "alert.bulk", "success", client_address(request),
                                   f"{len(updated)} alerts", {**change.model_dump(exclude_unset=True),
                                                              "ids": ",".join(map(str, updated))[:500]}))
    return BulkResult(updated=updated, failed=failed)


@router.post("/{alert_id}/comments", response_model=HistoryEntry, status_code=status.HTTP_201_CREATED,
             responses={404: {"description": "no such alert"}})
async def alerts_comment(alert_id: int, body: CommentCreate, request: Request, state: State,
                         who: Analyst) -> HistoryEntry:
    """Add a comment (kept in the alert's history)."""
    try:
        history_id = await triage.add_comment(state.pool, _check_id(alert_id), who.actor, body.text)
    except triage.AlertNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert") from None
    except AlertInputError as exc:
        raise _unprocessable(exc) from None
    await record(state, AuditEntry(who.actor, "alert.comment", "success", client_address(request), str(alert_id)))
    entry = next(h for h in await queries.alert_history(state.pool, alert_id) if h.id == history_id)
    return HistoryEntry(**vars_of(entry))


@router.post("/{alert_id}/silence", response_model=SilencePublic, status_code=status.HTTP_201_CREATED,
             responses={404: {"description": "no such alert"}, 422: {"description": "a field the entity lacks"}})
async def alerts_silence(alert_id: int, body: SilenceFromAlert, request: Request, state: State,
                         who: Analyst) -> SilencePublic:
    """Silence this alert now, and alerts of its rule (unless `match_rule` is false) on its entity
    (or the entity fields named) with events from the alert's first one to `duration_minutes` from now."""
    row = await _found(state, _check_id(alert_id))
    fields = body.fields if body.fields is not None else sorted(row.entity)
    missing = [f for f in fields if f not in row.entity]
    if missing:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"fields: the alert's entity has no {missing[0]!r}")
    raw = ([{"field": "rule_id", "value": row.rule_id}] if body.match_rule else []) + [
        {"field": f, "value": row.entity[f]} for f in fields]
    try:
        matchers = [m.to_dict() for m in parse_matchers(raw)]
    except AlertInputError as exc:
        raise _unprocessable(exc) from None
    now = datetime.now(UTC)
    # from the alert's first event: silences apply at event time, and late events of the same
    # burst (older than now) are silenced too
    async with state.pool.connection() as conn, conn.transaction():
        silence_id = await create_silence(conn, who.actor, body.reason, matchers, min(now, row.first_seen),
                                          now + timedelta(minutes=body.duration_minutes))
        await triage.mark_silenced(conn, alert_id, who.actor, silence_id)
    await record(state, AuditEntry(who.actor, "silence.create", "success", client_address(request),
                                   str(silence_id), {"alert": alert_id, "reason": body.reason[:200]}))
    created = await get_silence(state.pool, silence_id)
    assert created is not None
    return silence_public(created)
