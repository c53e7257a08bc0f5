"""`GET /api/v1/detection/rules`: every loaded rule and correlation, what it is and what it did.

What a rule is (title, level, ATT&CK, log source, whether it is switched on; for a correlation
its type, the rules it correlates, group-by and timespan) comes from the API's own load of the
rule files (`api/rule_library.RuleLibrary`: a rule saved or switched through the API is listed
at once; the workers follow within `detect.reload_interval`), never evaluated there. What it did
comes from the workers' per-rule counters (reported every few seconds, so up to that old)
and, for correlations, from the correlation engine's own counters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from guetteur.api.deps import State, Viewer
from guetteur.api.rule_library import RuleLibrary, get_library
from guetteur.detect.rule_catalogue import AttackInfo, CorrelationInfo, RuleCatalogue, RuleInfo
from guetteur.store.rule_queries import rule_hits

router = APIRouter(tags=["detection"])


class AttackPublic(BaseModel):
    techniques: list[str] = Field(default_factory=list, description="ATT&CK technique ids (`T1110.001`)")
    tactics: list[str] = Field(default_factory=list, description="ATT&CK tactics (`credential-access`)")


class LogSourcePublic(BaseModel):
    product: str | None = None
    category: str | None = None
    service: str | None = None


class RulePublic(BaseModel):
    """A Sigma detection rule and its counters summed over the workers."""

    rule_id: str
    name: str | None = None
    title: str | None = Field(description="None only for a rule a worker reports that the main process has "
                                          "not loaded (for a moment during a hot reload)")
    level: str | None = None
    status: str | None = None
    tags: list[str] = Field(default_factory=list)
    attack: AttackPublic = Field(default_factory=AttackPublic)
    logsource: LogSourcePublic = Field(default_factory=LogSourcePublic)
    source: str | None = Field(None, description="the rule file, `folder/file.yml`")
    enabled: bool = True
    alert: bool = Field(True, description="False: the rule only feeds correlations, its hits raise no alert")
    hits: int = Field(0, description="events the rule matched, alerting or not")
    errors: int = Field(0, description="evaluations that raised an error")
    evaluations: int = Field(0, description="events the rule was evaluated on (after routing and prefilter)")
    time_ms: float = Field(0.0, description="time spent evaluating the rule, in milliseconds")
    hits_24h: int = Field(0, description="stored (alerting) hits of the last 24 hours")
    origin: str | None = Field(None, description="builtin (the pack), folder (detect.rules_dirs) or local "
                                                 "(written through the API)")


class CorrelatedRulePublic(BaseModel):
    reference: str = Field(description="the reference as written in the correlation (a rule id or name)")
    rule_id: str | None = Field(None, description="the id it resolved to; None when no loaded rule has it")
    title: str | None = None


class CorrelationPublic(BaseModel):
    """A Sigma correlation rule and the correlation engine's counters for it."""

    rule_id: str
    name: str | None = None
    title: str
    level: str
    status: str | None = None
    tags: list[str] = Field(default_factory=list)
    attack: AttackPublic = Field(default_factory=AttackPublic)
    type: str = Field(description="event_count, value_count, temporal, temporal_ordered, value_sum, ...")
    rules: list[CorrelatedRulePublic]
    group_by: list[str]
    timespan: str = Field(description="as written (`2m`)")
    timespan_seconds: float
    condition: str = Field(description="`gte 5`, `field user.name gte 10`, ...")
    generate: bool = Field(description="whether the correlated rules alert on their own too")
    source: str
    enabled: bool
    alert: bool = Field(description="False: the correlation only feeds another correlation")
    hits: int = Field(0, description="times the correlation fired, alerting or not")
    hits_24h: int = Field(0, description="stored (alerting) hits of the last 24 hours")
    origin: str | None = None
    groups: int = Field(0, description="groups (distinct group-by values) with an open window now")


class RulesPublic(BaseModel):
    data: list[RulePublic] = Field(description="detection rules, most hits first")
    count: int
    correlations: list[CorrelationPublic] = Field(description="correlation rules, most hits first")
    correlation_count: int


_ZERO = {"hits": 0.0, "errors": 0.0, "evaluations": 0.0, "time_ms": 0.0}


def merge_rule_stats(per_worker: dict[int, dict[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Each rule's counters summed over the workers' latest reports."""
    totals: dict[str, dict[str, float]] = {}
    for stats in per_worker.values():
        for rule_id, counters in stats.items():
            into = totals.setdefault(rule_id, dict(_ZERO))
            for key in into:
                into[key] += float(counters.get(key, 0) or 0)
    return totals


def _attack(info: AttackInfo) -> AttackPublic:
    return AttackPublic(techniques=list(info.techniques), tactics=list(info.tactics))


def rule_rows(catalogue: RuleCatalogue, per_worker: dict[int, dict[str, dict[str, Any]]]) -> list[RulePublic]:
    """Every catalogued rule (counted or not) and every counted rule, busiest first."""
    totals = merge_rule_stats(per_worker)
    rows = []
    for rule_id in catalogue.rules.keys() | totals.keys():
        c = totals.get(rule_id, _ZERO)
        counters = {"hits": int(c["hits"]), "errors": int(c["errors"]), "evaluations": int(c["evaluations"]),
                    "time_ms": round(c["time_ms"], 3)}
        info: RuleInfo | None = catalogue.rules.get(rule_id)
        if info is None:
            rows.append(RulePublic(rule_id=rule_id, title=None, **counters))
            continue
        rows.append(RulePublic(
            rule_id=rule_id, name=info.name, title=info.title, level=info.level, status=info.status,
            tags=list(info.tags), attack=_attack(info.attack), logsource=LogSourcePublic(**info.logsource),
            source=info.source, enabled=info.enabled, alert=info.alert, **counters,
        ))
    rows.sort(key=lambda r: (-r.hits, -r.time_ms, r.rule_id))
    return rows


def correlation_rows(catalogue: RuleCatalogue, engine_stats: dict[str, dict[str, int]]) -> list[CorrelationPublic]:
    """Every catalogued correlation with the engine's counters (zero for one it does not
    run: disabled, or refused by the engine), busiest first."""
    rows = []
    for info in catalogue.correlations.values():
        stats = engine_stats.get(info.id, {})
        rows.append(_correlation_row(info, int(stats.get("fired", 0)), int(stats.get("groups", 0))))
    rows.sort(key=lambda r: (-r.hits, r.rule_id))
    return rows


def _correlation_row(info: CorrelationInfo, hits: int, groups: int) -> CorrelationPublic:
    return CorrelationPublic(
        rule_id=info.id, name=info.name, title=info.title, level=info.level, status=info.status,
        tags=list(info.tags), attack=_attack(info.attack), type=info.type,
        rules=[CorrelatedRulePublic(reference=r.reference, rule_id=r.id, title=r.title) for r in info.rules],
        group_by=list(info.group_by), timespan=info.timespan, timespan_seconds=info.timespan_seconds,
        condition=info.condition, generate=info.generate, source=info.source, enabled=info.enabled,
        alert=info.alert, hits=hits, groups=groups,
    )


@router.get("/detection/rules", response_model=RulesPublic)
async def detection_rules(state: State, key: Viewer,
                          library: Annotated[RuleLibrary, Depends(get_library)]) -> RulesPublic:
    """Every loaded detection rule and correlation rule: title, level, ATT&CK tags, log source
    (for correlations: type, correlated rules, group-by, timespan, condition), with hits,
    evaluation errors, evaluations and time spent per rule (workers report every few
    seconds) and, per correlation, the times it fired and its open groups."""
    del key
    pipeline = state.pipeline
    stage = pipeline.correlation if pipeline is not None else None
    # what each rule is: the API's own load of the rule files (`RuleLibrary`), so a rule saved
    # through the API is listed at once; what it did: the workers' and the engine's counters
    catalogue = await library.catalogue()
    engine_stats: dict[str, dict[str, int]] = {}
    if stage is not None:
        for corr_id in catalogue.correlations:
            try:
                engine_stats[corr_id] = stage.engine.rule_stats(corr_id)
            except KeyError:  # disabled, or refused by the engine
                continue
    rules = rule_rows(catalogue, pipeline.detection.rule_stats if pipeline is not None else {})
    correlations = correlation_rows(catalogue, engine_stats)
    recent = await rule_hits(state.pool) if state.pool is not None else {}
    paths = {**{i: r.path for i, r in catalogue.rules.items()}, **{i: c.path for i, c in catalogue.correlations.items()}}
    rows: list[RulePublic | CorrelationPublic] = [*rules, *correlations]
    for row in rows:
        row.hits_24h = recent.get(row.rule_id, (0, 0))[0]
        path = paths.get(row.rule_id)
        row.origin = library.origin(Path(path)) if path else None
    return RulesPublic(data=rules, count=len(rules), correlations=correlations, correlation_count=len(correlations))
