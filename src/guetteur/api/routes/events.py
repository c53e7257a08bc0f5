"""`GET /api/v1/events`: stored events, newest first, filtered, keyset-paginated."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from guetteur.api.deps import State, Viewer
from guetteur.store.events import query_events

router = APIRouter(tags=["events"])


class EventsPage(BaseModel):
    data: list[dict[str, Any]]
    count: int
    next_cursor: str | None


@router.get("/events", response_model=EventsPage)
async def list_events(
    state: State,
    key: Viewer,
    start: Annotated[datetime | None, Query(description="events at or after this time (ISO 8601)")] = None,
    end: Annotated[datetime | None, Query(description="events before this time (ISO 8601)")] = None,
    host: Annotated[str | None, Query(max_length=255)] = None,
    user: Annotated[str | None, Query(max_length=255)] = None,
    source_ip: Annotated[str | None, Query(max_length=64)] = None,
    destination_ip: Annotated[str | None, Query(max_length=64)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=128)] = None,
    outcome: Annotated[str | None, Query(max_length=16)] = None,
    severity: Annotated[int | None, Query(ge=0, le=1000)] = None,
    source_type: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> EventsPage:
    del key
    if limit > state.settings.api.page_size_max:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"limit above {state.settings.api.page_size_max}")
    if start is not None and end is not None and start >= end:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "start must be before end")
    candidates = {
        "host": host, "user": user, "source_ip": source_ip, "destination_ip": destination_ip,
        "category": category, "action": action, "outcome": outcome,
        "severity": None if severity is None else str(severity), "source_type": source_type,
    }
    filters = {k: v for k, v in candidates.items() if v is not None}
    try:
        events, next_cursor = await query_events(
            state.pool, start=start, end=end, filters=filters, limit=limit, after=cursor
        )
    except ValueError as exc:  # a malformed cursor or filter value
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return EventsPage(data=events, count=len(events), next_cursor=next_cursor)
