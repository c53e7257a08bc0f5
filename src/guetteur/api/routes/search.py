"""Search endpoints: KQL over stored events (see docs/search.md).

`q` is a KQL query; `start`/`end` an ISO 8601 time or date math on now (`now-24h`); the
window defaults to the last 15 minutes. A query that is not KQL is a 400 whose `detail` holds
the message and the character `position`. Searches run with a `statement_timeout`
(`search.statement_timeout`) and at most `search.max_concurrent` at once (then 429).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request, WebSocket, WebSocketDisconnect, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from guetteur.api.audit_trail import record
from guetteur.api.deps import Analyst, Principal, State, Viewer, client_address, viewer
from guetteur.api.state import AppState
from guetteur.api.stream import DROPPED, StreamHub
from guetteur.errors import QueryError
from guetteur.search import plan as query_plan
from guetteur.search.compile import Compiled, compile_query
from guetteur.search.evaluate import elements
from guetteur.search.fields import BASE_FIELDS, kind_of, resolve, spec
from guetteur.search.kql import KqlError, Text
from guetteur.search.kql import parse as parse_query
from guetteur.search.service import KnownFields, compile_search, window
from guetteur.store import search as store
from guetteur.store.audit import AuditEntry

router = APIRouter(tags=["search"])

QueryText = Annotated[str, Query(max_length=8192, description="KQL query; empty matches everything")]
Start = Annotated[str | None, Query(max_length=64, description="window start: ISO 8601 or now-15m (default: end - 15 min)")]
End = Annotated[str | None, Query(max_length=64, description="window end: ISO 8601 or now (default: now)")]
CSV_COLUMNS = ("@timestamp", "host.name", "user.name", "source.ip", "destination.ip", "event.action",
               "event.outcome", "event.dataset", "message")


class SearchProblem(BaseModel):
    message: str
    position: int | None = Field(None, description="0-based character of the query where it goes wrong")


class SearchError(BaseModel):
    detail: SearchProblem


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": SearchError, "description": "the query is not KQL, or cannot run (message and position)"},
    429: {"description": "too many searches at once; retry shortly"},
}


class SearchPage(BaseModel):
    data: list[dict[str, Any]] = Field(description="stored ECS documents")
    count: int = Field(description="events on this page")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")
    start: datetime
    end: datetime


class CountResult(BaseModel):
    count: int
    start: datetime
    end: datetime


class Bucket(BaseModel):
    start: datetime
    count: int


class Histogram(BaseModel):
    interval_seconds: float = Field(description="bucket width, chosen from the window")
    buckets: list[Bucket]
    start: datetime
    end: datetime


class TopValue(BaseModel):
    value: Any
    count: int = Field(description="sampled events holding this value")


class TopValues(BaseModel):
    field: str
    sampled: bool = Field(True, description="always true: counted over the most recent matching events only")
    sample_size: int = Field(description="matching events read (at most search.sample_size)")
    values: list[TopValue]


class FieldInfo(BaseModel):
    name: str
    type: str = Field(description="JSON type seen: string, number, boolean, object")
    kind: str = Field(description="how KQL compares it: keyword, text, ip or date")
    count: int = Field(description="sampled events holding it")


class FieldList(BaseModel):
    sampled: bool = True
    sample_size: int
    fields: list[FieldInfo]


class Surrounding(BaseModel):
    before: list[dict[str, Any]]
    event: dict[str, Any]
    after: list[dict[str, Any]]


_NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL


class SavedSearchIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=_NO_NUL)
    query: str = Field(max_length=8192, pattern=_NO_NUL)
    time_range: str | None = Field(None, max_length=64, pattern=_NO_NUL, description="e.g. now-24h")


class SavedSearchOut(BaseModel):
    id: int
    name: str
    query: str
    time_range: str | None
    created_at: datetime
    updated_at: datetime


class SearchRuntime:
    """Per-application search state: the concurrency gate and the known-field cache."""

    def __init__(self, state: AppState) -> None:
        conf = state.settings.search
        self.slots = asyncio.Semaphore(conf.max_concurrent)
        self.known = KnownFields(sample=conf.sample_size)
        self.limits = store.SearchLimits(int(conf.statement_timeout * 1000))


def _runtime(request: Request | WebSocket, state: AppState) -> SearchRuntime:
    runtime: SearchRuntime | None = getattr(request.app.state, "search_runtime", None)
    if runtime is None:
        runtime = SearchRuntime(state)
        request.app.state.search_runtime = runtime
    return runtime


@contextmanager
def _problems() -> Iterator[None]:
    try:
        yield
    except KqlError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, {"message": exc.reason, "position": exc.position}) from None
    except QueryError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, {"message": str(exc), "position": None}) from None


class _Slot:
    """One of the concurrent-search slots, or 429 at once when none is free."""

    def __init__(self, runtime: SearchRuntime) -> None:
        self._slots = runtime.slots

    async def __aenter__(self) -> None:
        if self._slots.locked():
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many searches at once; retry shortly",
                                headers={"Retry-After": "1"})
        await self._slots.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()


async def _prepare(request: Request, state: AppState, q: str, start: str | None,
                   end: str | None) -> tuple[SearchRuntime, Compiled, store.TimeRange]:
    runtime = _runtime(request, state)
    with _problems():
        span = window(start, end)
        compiled = await compile_search(state.pool, q, runtime.known, runtime.limits)
    return runtime, compiled, span


@router.get("/search", response_model=SearchPage, responses=ERRORS)
async def search_events(
    request: Request, state: State, who: Viewer, q: QueryText = "", start: Start = None, end: End = None,
    sort: Annotated[Literal["desc", "asc"], Query(description="by @timestamp")] = "desc",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SearchPage:
    """Matching events of the window, newest (or oldest) first, a page at a time."""
    runtime, compiled, span = await _prepare(request, state, q, start, end)
    if limit > state.settings.search.page_size_max:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"limit above {state.settings.search.page_size_max}")
    async with _Slot(runtime):
        with _problems():
            events, next_cursor = await store.search(state.pool, compiled, span, limit=limit, after=cursor,
                                                     newest_first=sort == "desc", limits=runtime.limits)
    if cursor is None:
        await record(state, AuditEntry(who.actor, "search", "success", client_address(request),
                                       detail={"query": q[:500]}))
    return SearchPage(data=events, count=len(events), next_cursor=next_cursor, start=span.start, end=span.end)


@router.get("/search/count", response_model=CountResult, responses=ERRORS)
async def count_events(request: Request, state: State, who: Viewer, q: QueryText = "", start: Start = None,
                       end: End = None) -> CountResult:
    """How many events of the window match."""
    del who
    runtime, compiled, span = await _prepare(request, state, q, start, end)
    async with _Slot(runtime):
        with _problems():
            total = await store.count(state.pool, compiled, span, limits=runtime.limits)
    return CountResult(count=total, start=span.start, end=span.end)


@router.get("/search/histogram", response_model=Histogram, responses=ERRORS)
async def histogram(request: Request, state: State, who: Viewer, q: QueryText = "", start: Start = None,
                    end: End = None, buckets: Annotated[int, Query(ge=1, le=500)] = 60) -> Histogram:
    """Matching events per time bucket; the width is the smallest round one (1 s, 5 s, ... 1 d)
    giving at most `buckets` buckets."""
    del who
    runtime, compiled, span = await _prepare(request, state, q, start, end)
    async with _Slot(runtime):
        with _problems():
            width, counts = await store.histogram(state.pool, compiled, span, buckets=buckets, limits=runtime.limits)
    return Histogram(interval_seconds=width.total_seconds(), buckets=[Bucket(start=b, count=n) for b, n in counts],
                     start=span.start, end=span.end)


@router.get("/search/top", response_model=TopValues, responses=ERRORS)
async def top_values(request: Request, state: State, who: Viewer,
                     field: Annotated[str, Query(min_length=1, max_length=256)], q: QueryText = "",
                     start: Start = None, end: End = None, size: Annotated[int, Query(ge=1, le=100)] = 10) -> TopValues:
    """The most frequent values of `field` among the most recent matching events (a sample of
    `search.sample_size`, like Kibana's field sidebar)."""
    del who
    runtime, compiled, span = await _prepare(request, state, q, start, end)
    with _problems():
        targets = resolve(Text((field,), quoted=True, position=0), ())
    async with _Slot(runtime):
        with _problems():
            sampled, values = await store.top_values(state.pool, compiled, span, targets[0], size=size,
                                                     sample=state.settings.search.sample_size, limits=runtime.limits)
    return TopValues(field=field, sample_size=sampled, values=[TopValue(value=v, count=n) for v, n in values])


@router.get("/search/fields", response_model=FieldList, responses=ERRORS)
async def field_list(request: Request, state: State, who: Viewer, start: Start = None, end: End = None) -> FieldList:
    """Fields of the most recent events of the window, with how often each occurs (autocomplete)."""
    del who
    runtime = _runtime(request, state)
    with _problems():
        span = window(start, end)
    async with _Slot(runtime):
        sampled, stats = await store.field_stats(state.pool, span, sample=state.settings.search.sample_size,
                                                 limits=runtime.limits)
    return FieldList(sample_size=sampled, fields=[FieldInfo(name=n, type=t, kind=kind_of(n), count=c)
                                                  for n, t, c in stats])


def _cell(event: dict[str, Any], name: str) -> str:
    values = elements(event, spec(name))
    return " ".join(v if isinstance(v, str) else orjson.dumps(v).decode() for v in values)


@router.get("/search/export", responses={**ERRORS, 200: {"content": {"text/csv": {}, "application/x-ndjson": {}},
                                                            "description": "the matching events, streamed"}})
async def export(request: Request, state: State, who: Analyst, q: QueryText = "", start: Start = None,
                 end: End = None, format: Annotated[Literal["csv", "ndjson"], Query()] = "ndjson",
                 max_rows: Annotated[int | None, Query(ge=1)] = None) -> StreamingResponse:
    """Every matching event of the window (newest first), streamed, at most `search.export_max_rows`
    (or `max_rows` if lower). NDJSON gives the stored ECS documents; CSV a fixed set of columns."""
    runtime, compiled, span = await _prepare(request, state, q, start, end)
    cap = min(max_rows or state.settings.search.export_max_rows, state.settings.search.export_max_rows)
    await record(state, AuditEntry(who.actor, "export", "success", client_address(request),
                                   detail={"query": q[:500], "format": format}))

    async def body() -> AsyncIterator[bytes]:
        async with _Slot(runtime):
            if format == "csv":
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                writer.writerow(CSV_COLUMNS)
                yield buffer.getvalue().encode()
            async for event in store.export_rows(state.pool, compiled, span, max_rows=cap, limits=runtime.limits):
                if format == "ndjson":
                    yield orjson.dumps(event) + b"\n"
                else:
                    buffer = io.StringIO()
                    csv.writer(buffer).writerow([_cell(event, c) for c in CSV_COLUMNS])
                    yield buffer.getvalue().encode()

    media = "text/csv" if format == "csv" else "application/x-ndjson"
    filename = f"guetteur-export-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.{format}"
    return StreamingResponse(body(), media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/events/{event_id}/surrounding", response_model=Surrounding,
            responses={404: {"description": "no event with this id"}})
async def surrounding(state: State, who: Viewer, event_id: Annotated[str, Path(max_length=64)],
                      size: Annotated[int, Query(ge=1, le=100)] = 5) -> Surrounding:
    """The event and up to `size` events of the same host just before and after it (by @timestamp)."""
    del who
    found = await store.surrounding(state.pool, event_id, size)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no event with this id")
    before, event, after = found
    return Surrounding(before=before, event=event, after=after)


@router.get("/saved-searches", response_model=list[SavedSearchOut])
async def list_saved(state: State, who: Viewer) -> list[SavedSearchOut]:
    """The caller's saved searches."""
    return [SavedSearchOut(**vars_of(s)) for s in await store.saved_searches(state.pool, who.actor)]


@router.put("/saved-searches", response_model=SavedSearchOut, responses=ERRORS)
async def save(state: State, who: Viewer, body: SavedSearchIn) -> SavedSearchOut:
    """Saves (or replaces) the caller's search of that name; the query must be KQL."""
    with _problems():
        compile_check(body.query)
    saved = await store.save_search(state.pool, who.actor, body.name, body.query, body.time_range)
    return SavedSearchOut(**vars_of(saved))


@router.delete("/saved-searches/{search_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={404: {"description": "no such saved search of yours"}})
async def delete_saved(state: State, who: Viewer, search_id: Annotated[int, Path(ge=1, le=2**62)]) -> None:
    if not await store.delete_saved_search(state.pool, who.actor, search_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such saved search of yours")


def vars_of(saved: store.SavedSearch) -> dict[str, Any]:
    return {f: getattr(saved, f) for f in ("id", "name", "query", "time_range", "created_at", "updated_at")}


def compile_check(query: str) -> None:
    compile_query(query, known=BASE_FIELDS, now=datetime.now(UTC))


STREAM_AUTH_SECONDS = 10.0
STREAM_SEND_SECONDS = 10.0


def _hub(app_state: Any, state: AppState) -> StreamHub:
    hub: StreamHub | None = getattr(app_state, "search_stream", None)
    if hub is None:
        hub = StreamHub(state)
        app_state.search_stream = hub
    return hub


async def _stream_caller(websocket: WebSocket, token: str) -> Principal:
    """The caller of a WebSocket, checked exactly as a viewer route checks a request."""
    scope = dict(websocket.scope)
    scope["type"] = "http"
    scope["headers"] = [*(h for h in websocket.scope["headers"] if h[0] != b"authorization"),
                        (b"authorization", b"Bearer " + token.encode("utf-8", "replace"))]
    return await viewer(Request(scope), None, None)


@router.websocket("/stream")
async def stream(websocket: WebSocket, token: str | None = None, q: str = "", events: bool = True) -> None:
    """Live tail (viewer): new events matching the KQL query `q`, new detections, and the
    counters, once a second. Authenticate with `?token=` (an access token or read key) or with a
    first message `{"token": ..., "query": ..., "events": ...}`. `events` false: no events, only
    detections, alerts and counters (a dashboard; the server then reads no events for it).
    Messages are JSON objects whose `type` is `ready`, `event`, `detection`, `alert`, `counters`
    or `error`. A client that does not keep up (its queue of `search.stream_queue` messages is
    full) is closed with code 4008."""
    state: AppState = websocket.app.state.guetteur
    await websocket.accept()
    try:
        if token is None:
            first = await asyncio.wait_for(websocket.receive_json(), STREAM_AUTH_SECONDS)
            token = str(first.get("token", "")) if isinstance(first, dict) else ""
            q = str(first.get("query", q)) if isinstance(first, dict) else q
            events = first.get("events", events) is not False if isinstance(first, dict) else events
        try:
            who = await _stream_caller(websocket, token[:4096])
        except HTTPException as exc:
            await websocket.send_json({"type": "error", "status": exc.status_code, "message": exc.detail})
            await websocket.close(4000 + exc.status_code)
            return
        runtime = _runtime(websocket, state)
        try:
            names = await runtime.known.get(state.pool, runtime.limits) if "*" in q else BASE_FIELDS
            filter_plan = query_plan.build(parse_query(q), query_plan.Context(tuple(names), datetime.now(UTC)))
        except KqlError as exc:
            await websocket.send_json({"type": "error", "status": 400, "message": exc.reason, "position": exc.position})
            await websocket.close(4400)
            return
        hub = _hub(websocket.app.state, state)
        listener = hub.subscribe(filter_plan, state.settings.search.stream_queue, events=events)
        await websocket.send_json({"type": "ready", "query": q, "user": who.actor})
        try:
            await _pump(websocket, listener)
        finally:
            hub.unsubscribe(listener)
    except (WebSocketDisconnect, TimeoutError, ValueError):
        return


async def _pump(websocket: WebSocket, listener: Any) -> None:
    """Send the listener's messages until the client leaves or falls behind."""
    closed = asyncio.create_task(_until_closed(websocket))
    dropped = asyncio.create_task(listener.dropped.wait())
    try:
        while True:
            message = asyncio.create_task(listener.queue.get())
            done, _ = await asyncio.wait({message, closed, dropped}, return_when=asyncio.FIRST_COMPLETED)
            if message not in done:
                message.cancel()
            if dropped in done:
                await websocket.close(DROPPED, "too slow: dropped from the stream")
                return
            if closed in done:
                return
            try:
                await asyncio.wait_for(websocket.send_text(message.result().decode()), STREAM_SEND_SECONDS)
            except TimeoutError:  # the client stopped reading: its socket is full
                return
    finally:
        closed.cancel()
        dropped.cancel()


async def _until_closed(websocket: WebSocket) -> None:
    while True:
        received = await websocket.receive()
        if received["type"] == "websocket.disconnect":
            return

