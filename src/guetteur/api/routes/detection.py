"""`GET /api/v1/detection/rules`: per-rule counters of the live detection (all workers)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from guetteur.api.deps import ReadKey, State

router = APIRouter(tags=["detection"])


class RuleCounters(BaseModel):
    rule_id: str
    hits: int
    errors: int
    evaluations: int
    time_ms: float


class RuleCountersPage(BaseModel):
    data: list[RuleCounters]
    count: int


def merge_rule_stats(per_worker: dict[int, dict[str, dict[str, Any]]]) -> list[RuleCounters]:
    """Sum each rule's counters over the workers' latest reports; busiest first."""
    totals: dict[str, dict[str, float]] = {}
    for stats in per_worker.values():
        for rule_id, counters in stats.items():
            into = totals.setdefault(rule_id, {"hits": 0, "errors": 0, "evaluations": 0, "time_ms": 0.0})
            for key in into:
                into[key] += float(counters.get(key, 0) or 0)
    rows = [RuleCounters(rule_id=rule_id, hits=int(c["hits"]), errors=int(c["errors"]),
                         evaluations=int(c["evaluations"]), time_ms=round(c["time_ms"], 3))
            for rule_id, c in totals.items()]
    rows.sort(key=lambda r: (-r.hits, -r.time_ms, r.rule_id))
    return rows


@router.get("/detection/rules", response_model=RuleCountersPage)
async def rule_counters(state: State, key: ReadKey) -> RuleCountersPage:
    """Hits, evaluation errors, evaluations and time spent per rule, reported by the
    workers every few seconds (so up to that old)."""
    del key
    per_worker = state.pipeline.detection.rule_stats if state.pipeline is not None else {}
    rows = merge_rule_stats(per_worker)
    return RuleCountersPage(data=rows, count=len(rows))
