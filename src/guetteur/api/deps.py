"""Shared route dependencies: the app state and API-key authentication.

Keys are bearer tokens (`Authorization: Bearer gt_...`, or `X-API-Key`) with a scope:
`ingest` for machines that send logs, `read` for clients of the read API. Users, JWT and
roles come later and will sit beside this, not replace it for machines. A missing or unknown
key is a 401; a valid key of the wrong scope a 403 that names both scopes. Successful
look-ups are cached briefly so a busy sender costs no database round trip per request;
a revoked key stops working within `KEY_CACHE_SECONDS`.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from guetteur.api.state import AppState
from guetteur.store.keys import KeyInfo, find_key

KEY_CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, KeyInfo]] = {}


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.guetteur
    return state


State = Annotated[AppState, Depends(get_state)]


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


def _unauthorized() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or invalid API key",
                         headers={"WWW-Authenticate": "Bearer"})


async def _require(request: Request, scope: str) -> KeyInfo:
    """The key of this request when it has `scope`. 401 when the token is missing or names
    no active key; 403 when the key is valid but has another scope (the caller is known, the
    route is not theirs: sending the same token again cannot help)."""
    token = _token(request)
    if not token or len(token) > 256:
        raise _unauthorized()
    now = time.monotonic()
    cached = _cache.get(token)
    if cached is not None and cached[0] > now:
        info = cached[1]
    else:
        found = await find_key(get_state(request).pool, token)
        if found is None:
            raise _unauthorized()
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[token] = (now + KEY_CACHE_SECONDS, found)
        info = found
    if info.scope != scope:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"this key has scope {info.scope}; this route needs {scope}")
    return info


async def ingest_key(request: Request) -> KeyInfo:
    return await _require(request, "ingest")


async def read_key(request: Request) -> KeyInfo:
    return await _require(request, "read")


IngestKey = Annotated[KeyInfo, Depends(ingest_key)]
ReadKey = Annotated[KeyInfo, Depends(read_key)]
