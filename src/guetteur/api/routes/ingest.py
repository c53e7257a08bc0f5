"""`POST /api/v1/ingest`: logs over HTTP.

Bodies: NDJSON (`application/x-ndjson`), JSON (`application/json`: one object or an
array of objects) or raw lines (`text/plain`, anything else). `?source=NAME` names the
parser to use (a hint; auto-detection otherwise). A request is accepted whole or not at
all: 202 with the count once every record is committed to PostgreSQL (an acknowledgement
means durable), or 429 + Retry-After when the pipeline is full, so a client that retries
never sends a line twice.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from guetteur.api.deps import IngestKey, State
from guetteur.api.ingest_body import BodyLimits, read_records
from guetteur.api.unavailable import unavailable_response
from guetteur.model import RawRecord
from guetteur.parse import PARSERS
from guetteur.pipeline.receipts import Receipt

router = APIRouter(tags=["ingest"])

RETRY_AFTER_SECONDS = 1


class IngestAccepted(BaseModel):
    accepted: int


@router.post("/ingest", status_code=status.HTTP_202_ACCEPTED, response_model=IngestAccepted,
             responses={429: {"description": "pipeline full, retry after Retry-After seconds"},
                        413: {"description": "body larger than api.max_body_bytes, or more records than "
                                             "api.max_records_per_request"},
                        408: {"description": "body not received within api.body_timeout"},
                        503: {"description": "database unavailable, or the commit took longer than "
                                             "pipeline.commit_wait; retry after Retry-After seconds"},
                        401: {"description": "missing or unknown API key"},
                        403: {"description": "the key's scope is not ingest"}})
async def ingest(
    request: Request,
    state: State,
    key: IngestKey,
    source: str | None = Query(None, max_length=64, description="parser name (see `guetteur parse --help`)"),
) -> JSONResponse:
    if state.database is not None and not state.database.available:  # refused before reading: nothing accepted
        return unavailable_response(state.database.retry_after())
    if source is not None and source not in PARSERS:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"unknown source {source!r}; known: {sorted(PARSERS)}")
    if state.pipeline is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "ingestion is not running")
    limits = BodyLimits.for_ingest(state.settings, state.pipeline.buffer.capacity)
    lines = await read_records(request, limits)
    now = time.time()
    peer = f"{request.client.host}:{request.client.port}" if request.client else None
    limit = state.settings.pipeline.max_record_bytes
    # One metadata dict for the request's records (the pipeline only reads it): pickled
    # once per batch on its way to a worker instead of once per record.
    meta: dict[str, object] = {"api_key": key.name}
    records = [RawRecord(line, now, "http", source, peer, meta) if len(line) <= limit
               else RawRecord(line[:limit], now, "http", source, peer, {**meta, "truncated": True})
               for line in lines]
    if len(records) > state.pipeline.buffer.capacity:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            f"{len(records)} records in one request; send at most {state.pipeline.buffer.capacity}")
    receipt = Receipt(len(records))
    if records and not state.pipeline.offer_many(records, receipt):
        return JSONResponse({"detail": "pipeline full, retry later"}, status_code=status.HTTP_429_TOO_MANY_REQUESTS,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    # 202 means durable: every record of the request is committed (docs/security.md).
    if not await receipt.wait(state.settings.pipeline.commit_wait):
        return JSONResponse({"detail": "records accepted but not yet committed (database slow or away); "
                                       "they may still be stored: a retry can store them twice"},
                            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return JSONResponse({"accepted": len(records)}, status_code=status.HTTP_202_ACCEPTED)
