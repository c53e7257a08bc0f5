"""`/api/v1/dashboard`: what the console's dashboard and ATT&CK coverage page draw, counted by
the database (docs/console.md). Viewers (and read keys) read all of it.

- `alert-counts`: alerts not closed, per status and severity (not a count of list pages);
- `alert-activity`: alerts per time bucket and severity; `tactic-activity`: per bucket and
  ATT&CK tactic (the heatmap). An alert counts in every bucket its activity overlaps, exactly
  as the alert list filters with a bucket's `since` and `until`: a click lists what was counted;
- `coverage`: per tactic, every technique with the enabled rules covering it and the alerts
  and hits of the last `days` days.

Silent sources are in `/api/v1/health/details` (`statistics.silent`); riskiest entities in
`/api/v1/risk/entities`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from guetteur.alert.model import Severity, Status
from guetteur.api.deps import State, Viewer
from guetteur.detect import attack
from guetteur.detect.coverage import TechniqueCell, coverage, hits_per_technique
from guetteur.errors import QueryError
from guetteur.search.service import window
from guetteur.store import dashboard as store
from guetteur.store.search import bucket_width

router = APIRouter(prefix="/dashboard", tags=["dashboard"])

SEVERITIES: tuple[Severity, ...] = ("critical", "medium", "low")
Start = Annotated[str, Query(max_length=64, description="window start: ISO 8601 or date math (now-24h)")]
End = Annotated[str, Query(max_length=64, description="window end: ISO 8601 or now")]
StatusFilter = Annotated[list[Status] | None, Query(alias="status", description="only these statuses (default: all)")]


class SeverityCounts(BaseModel):
    critical: int = 0
    medium: int = 0
    low: int = 0


class AlertCounts(BaseModel):
    open: SeverityCounts = Field(description="open alerts per severity, silenced ones included")
    acknowledged: SeverityCounts


class ActivityBucket(BaseModel):
    since: datetime = Field(description="the bucket's start within the window (the alert list's `since`)")
    until: datetime = Field(description="its end within the window (the alert list's `until`)")


class SeverityBucket(ActivityBucket):
    counts: SeverityCounts = Field(description="alerts active in the bucket, per severity")


class AlertActivity(BaseModel):
    start: datetime
    end: datetime
    interval_seconds: float = Field(description="bucket width, the smallest round one giving at most `buckets`")
    buckets: list[SeverityBucket]


class TacticRow(BaseModel):
    id: str | None = Field(description="TA0006; None for a tactic the bundled catalogue does not know")
    shortname: str = Field(description="credential-access: the alert list's `tactic` filter")
    name: str
    counts: list[int] = Field(description="alerts active in each bucket (same order as `buckets`)")
    total: int = Field(description="alerts active in the window (each once)")


class TacticActivity(BaseModel):
    start: datetime
    end: datetime
    interval_seconds: float
    buckets: list[ActivityBucket]
    tactics: list[TacticRow] = Field(description="every tactic of the matrix, in matrix order, then unknown ones")


class TechniqueCoverage(BaseModel):
    id: str = Field(description="top-level technique id (T1110); the alert list's `technique` filter")
    name: str
    url: str
    rules: list[str] = Field(description="enabled rules covering it or one of its sub-techniques")
    subtechniques: list[str] = Field(description="its sub-techniques the rules name")
    alerts: int = Field(description="alerts of the technique active in the window")
    hits: int = Field(description="hits stored in the window of rules naming the technique (a rule's tags as "
                                  "of its latest hit there)")


class TacticCoverage(BaseModel):
    id: str
    shortname: str
    name: str
    covered: int = Field(description="techniques with at least one enabled rule")
    techniques: list[TechniqueCoverage] = Field(description="every top-level technique of the tactic, by name")


class CoveragePublic(BaseModel):
    attack_version: str
    days: int
    since: datetime
    tactics: list[TacticCoverage]
    unknown: list[TechniqueCoverage] = Field(description="technique ids rules name that the bundled catalogue lacks")
    rule_titles: dict[str, str] = Field(description="rule id -> title, for every rule listed")


def _buckets(start: str, end: str, buckets: int) -> store.Buckets:
    try:
        span = window(start, end)
    except QueryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    found = store.Buckets.over(span.start, span.end, bucket_width(span, buckets))
    if found.count > 2 * buckets:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the window is too long for that many buckets")
    return found


def _bounds(buckets: store.Buckets) -> list[tuple[datetime, datetime]]:
    return [buckets.bounds(i) for i in range(buckets.count)]


@router.get("/alert-counts", response_model=AlertCounts)
async def alert_counts(state: State, who: Viewer) -> AlertCounts:
    """Alerts not closed, per status (open, acknowledged) and severity."""
    del who
    found = await store.open_counts(state.pool)
    return AlertCounts(open=SeverityCounts(**found.get("open", {})),
                       acknowledged=SeverityCounts(**found.get("acknowledged", {})))


@router.get("/alert-activity", response_model=AlertActivity, responses={422: {"description": "a bad window"}})
async def alert_activity(state: State, who: Viewer, start: Start = "now-24h", end: End = "now",
                         buckets: Annotated[int, Query(ge=1, le=200)] = 48,
                         alert_status: StatusFilter = None) -> AlertActivity:
    """Alerts per time bucket and severity: an alert counts in every bucket its activity
    (first_seen to last_seen) overlaps."""
    del who
    grid = _buckets(start, end, buckets)
    counts = await store.activity(state.pool, grid, by="severity", status=list(alert_status) if alert_status else None)
    rows = [SeverityBucket(since=low, until=high, counts=SeverityCounts(**{
        s: counts[s][i] for s in SEVERITIES if s in counts})) for i, (low, high) in enumerate(_bounds(grid))]
    return AlertActivity(start=grid.start, end=grid.end, interval_seconds=grid.width.total_seconds(), buckets=rows)


@router.get("/tactic-activity", response_model=TacticActivity, responses={422: {"description": "a bad window"}})
async def tactic_activity(state: State, who: Viewer, start: Start = "now-24h", end: End = "now",
                          buckets: Annotated[int, Query(ge=1, le=200)] = 24,
                          alert_status: StatusFilter = None) -> TacticActivity:
    """Alerts per time bucket and ATT&CK tactic (the dashboard's heatmap)."""
    del who
    grid = _buckets(start, end, buckets)
    status_filter: list[str] | None = list(alert_status) if alert_status else None
    counts = await store.activity(state.pool, grid, by="tactic", status=status_filter)
    totals = await store.activity(state.pool, store.Buckets(grid.start, grid.end, grid.end - grid.first, grid.first, 1),
                                  by="tactic", status=status_filter)
    cat = attack.catalogue()
    rows = [TacticRow(id=t.id, shortname=t.shortname, name=t.name, counts=counts.get(t.shortname, [0] * grid.count),
                      total=totals.get(t.shortname, [0])[0]) for t in cat.tactics]
    known = {t.shortname for t in cat.tactics}
    rows += [TacticRow(id=None, shortname=name, name=name, counts=counts[name], total=totals.get(name, [0])[0])
             for name in sorted(counts) if name not in known]
    return TacticActivity(start=grid.start, end=grid.end, interval_seconds=grid.width.total_seconds(),
                          buckets=[ActivityBucket(since=low, until=high) for low, high in _bounds(grid)], tactics=rows)


def _technique(cell: TechniqueCell) -> TechniqueCoverage:
    return TechniqueCoverage(id=cell.id, name=cell.name, url=attack.technique_url(cell.id), rules=cell.rules,
                             subtechniques=cell.subtechniques, alerts=cell.alerts, hits=cell.hits)


@router.get("/coverage", response_model=CoveragePublic)
async def attack_coverage(state: State, who: Viewer, days: Annotated[int, Query(ge=1, le=366)] = 7) -> CoveragePublic:
    """The ATT&CK matrix: per tactic (matrix order) every top-level technique with the enabled
    rules and correlations covering it, and its alerts and hits of the last `days` days."""
    del who
    since = datetime.now(UTC) - timedelta(days=days)
    alerts, tag_counts = await store.technique_activity(state.pool, since)
    rules: list[Any] = []
    correlation = state.pipeline.correlation if state.pipeline is not None else None
    if correlation is not None:
        rules += [*correlation.catalogue.rules.values(), *correlation.catalogue.correlations.values()]
    statistics = state.pipeline.statistics if state.pipeline is not None else None
    if statistics is not None:  # first-seen rules (type: first_seen) run there, the disabled ones not installed
        rules += [s.rule for s in list(statistics.first_seen.values())]
    matrix = coverage(rules, alerts, hits_per_technique(tag_counts))
    listed = {r for column in matrix.tactics for cell in column.techniques for r in cell.rules}
    listed.update(r for cell in matrix.unknown for r in cell.rules)
    return CoveragePublic(
        attack_version=attack.catalogue().version, days=days, since=since,
        tactics=[TacticCoverage(id=c.id, shortname=c.shortname, name=c.name, covered=c.covered,
                                techniques=[_technique(t) for t in c.techniques]) for c in matrix.tactics],
        unknown=[_technique(t) for t in matrix.unknown],
        rule_titles={r: t for r, t in matrix.rule_titles.items() if r in listed})
