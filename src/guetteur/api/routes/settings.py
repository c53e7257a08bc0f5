"""`/api/v1/settings` (admins): the settings that can be changed from the console (retention,
asset criticality, statistical thresholds), with where each value comes from, saved in the
database over the configuration file (`guetteur.runtime_settings`). Every change is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from guetteur.api.audit_trail import record
from guetteur.api.deps import Admin, State, client_address
from guetteur.api.routes.health import RetentionRun
from guetteur.runtime_settings import (
    REFRESH_SECONDS,
    CriticalityValue,
    RetentionValue,
    RuntimeSettings,
    Source,
    StatsThresholds,
    file_value,
    sources,
)
from guetteur.store.audit import AuditEntry
from guetteur.store.settings import delete_section, write_section

router = APIRouter(prefix="/settings", tags=["settings"])

Section = Literal["retention", "criticality", "stats"]


class _SectionPublic(BaseModel):
    sources: dict[str, Source] = Field(
        description="per value: `default` (built in), `config` (configuration file or environment), `console` (saved here)")
    updated_by: str | None = Field(description="who saved the console's value (null: none saved)")
    updated_at: datetime | None
    applies: str = Field(description="when a change takes effect")


class RetentionSection(_SectionPublic):
    value: RetentionValue = Field(description="in force")
    config: RetentionValue = Field(description="the configuration's (what a reset goes back to)")
    enforced: bool = Field(description="whether a retention task deletes data past these days (true when this API "
                                       "runs in `guetteur up`, whose retention task runs hourly)")
    last_run: RetentionRun | None = Field(None, description="the retention task's last run (null before it)")


class CriticalitySection(_SectionPublic):
    value: CriticalityValue
    config: CriticalityValue


class StatsSection(_SectionPublic):
    value: StatsThresholds
    config: StatsThresholds


class SettingsPublic(BaseModel):
    retention: RetentionSection
    criticality: CriticalitySection
    stats: StatsSection
    refresh_seconds: float = Field(description="how often each process re-reads the saved settings")


_APPLIES = {
    "retention": "at the next hourly retention run of `guetteur up` (or now: `guetteur retention run`)",
    "criticality": "at once in this server (risk scorer and alert scores of new hits); other processes "
                   f"within {REFRESH_SECONDS:g} s",
    "stats": f"at the statistical detectors' next judgement (within {REFRESH_SECONDS:g} s)",
}


async def _runtime(state: Any) -> RuntimeSettings:
    """The server's `RuntimeSettings`, refreshed now (a new one for an API without a server)."""
    runtime: RuntimeSettings | None = state.runtime
    if runtime is None:
        runtime = state.runtime = RuntimeSettings(state.settings)
    await runtime.load(state.pool)
    return runtime


def _retention_extra(state: Any) -> dict[str, Any]:
    task = getattr(state, "retention", None)
    if task is None:
        return {"enforced": False, "last_run": None}
    return {"enforced": True, "last_run": task.health()["last_run"]}


def _public(state: Any, runtime: RuntimeSettings) -> SettingsPublic:
    current = runtime.current
    parts: dict[str, Any] = {}
    for section, model in (("retention", RetentionSection), ("criticality", CriticalitySection), ("stats", StatsSection)):
        by, at = runtime.updated(section)
        extra = _retention_extra(state) if section == "retention" else {}
        parts[section] = model(value=file_value(current, section), config=file_value(state.settings, section),
                               sources=sources(state.settings, section, runtime.stored.get(section)),
                               updated_by=by, updated_at=at, applies=_APPLIES[section], **extra)
    return SettingsPublic(**parts, refresh_seconds=runtime.interval)


@router.get("", response_model=SettingsPublic)
async def settings_get(state: State, who: Admin) -> SettingsPublic:
    """The changeable settings in force, the configuration's values, and where each comes from."""
    del who
    return _public(state, await _runtime(state))


async def _save(state: Any, request: Request, who: Any, section: Section, value: Any,
                detail: dict[str, Any]) -> SettingsPublic:
    async with state.pool.connection() as conn:
        await write_section(conn, section, value.model_dump(mode="json"), who.actor)
    await record(state, AuditEntry(who.actor, "settings.change", "success", client_address(request), section,
                                   detail))
    return _public(state, await _runtime(state))


@router.put("/retention", response_model=SettingsPublic, responses={422: {"description": "a value out of bounds"}})
async def retention_put(body: RetentionValue, request: Request, state: State, who: Admin) -> SettingsPublic:
    """Save the retention days (0 = keep forever)."""
    return await _save(state, request, who, "retention", body, body.model_dump())


@router.put("/criticality", response_model=SettingsPublic, responses={422: {"description": "a bad pattern or level"}})
async def criticality_put(body: CriticalityValue, request: Request, state: State, who: Admin) -> SettingsPublic:
    """Save the asset criticality patterns (they replace the configuration's `[risk.hosts]` and
    `[risk.users]` as a whole)."""
    return await _save(state, request, who, "criticality", body,
                       {"hosts": len(body.hosts), "users": len(body.users)})


@router.put("/stats", response_model=SettingsPublic, responses={422: {"description": "a value out of bounds"}})
async def stats_put(body: StatsThresholds, request: Request, state: State, who: Admin) -> SettingsPublic:
    """Save the statistical detectors' thresholds."""
    return await _save(state, request, who, "stats", body, body.model_dump())


@router.delete("/{section}", response_model=SettingsPublic,
               responses={404: {"description": "nothing saved for this section"}})
async def section_reset(section: Section, request: Request, state: State, who: Admin) -> SettingsPublic:
    """Forget the console's value of a section: the configuration's applies again."""
    async with state.pool.connection() as conn:
        if not await delete_section(conn, section):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no saved value for {section}")
    await record(state, AuditEntry(who.actor, "settings.reset", "success", client_address(request), section))
    return _public(state, await _runtime(state))


