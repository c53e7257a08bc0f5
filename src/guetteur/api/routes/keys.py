"""`/api/v1/keys` (admins): machine keys (`ingest`, `read`): list, create (token shown once), revoke.
The same store as `guetteur keys`; every change is audited."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from guetteur.api.audit_trail import record
from guetteur.api.deps import Admin, State, client_address
from guetteur.api.state import AppState
from guetteur.store.audit import AuditEntry
from guetteur.store.keys import ApiKeyError, create_key, list_keys, revoke_key

router = APIRouter(prefix="/keys", tags=["keys"])


class KeyPublic(BaseModel):
    name: str
    scope: Literal["ingest", "read"]
    created_at: datetime
    last_used_at: datetime | None


class KeysPublic(BaseModel):
    data: list[KeyPublic]
    count: int


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scope: Literal["ingest", "read"]


class KeyCreated(BaseModel):
    name: str
    scope: str
    token: str = Field(description="shown once: store it now")


def _dsn(state: AppState) -> str:
    """The application role's DSN (the key functions are synchronous: run in a thread)."""
    return str(state.pool.conninfo)


@router.get("", response_model=KeysPublic)
async def keys_list(state: State, who: Admin) -> KeysPublic:
    """Active keys (never their tokens)."""
    del who
    keys = await asyncio.to_thread(list_keys, _dsn(state))
    data = [KeyPublic(name=k.name, scope=k.scope, created_at=k.created_at,
                      last_used_at=k.last_used_at) for k in keys]
    return KeysPublic(data=data, count=len(data))


@router.post("", response_model=KeyCreated, status_code=status.HTTP_201_CREATED,
             responses={400: {"description": "name taken or invalid"}})
async def keys_create(body: KeyCreate, request: Request, state: State, who: Admin) -> KeyCreated:
    """Create a key and return its token once."""
    try:
        token = await asyncio.to_thread(create_key, _dsn(state), body.name, body.scope)
    except ApiKeyError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    await record(state, AuditEntry(who.actor, "key.create", "success", client_address(request), body.name,
                                   {"scope": body.scope}))
    return KeyCreated(name=body.name, scope=body.scope, token=token)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, responses={404: {"description": "no such key"}})
async def keys_revoke(name: str, request: Request, state: State, who: Admin) -> None:
    """Revoke the active key of this name (its cached look-ups expire within 30 s)."""
    if not await asyncio.to_thread(revoke_key, _dsn(state), name):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such key")
    await record(state, AuditEntry(who.actor, "key.revoke", "success", client_address(request), name))
