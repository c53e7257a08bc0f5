"""`GET /api/v1/audit` (admins): the audit trail, newest first, keyset-paginated by `seq`;
`/audit/verify`: the audit chain recomputed now, and the last verification of the event store's
chain (`guetteur verify`, or one started here in the background: it reads every stored event, so
it is never run per request)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import psycopg
from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from guetteur.api.audit_trail import record
from guetteur.api.deps import Admin, State, client_address
from guetteur.store.audit import AuditEntry, read_audit, verify_audit_chain
from guetteur.store.chain import verify
from guetteur.store.settings import last_verification, record_verification_sync

log = logging.getLogger(__name__)

router = APIRouter(tags=["audit"])


class AuditPublic(BaseModel):
    seq: int
    at: datetime
    actor: str = Field(description="user name, `key:<name>`, `cli`, or the name tried at a failed login")
    action: str
    outcome: str
    source_address: str
    target: str
    detail: dict[str, Any]
    chain_hash: str = Field(description="hex; `guetteur verify` recomputes the chain")


class AuditPage(BaseModel):
    data: list[AuditPublic]
    count: int
    next_before: int | None = Field(description="pass as `before` for the next (older) page")


@router.get("/audit", response_model=AuditPage)
async def audit_list(
    state: State,
    who: Admin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, description="rows with a smaller seq")] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
) -> AuditPage:
    """Audit rows, newest first, optionally of one actor or action."""
    del who
    rows = await read_audit(state.pool, limit=limit, before=before, actor=actor, action=action)
    data = [AuditPublic(seq=r.seq, at=r.at, actor=r.actor, action=r.action, outcome=r.outcome,
                        source_address=r.source_address, target=r.target, detail=orjson.loads(r.detail),
                        chain_hash=bytes(r.chain_hash).hex()) for r in rows]
    return AuditPage(data=data, count=len(data), next_before=rows[-1].seq if len(rows) == limit else None)


class AuditVerification(BaseModel):
    ok: bool
    rows_checked: int = Field(description="rows verified (before the first broken one)")
    first_broken_seq: int | None = Field(description="the first row that does not match, if any")
    reason: str | None
    head_hash: str | None = Field(description="hex chain hash of the last verified row: keep it elsewhere to "
                                              "detect a truncated tail")
    verified_at: datetime = Field(description="when this walk ran (a walk is reused for 5 minutes unless `fresh`)")


class StoreVerificationPublic(BaseModel):
    ok: bool
    batches_checked: int
    rows_checked: int
    first_broken_batch: int | None
    reason: str | None
    head_hash: str | None
    started_at: datetime
    finished_at: datetime
    started_by: str = Field(description="`cli` for `guetteur verify`, else the admin who started it here")


class VerifyPublic(BaseModel):
    audit: AuditVerification
    store: StoreVerificationPublic | None = Field(description="the last event-store verification (null: never run)")
    store_running: bool = Field(description="a verification started here is running")


def _sync_dsn(state: Any) -> str:
    dsn: str = state.pool.conninfo
    return dsn


def _running(request: Request) -> bool:
    task: asyncio.Task[None] | None = getattr(request.app.state, "store_verify", None)
    return task is not None and not task.done()


AUDIT_VERIFY_SECONDS = 300.0  # a walk's result is reused this long (about 17,000 rows/s: a big trail takes a while)


async def _audit_report(request: Request, state: Any, fresh: bool) -> AuditVerification:
    """The audit chain walked now, or the last walk when younger than `AUDIT_VERIFY_SECONDS`
    (`fresh` walks again); concurrent callers share one walk."""
    app_state = request.app.state
    lock: asyncio.Lock | None = getattr(app_state, "audit_verify_lock", None)
    if lock is None:
        lock = app_state.audit_verify_lock = asyncio.Lock()
    async with lock:
        cached: tuple[float, AuditVerification] | None = getattr(app_state, "audit_verify", None)
        if cached is not None and not fresh and time.monotonic() - cached[0] < AUDIT_VERIFY_SECONDS:
            return cached[1]
        report = await asyncio.to_thread(verify_audit_chain, _sync_dsn(state))
        audit = AuditVerification(ok=report.ok, rows_checked=report.rows_checked,
                                  first_broken_seq=report.first_broken_seq, reason=report.reason,
                                  head_hash=report.head_hash, verified_at=datetime.now(UTC))
        app_state.audit_verify = (time.monotonic(), audit)
        return audit


@router.get("/audit/verify", response_model=VerifyPublic)
async def audit_verify(
    request: Request,
    state: State,
    who: Admin,
    fresh: Annotated[bool, Query(description="walk the audit chain again even if the last walk is recent")] = False,
) -> VerifyPublic:
    """The audit trail's hash chain recomputed (every row, in a read-only snapshot; the result of
    a walk is reused for 5 minutes unless `fresh`, see `verified_at`), and the last result of the
    event store's chain verification."""
    del who
    audit = await _audit_report(request, state, fresh)
    async with state.pool.connection() as conn:
        last = await last_verification(conn)
    store = None if last is None else StoreVerificationPublic(
        ok=last.ok, batches_checked=last.batches_checked, rows_checked=last.rows_checked,
        first_broken_batch=last.first_broken_batch, reason=last.reason, head_hash=last.head_hash,
        started_at=last.started_at, finished_at=last.finished_at, started_by=last.started_by)
    return VerifyPublic(audit=audit, store=store, store_running=_running(request))


def verify_store(dsn: str, started_by: str) -> None:
    """`chain.verify` over the whole event store, its outcome recorded in `store_verifications`."""
    started = datetime.now(UTC)
    report = verify(dsn)
    with psycopg.connect(dsn) as conn:
        record_verification_sync(conn, report, started, started_by)


@router.post("/audit/verify/store", status_code=status.HTTP_202_ACCEPTED, response_model=VerifyPublic,
             responses={409: {"description": "a verification is already running"}})
async def store_verify_start(request: Request, state: State, who: Admin) -> VerifyPublic:
    """Start verifying the event store's hash chain in the background (every stored event is read
    and hashed again: minutes on millions of events); `GET /audit/verify` shows the outcome."""
    if _running(request):
        raise HTTPException(status.HTTP_409_CONFLICT, "a store verification is already running")
    dsn = _sync_dsn(state)

    async def run() -> None:
        try:
            await asyncio.to_thread(verify_store, dsn, who.actor)
        except Exception:
            log.exception("store verification failed")

    request.app.state.store_verify = asyncio.create_task(run(), name="store-verify")
    await record(state, AuditEntry(who.actor, "store.verify", "success", client_address(request)))
    return await audit_verify(request, state, who, fresh=False)
