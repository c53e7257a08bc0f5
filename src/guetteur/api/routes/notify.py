"""`/api/v1/notify` (admins): notification channels and routes, a test message per channel,
the outbox (pending, sent, dead letters) and a retry of a dead letter; the demo mailbox
(viewers). Secrets (`password`, `hmac_key`) are write-only: sealed in the database
(`notify/secrets.py`) and never returned. Every change is audited."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

import psycopg
from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from guetteur.api.audit_trail import record
from guetteur.api.deps import Admin, State, Viewer, client_address
from guetteur.notify.channels import ChannelCreate, MatchBody, RouteCreate, split_secrets
from guetteur.notify.demo_mail import mailbox_path, read_mailbox
from guetteur.notify.model import DeliveryFailed, Route
from guetteur.notify.secrets import seal
from guetteur.notify.service import Notifier
from guetteur.store.audit import AuditEntry
from guetteur.store.notify import (
    ChannelRow,
    OutboxRow,
    create_channel,
    delete_channel,
    delete_route,
    get_channel,
    list_channels,
    list_outbox,
    list_routes,
    match_json,
    retry_dead,
    save_route,
    update_channel,
)

router = APIRouter(prefix="/notify", tags=["notifications"])


class ChannelPublic(BaseModel):
    id: int
    name: str
    kind: Literal["email", "webhook"]
    enabled: bool
    config: dict[str, Any] = Field(description="the configuration without its secrets")
    has_secret: bool = Field(description="a password or HMAC key is stored (never shown)")
    created: datetime
    updated: datetime


class ChannelsPublic(BaseModel):
    data: list[ChannelPublic]
    count: int


class RoutePublic(BaseModel):
    id: int
    name: str
    channel: int
    match: MatchBody
    mode: Literal["immediate", "digest"]
    digest_minutes: int
    enabled: bool


class RoutesPublic(BaseModel):
    data: list[RoutePublic]
    count: int


class TestResult(BaseModel):
    delivered: bool
    answer: str


class OutboxPublic(BaseModel):
    id: int
    channel: str
    route: int | None
    kind: Literal["alert", "digest", "summary"]
    status: Literal["pending", "sent", "dead"]
    attempts: int
    next_attempt: datetime
    last_error: str | None
    created: datetime
    sent_at: datetime | None
    payload: dict[str, Any]


class OutboxListPublic(BaseModel):
    data: list[OutboxPublic]
    count: int


class MailPublic(BaseModel):
    id: str
    date: str | None
    sender: str | None
    to: str | None
    subject: str | None
    severity: str | None
    text: str


class MailboxPublic(BaseModel):
    data: list[MailPublic]
    count: int
    path: str


def _channel_public(row: ChannelRow) -> ChannelPublic:
    return ChannelPublic(id=row.id, name=row.name, kind="email" if row.kind == "email" else "webhook",
                         enabled=row.enabled, config=row.config, has_secret=row.has_secret, created=row.created,
                         updated=row.updated)


def _route_public(route: Route) -> RoutePublic:
    return RoutePublic(id=route.id, name=route.name, channel=route.channel_id,
                       match=MatchBody.model_validate(match_json(route.match)), mode=route.mode,
                       digest_minutes=route.digest_minutes, enabled=route.enabled)


def _outbox_public(row: OutboxRow) -> OutboxPublic:
    return OutboxPublic(id=row.id, channel=row.channel_name, route=row.route_id, kind=row.kind,
                        status=row.status, attempts=row.attempts, next_attempt=row.next_attempt,
                        last_error=row.last_error, created=row.created, sent_at=row.sent_at, payload=row.payload)


async def _audit(state: Any, request: Request, who: Any, action: str, target: str,
                 detail: dict[str, Any] | None = None) -> None:
    await record(state, AuditEntry(who.actor, action, "success", client_address(request), target, detail or {}))


@router.get("/channels", response_model=ChannelsPublic)
async def channels_list(state: State, who: Admin) -> ChannelsPublic:
    """Every channel, without its secrets."""
    del who
    data = [_channel_public(r) for r in await list_channels(state.pool)]
    return ChannelsPublic(data=data, count=len(data))


@router.post("/channels", response_model=ChannelPublic, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "name taken"}, 422: {"description": "malformed channel"}})
async def channels_create(body: ChannelCreate, request: Request, state: State, who: Admin) -> ChannelPublic:
    """Create an email or webhook channel. Secrets are sealed and never returned."""
    shown, secrets = split_secrets(body.config)
    sealed = await asyncio.to_thread(seal, state.settings.data_dir, secrets)
    row = await create_channel(state.pool, body.name, body.config.kind, shown, sealed, body.enabled)
    if row is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"a channel named {body.name!r} exists")
    await _audit(state, request, who, "notify.channel.create", body.name, {"kind": body.config.kind})
    return _channel_public(row)


@router.put("/channels/{channel_id}", response_model=ChannelPublic,
            responses={404: {"description": "no such channel"}, 409: {"description": "name taken"}})
async def channels_replace(channel_id: int, body: ChannelCreate, request: Request, state: State,
                           who: Admin) -> ChannelPublic:
    """Replace a channel. Secrets left out keep the stored ones (same kind only)."""
    current = await get_channel(state.pool, channel_id)
    if current is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such channel")
    shown, secrets = split_secrets(body.config)
    sealed = await asyncio.to_thread(seal, state.settings.data_dir, secrets)
    keep = not secrets and current.kind == body.config.kind
    try:
        row = await update_channel(state.pool, channel_id, body.name, body.config.kind, shown, sealed, keep,
                                   body.enabled)
    except psycopg.errors.UniqueViolation:
        raise HTTPException(status.HTTP_409_CONFLICT, f"a channel named {body.name!r} exists") from None
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such channel")
    await _audit(state, request, who, "notify.channel.change", body.name, {"kind": body.config.kind})
    return _channel_public(row)


@router.delete("/channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={404: {"description": "no such channel"}})
async def channels_delete(channel_id: int, request: Request, state: State, who: Admin) -> None:
    """Delete a channel, its routes and its undelivered messages."""
    current = await get_channel(state.pool, channel_id)
    if current is None or not await delete_channel(state.pool, channel_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such channel")
    await _audit(state, request, who, "notify.channel.delete", current.name)


@router.post("/channels/{channel_id}/test", response_model=TestResult,
             responses={404: {"description": "no such channel"}, 502: {"description": "delivery failed (reason)"}})
async def channels_test(channel_id: int, request: Request, state: State, who: Admin) -> TestResult:
    """Send a test message now (outside the outbox); 502 with the reason when it fails."""
    row = await get_channel(state.pool, channel_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such channel")
    try:
        answer = await Notifier(state.settings, state.pool).send_test(row)
    except DeliveryFailed as exc:
        await record(state, AuditEntry(who.actor, "notify.channel.test", "failure", client_address(request),
                                       row.name, {"error": str(exc)[:200]}))
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"delivery failed: {exc}") from None
    await _audit(state, request, who, "notify.channel.test", row.name)
    return TestResult(delivered=True, answer=answer)


@router.get("/routes", response_model=RoutesPublic)
async def routes_list(state: State, who: Admin) -> RoutesPublic:
    """Every route, in order."""
    del who
    data = [_route_public(r) for r in await list_routes(state.pool)]
    return RoutesPublic(data=data, count=len(data))


async def _save_route(state: Any, route_id: int | None, body: RouteCreate) -> Route | None:
    try:
        return await save_route(state.pool, route_id, body.name, body.channel, body.match.to_match(), body.mode,
                                body.digest_minutes, body.enabled)
    except psycopg.errors.UniqueViolation:
        raise HTTPException(status.HTTP_409_CONFLICT, f"a route named {body.name!r} exists") from None
    except psycopg.errors.ForeignKeyViolation:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no channel with id {body.channel}") from None


@router.post("/routes", response_model=RoutePublic, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "name taken"}, 422: {"description": "malformed route, unknown channel"}})
async def routes_create(body: RouteCreate, request: Request, state: State, who: Admin) -> RoutePublic:
    """Create a route: which alerts (severity, rule, tag, entity) go to which channel, immediately or in a
    digest every N minutes."""
    route = await _save_route(state, None, body)
    assert route is not None
    await _audit(state, request, who, "notify.route.create", body.name, {"channel": body.channel, "mode": body.mode})
    return _route_public(route)


@router.put("/routes/{route_id}", response_model=RoutePublic, responses={404: {"description": "no such route"}})
async def routes_replace(route_id: int, body: RouteCreate, request: Request, state: State, who: Admin) -> RoutePublic:
    """Replace a route."""
    route = await _save_route(state, route_id, body)
    if route is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such route")
    await _audit(state, request, who, "notify.route.change", body.name, {"channel": body.channel, "mode": body.mode})
    return _route_public(route)


@router.delete("/routes/{route_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={404: {"description": "no such route"}})
async def routes_delete(route_id: int, request: Request, state: State, who: Admin) -> None:
    """Delete a route."""
    if not await delete_route(state.pool, route_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such route")
    await _audit(state, request, who, "notify.route.delete", str(route_id))


@router.get("/outbox", response_model=OutboxListPublic)
async def outbox_list(state: State, who: Admin,
                      status_: Literal["pending", "sent", "dead"] | None = Query(None, alias="status"),
                      limit: int = Query(100, ge=1, le=1000),
                      before: int | None = Query(None, ge=1, description="ids below this (next page)")) -> OutboxListPublic:
    """Messages newest first: pending (with their next try and last error), sent, dead letters."""
    del who
    data = [_outbox_public(r) for r in await list_outbox(state.pool, status_, limit, before)]
    return OutboxListPublic(data=data, count=len(data))


@router.post("/outbox/{outbox_id}/retry", status_code=status.HTTP_204_NO_CONTENT,
             responses={404: {"description": "no such dead letter"}})
async def outbox_retry(outbox_id: int, request: Request, state: State, who: Admin) -> None:
    """Send a dead letter again (its tries start over)."""
    if not await retry_dead(state.pool, outbox_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no dead letter with this id")
    await _audit(state, request, who, "notify.outbox.retry", str(outbox_id))


@router.get("/demo-mailbox", response_model=MailboxPublic,
            responses={404: {"description": "the demo mailbox is not in use"}})
async def demo_mailbox(state: State, who: Viewer, limit: int = Query(50, ge=1, le=500)) -> MailboxPublic:
    """The messages of the demo's catch-all mail server (`guetteur up --demo --mail`), newest first."""
    del who
    path = mailbox_path(state.settings)
    if not path.is_dir():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no demo mailbox: start with `guetteur up --demo --mail`")
    mails = await asyncio.to_thread(read_mailbox, path, limit)
    data = [MailPublic(id=m["id"], date=m["date"], sender=m["from"], to=m["to"], subject=m["subject"],
                       severity=m["severity"], text=m["text"]) for m in mails]
    return MailboxPublic(data=data, count=len(data), path=str(path))
