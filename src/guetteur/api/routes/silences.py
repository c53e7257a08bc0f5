"""`/api/v1/silences`: mute matching alerts for a while (docs/alerts.md "Silences").

A silence has matchers (all must match: `rule_id`, `tags`, or an entity field; CIDR for
addresses, `*`/`?` wildcards), a window (`starts_at`, `ends_at`, event time), a reason and its
author. Alerts it matches are still recorded and counted (`silenced`), never notified.
Viewers read; analysts and admins create, edit and expire (kept, with who expired it). Each
change is audited. A malformed silence is refused with 422 and the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import psycopg
from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from guetteur.alert.silences import check_window, parse_matchers
from guetteur.api.audit_trail import record
from guetteur.api.deps import Analyst, State, Viewer, client_address
from guetteur.errors import AlertInputError
from guetteur.store.audit import AuditEntry
from guetteur.store.silences import SilenceRow, create_silence, get_silence, list_silences, update_silence

router = APIRouter(prefix="/silences", tags=["alerts"])

MAX_PAGE = 500
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL


class MatcherModel(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"field": "source.ip", "value": "203.0.113.0/24"}, {"field": "host.name", "value": "web-*"}]})

    field: str = Field(min_length=1, max_length=128, pattern=NO_NUL,
                       description="rule_id, tags, or an entity field")
    value: str = Field(min_length=1, max_length=512, pattern=NO_NUL, description="exact, `*`/`?` wildcards, or a CIDR")


class SilencePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 3, "created": "2026-12-05T10:00:00Z", "updated": "2026-12-05T10:00:00Z", "author": "anna",
        "reason": "authorised penetration test", "matchers": [{"field": "source.ip", "value": "203.0.113.0/24"}],
        "starts_at": "2026-12-05T10:00:00Z", "ends_at": "2026-12-06T10:00:00Z", "expired_by": None,
        "active": True, "alerts": 2}]})

    id: int
    created: datetime
    updated: datetime
    author: str
    reason: str
    matchers: list[MatcherModel]
    starts_at: datetime
    ends_at: datetime
    expired_by: str | None = Field(description="who expired it early, if anyone")
    active: bool = Field(description="active now (wall-clock); alerts are matched at their event time")
    alerts: int = Field(description="alerts it silenced")


class SilencesPublic(BaseModel):
    data: list[SilencePublic]
    count: int


class SilenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "matchers": [{"field": "rule_id", "value": "012bad0a-65d1-4c47-b750-3df1d296229b"},
                     {"field": "source.ip", "value": "10.0.0.0/8"}],
        "reason": "internal vulnerability scanner", "ends_at": "2026-12-06T10:00:00Z"}]})

    matchers: list[MatcherModel] = Field(min_length=1, max_length=16)
    reason: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)
    starts_at: datetime | None = Field(None, description="default: now")
    ends_at: datetime


class SilenceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"ends_at": "2026-12-07T10:00:00Z"}]})

    matchers: list[MatcherModel] | None = Field(None, min_length=1, max_length=16)
    reason: str | None = Field(None, min_length=1, max_length=1000, pattern=NO_NUL)
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def silence_public(row: SilenceRow) -> SilencePublic:
    now = datetime.now(UTC)
    return SilencePublic(id=row.id, created=row.created, updated=row.updated, author=row.author, reason=row.reason,
                         matchers=[MatcherModel(**m) for m in row.matchers], starts_at=row.starts_at,
                         ends_at=row.ends_at, expired_by=row.expired_by,
                         active=row.starts_at <= now < row.ends_at, alerts=row.alerts)


def _unprocessable(exc: AlertInputError | str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


def _matchers(models: list[MatcherModel]) -> list[dict[str, str]]:
    try:
        return [m.to_dict() for m in parse_matchers([m.model_dump() for m in models])]
    except AlertInputError as exc:
        raise _unprocessable(exc) from None


async def _found(state: State, silence_id: int) -> SilenceRow:
    row = await get_silence(state.pool, silence_id) if 1 <= silence_id < 2**63 else None
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such silence")
    return row


@router.get("", response_model=SilencesPublic)
async def silences_list(state: State, who: Viewer, active: bool = False,
                        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
                        before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None) -> SilencesPublic:
    """Silences, newest first (only those active now with `active=true`); page with `before`."""
    del who
    rows = await list_silences(state.pool, active_at=datetime.now(UTC) if active else None, limit=limit, before=before)
    return SilencesPublic(data=[silence_public(r) for r in rows], count=len(rows))


@router.post("", response_model=SilencePublic, status_code=status.HTTP_201_CREATED,
             responses={422: {"description": "a malformed matcher or window, with the reason"}})
async def silences_create(body: SilenceCreate, request: Request, state: State, who: Analyst) -> SilencePublic:
    """Create a silence."""
    matchers = _matchers(body.matchers)
    starts_at = body.starts_at or datetime.now(UTC)
    try:
        check_window(starts_at, body.ends_at)
    except AlertInputError as exc:
        raise _unprocessable(exc) from None
    async with state.pool.connection() as conn, conn.transaction():
        silence_id = await create_silence(conn, who.actor, body.reason, matchers, starts_at, body.ends_at)
    await record(state, AuditEntry(who.actor, "silence.create", "success", client_address(request), str(silence_id),
                                   {"reason": body.reason[:200], "ends_at": body.ends_at.isoformat()}))
    return silence_public(await _found(state, silence_id))


@router.get("/{silence_id}", response_model=SilencePublic, responses={404: {"description": "no such silence"}})
async def silences_get(silence_id: int, state: State, who: Viewer) -> SilencePublic:
    del who
    return silence_public(await _found(state, silence_id))


@router.patch("/{silence_id}", response_model=SilencePublic,
              responses={404: {"description": "no such silence"}, 422: {"description": "a malformed change"}})
async def silences_update(silence_id: int, body: SilenceUpdate, request: Request, state: State,
                          who: Analyst) -> SilencePublic:
    """Change a silence's matchers, reason or window."""
    current = await _found(state, silence_id)
    matchers = _matchers(body.matchers) if body.matchers is not None else None
    try:
        check_window(body.starts_at or current.starts_at, body.ends_at or current.ends_at)
    except AlertInputError as exc:
        raise _unprocessable(exc) from None
    try:
        await update_silence(state.pool, silence_id, reason=body.reason, matchers=matchers,
                             starts_at=body.starts_at, ends_at=body.ends_at)
    except psycopg.errors.CheckViolation:  # changed meanwhile into a window that ends before it starts
        raise _unprocessable("ends_at must be after starts_at") from None
    await record(state, AuditEntry(who.actor, "silence.change", "success", client_address(request), str(silence_id),
                                   {k: str(v)[:200] for k, v in body.model_dump(exclude_none=True).items()}))
    return silence_public(await _found(state, silence_id))


@router.delete("/{silence_id}", response_model=SilencePublic, responses={404: {"description": "no such silence"}})
async def silences_expire(silence_id: int, request: Request, state: State, who: Analyst) -> SilencePublic:
    """Expire a silence now (it is kept, with who expired it); an expired one is left as it is."""
    current = await _found(state, silence_id)
    now = datetime.now(UTC)
    if current.ends_at > now:
        start = min(current.starts_at, now)
        # ends_at > starts_at: a silence not started yet ends just after its start
        await update_silence(state.pool, silence_id, reason=None, matchers=None, starts_at=start,
                             ends_at=max(now, start + timedelta(microseconds=1)), expired_by=who.actor)
        await record(state, AuditEntry(who.actor, "silence.expire", "success", client_address(request),
                                       str(silence_id)))
    return silence_public(await _found(state, silence_id))

