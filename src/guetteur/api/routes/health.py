"""`GET /api/v1/health`: liveness plus per-source counters and queue depths."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from guetteur import __version__
from guetteur.api.deps import State

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(state: State) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "ok", "version": __version__}
    if state.pipeline is not None:
        body.update(state.pipeline.health())
    # transport facts the pipeline cannot see: bytes, connections open/refused, errors
    body["transports"] = {str(c["source"]): c for c in (s.counters.as_dict() for s in state.sources)}
    return body
