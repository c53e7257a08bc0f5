"""`GET /api/v1/audit` (admins): the audit trail, newest first, keyset-paginated by `seq`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from guetteur.api.deps import Admin, State
from guetteur.store.audit import read_audit

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
