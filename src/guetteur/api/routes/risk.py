"""Risk (`docs/risk.md`): the riskiest entities, one entity's score with every contribution, the
score of each hit of an alert (`event.risk_score` of its events), and the asset criticality settings.

Scores are computed when asked, over the window (`risk.window_hours`) that ends at `at` (now by
default), so they fall as contributions leave the window. Viewers read everything here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from guetteur.alert.risk import (
    CRITICALITY_MULTIPLIER,
    LEVEL_SCORE,
    MAX_RAW,
    TACTIC_WEIGHT,
    AssetCriticality,
    risk_level,
)
from guetteur.alert.risk_scorer import entity_verdict, riskiest_entities
from guetteur.api.deps import State, Viewer
from guetteur.store import risk as store

router = APIRouter(prefix="/risk", tags=["risk"])

EntityField = Literal["host.name", "user.name", "source.ip"]


class EntityRiskPublic(BaseModel):
    field: EntityField = Field(examples=["host.name"])
    value: str = Field(examples=["web-01"])
    score: float = Field(ge=0, le=100, description="entity risk 0-100 over the window", examples=[43.31])
    level: str = Field(description="unknown < 20 <= low < 40 <= moderate < 70 <= high < 90 <= critical",
                       examples=["moderate"])
    raw: float = Field(description="S = sum(s_i / i^1.5) of the highest contributions", examples=[113.14])
    criticality: str = Field(examples=["medium"])
    multiplier: float = Field(description="criticality odds multiplier", examples=[1.0])
    contributions: int = Field(description="hits counted in the window", examples=[2])
    tactics: list[str] = Field(default_factory=list, examples=[["credential-access", "discovery"]])
    last_seen: datetime | None = Field(None, description="event time of the newest contribution")


class EntitiesPublic(BaseModel):
    data: list[EntityRiskPublic]
    count: int
    at: datetime = Field(description="end of the window")
    window_hours: float


class ContributionPublic(BaseModel):
    rank: int = Field(description="i: place among the entity's contributions, highest score first")
    score: int = Field(ge=0, le=100, description="s_i: the hit's risk score")
    weight: float = Field(description="1 / i^1.5")
    part: float = Field(description="s_i / i^1.5: what it adds to S")
    hit_id: int
    alert_id: int
    at: datetime
    rule_id: str
    rule_title: str
    tactics: list[str]
    event_id: str | None = None


class EntityDetailPublic(EntityRiskPublic):
    normalised: float = Field(description="100 * S / 261.24, before criticality")
    rules: int = Field(description="distinct rules in the window")
    at: datetime
    window_hours: float
    contribution_list: list[ContributionPublic] = Field(
        description="every counted contribution, highest first (at most risk.max_contributions)")


class HitRiskPublic(BaseModel):
    hit_id: int
    score: int = Field(ge=0, le=100)
    factors: dict[str, float] = Field(description="base score and the odds multipliers (tactic, asset, anomaly)",
                                      examples=[{"base": 73, "tactic": 1.5, "asset": 1.0, "anomaly": 1.0}])
    event_ids: list[str]


class AlertRiskPublic(BaseModel):
    alert_id: int
    hits: list[HitRiskPublic] = Field(description="each scored hit of the alert, oldest first")
    events: dict[str, int] = Field(description="event id -> event.risk_score (its hit's score; the highest "
                                               "when several hits share an event)")


class PatternPublic(BaseModel):
    pattern: str
    level: str


class CriticalityPublic(BaseModel):
    hosts: list[PatternPublic]
    users: list[PatternPublic]
    multipliers: dict[str, float] = Field(examples=[CRITICALITY_MULTIPLIER])
    level_scores: dict[str, int] = Field(examples=[LEVEL_SCORE])
    tactic_weights: dict[str, float]
    window_hours: float
    score_threshold: float
    tactics_threshold: int
    tactics_min_rules: int
    enabled: bool


def _window(at: datetime | None, hours: float) -> tuple[datetime, datetime]:
    """(start, end) of the window ending at `at` (now by default; naive times are UTC)."""
    end = datetime.now(UTC) if at is None else at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    try:
        return end - timedelta(hours=hours), end
    except OverflowError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "at: too early for a window") from None


@router.get("/entities", response_model=EntitiesPublic, summary="The riskiest entities")
async def top_entities(
    state: State,
    key: Viewer,
    field: Annotated[EntityField | None, Query(description="only this kind of entity")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    at: Annotated[datetime | None, Query(description="end of the window (ISO 8601); now by default")] = None,
) -> EntitiesPublic:
    del key
    settings = state.effective.risk
    _, end = _window(at, settings.window_hours)
    async with state.pool.connection() as conn:
        ranked = await riskiest_entities(conn, settings, AssetCriticality.from_settings(settings), end, field, limit)
    found = [EntityRiskPublic(
        field=e.total.field, value=e.total.value, score=round(e.score, 2), level=risk_level(e.score),
        raw=round(e.total.raw, 4), criticality=e.criticality, multiplier=e.multiplier,
        contributions=e.total.contributions, tactics=e.total.tactics, last_seen=e.total.last_at) for e in ranked]
    return EntitiesPublic(data=found, count=len(found), at=end,
                          window_hours=settings.window_hours)


@router.get("/entity", response_model=EntityDetailPublic, summary="One entity's risk and every contribution")
async def entity_risk(
    state: State,
    key: Viewer,
    field: Annotated[EntityField, Query(description="the entity field")],
    value: Annotated[str, Query(min_length=1, max_length=512, description="its value")],
    at: Annotated[datetime | None, Query(description="end of the window (ISO 8601); now by default")] = None,
) -> EntityDetailPublic:
    del key
    settings = state.effective.risk
    if "\x00" in value:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "value: NUL characters are not allowed")
    _, end = _window(at, settings.window_hours)
    async with state.pool.connection() as conn:
        verdict = await entity_verdict(conn, settings, AssetCriticality.from_settings(settings), field, value, end)
    return EntityDetailPublic(
        field=field, value=value, score=round(verdict.score, 2), level=risk_level(verdict.score),
        raw=round(verdict.raw, 4), normalised=round(100.0 * verdict.raw / MAX_RAW, 4),
        criticality=verdict.criticality, multiplier=verdict.multiplier, contributions=len(verdict.contributions),
        tactics=verdict.tactics, rules=verdict.rules,
        last_seen=max((c.at for c in verdict.contributions), default=None), at=end,
        window_hours=settings.window_hours,
        contribution_list=[ContributionPublic(**c) for c in verdict.explained()])


@router.get("/alerts/{alert_id}", response_model=AlertRiskPublic,
            summary="The risk score of each hit of an alert, and of its events (event.risk_score)")
async def alert_risk(
    state: State,
    key: Viewer,
    alert_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> AlertRiskPublic:
    del key
    async with state.pool.connection() as conn:
        exists = await (await conn.execute("SELECT 1 FROM alerts WHERE id = %s", (alert_id,))).fetchone()
        if exists is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
        scored = await store.alert_scores(conn, alert_id)
        events = await store.event_risk_scores(conn, alert_id)
    return AlertRiskPublic(alert_id=alert_id, events=events, hits=[
        HitRiskPublic(hit_id=hit_id, score=score, factors=_numbers(factors), event_ids=event_ids)
        for hit_id, score, factors, event_ids in scored])


@router.get("/criticality", response_model=CriticalityPublic, summary="Asset criticality and risk settings")
async def criticality(state: State, key: Viewer) -> CriticalityPublic:
    del key
    settings = state.effective.risk
    crit = AssetCriticality.from_settings(settings)
    return CriticalityPublic(
        hosts=[PatternPublic(pattern=p, level=lv) for p, lv in crit.hosts],
        users=[PatternPublic(pattern=p, level=lv) for p, lv in crit.users],
        multipliers=dict(CRITICALITY_MULTIPLIER), level_scores=dict(LEVEL_SCORE), tactic_weights=dict(TACTIC_WEIGHT),
        window_hours=settings.window_hours, score_threshold=settings.score_threshold,
        tactics_threshold=settings.tactics_threshold, tactics_min_rules=settings.tactics_min_rules,
        enabled=settings.enabled)


def _numbers(factors: dict[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in factors.items() if isinstance(v, int | float) and not isinstance(v, bool)}
