"""`GET /api/v1/stats/series`: one frequency series and its baseline (docs/statistics.md).

A series is a value of a dimension (`host.name`, `user.name`, `source.ip`,
`event.category/outcome`). The answer gives what the baseline learnt (overall and per hour
of the day, UTC), the counts of the last closed minutes and of the minutes still open. 404
when the series is not tracked (never seen, or evicted as one of the quietest), 503 when the
statistical detectors are not running.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from guetteur.api.deps import State, Viewer
from guetteur.stats.batch import MAX_TEXT

router = APIRouter(tags=["statistics"])

Dimension = Literal["host.name", "user.name", "source.ip", "event.category/outcome"]


class HourBaseline(BaseModel):
    hour_utc: int
    mean: float = Field(description="expected events per minute in this hour of the day")
    sd: float = Field(description="standard deviation of the per-minute count")
    samples: int = Field(description="minutes of this hour observed (the hour is used from 30 on)")


class Level(BaseModel):
    mean: float
    sd: float


class RecentCounts(BaseModel):
    until: str | None = Field(description="end of the last judged minute (the counts end there)")
    counts: list[int] = Field(description="events per minute of the last judged minutes, oldest first")


class SeriesPublic(BaseModel):
    dimension: Dimension
    value: str
    observed_minutes: int
    learning: bool = Field(description="still learning: no frequency hit before `stats.frequency_learning_minutes`")
    overall: Level = Field(description="all hours: used for an hour with too few samples")
    hours: list[HourBaseline]
    recent: RecentCounts
    open: dict[str, int] = Field(description="minutes not judged yet (still accepting late events): counts so far")


@router.get("/stats/series", response_model=SeriesPublic,
            responses={404: {"description": "series not tracked"},
                       503: {"description": "statistical detectors not running"}})
async def get_series(
    state: State,
    key: Viewer,
    dimension: Annotated[Dimension, Query(description="what the series counts by")],
    value: Annotated[str, Query(min_length=1, max_length=MAX_TEXT, description="e.g. a host name")],
) -> Any:
    """One frequency series with its baseline."""
    del key
    stage = state.pipeline.statistics if state.pipeline is not None else None
    if stage is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the statistical detectors are not running")
    found = stage.series(dimension, value)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"series {dimension}={value!r} is not tracked (never seen, or evicted as one of the "
                            "quietest)")
    return found
