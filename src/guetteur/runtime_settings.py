"""Settings an admin changes from the console, over the configuration file's.

Three sections can be changed at run time (`/api/v1/settings`): `retention`, `criticality`
(asset criticality globs of the risk scores) and `stats` (the statistical detectors' thresholds).
A saved section replaces that section of the configuration file as a whole; deleting it goes
back to the file. Values are validated by the models below (the same bounds as the file's) and
stored in `runtime_settings` (migration 0760); every change is audited by the API.

`RuntimeSettings` is the settings in force for one process: the file's, with the saved
sections over them, re-read from the database every `REFRESH_SECONDS` by a task of its own
(and at once when the API of the same process saves a change). Its consumers read it when they
work: the risk scorer and the alert manager's per-hit score take `criticality` on each round,
the statistics stage applies `stats` on its next tick, the retention task (store/retention.py)
reads `retention` at each hourly run. What the thresholds do not cover
(`stats.frequency_half_life_days`, `stats.enabled`...) stays in the file and needs a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from guetteur.alert.risk import AssetCriticality
from guetteur.config import RetentionSettings, Settings, SigmaLevel, StatsSettings
from guetteur.store.settings import StoredSection, read_sections

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
Source = Literal["default", "config", "console"]
Level = Literal["low", "medium", "high", "extreme"]


class RetentionValue(RetentionSettings):
    """Retention days (0 = forever), enforced by the hourly retention task (store/retention.py)."""

    model_config = ConfigDict(extra="forbid")


def _pattern(value: str) -> str:
    if not value.strip() or len(value) > 255:
        raise ValueError(f"asset pattern {value[:40]!r}: 1 to 255 characters")
    return value


class CriticalityValue(BaseModel):
    """Glob patterns on `host.name` and `user.name` -> asset criticality (odds multiplier low 0.5,
    medium 1, high 1.5, extreme 2). Unmatched names are medium."""

    model_config = ConfigDict(extra="forbid")

    hosts: dict[str, Level] = Field(default_factory=dict, max_length=10_000)
    users: dict[str, Level] = Field(default_factory=dict, max_length=10_000)

    @field_validator("hosts", "users")
    @classmethod
    def _patterns(cls, value: dict[str, Level]) -> dict[str, Level]:
        for pattern in value:
            _pattern(pattern)
        return value


_STATS = StatsSettings.model_fields


class StatsThresholds(BaseModel):
    """The statistical detectors' thresholds (docs/statistics.md), with the file's bounds."""

    model_config = ConfigDict(extra="forbid")

    frequency_z: float = Field(_STATS["frequency_z"].default, gt=0, le=1000,
                               description=_STATS["frequency_z"].description)
    frequency_p_value: float = Field(_STATS["frequency_p_value"].default, gt=0, lt=1,
                                     description=_STATS["frequency_p_value"].description)
    frequency_min_count: int = Field(_STATS["frequency_min_count"].default, ge=1, le=10_000_000,
                                     description=_STATS["frequency_min_count"].description)
    frequency_learning_minutes: int = Field(_STATS["frequency_learning_minutes"].default, ge=1, le=525_600,
                                            description=_STATS["frequency_learning_minutes"].description)
    frequency_level: SigmaLevel = Field(_STATS["frequency_level"].default,
                                        description=_STATS["frequency_level"].description)
    silent_min_seconds: float = Field(_STATS["silent_min_seconds"].default, ge=60, le=30 * 86_400,
                                      description=_STATS["silent_min_seconds"].description)
    silent_gap_factor: float = Field(_STATS["silent_gap_factor"].default, ge=1, le=10_000,
                                     description=_STATS["silent_gap_factor"].description)
    silent_learning: int = Field(_STATS["silent_learning"].default, ge=2, le=1_000_000,
                                 description=_STATS["silent_learning"].description)
    silent_level: SigmaLevel = Field(_STATS["silent_level"].default, description=_STATS["silent_level"].description)


SECTIONS: dict[str, type[BaseModel]] = {
    "retention": RetentionValue,
    "criticality": CriticalityValue,
    "stats": StatsThresholds,
}


def file_value(settings: Settings, section: str) -> BaseModel:
    """A section as the configuration (file or environment, else defaults) has it."""
    if section == "retention":
        return RetentionValue.model_validate(settings.retention.model_dump())
    if section == "criticality":
        return CriticalityValue(hosts=dict(settings.risk.hosts), users=dict(settings.risk.users))
    if section == "stats":
        return StatsThresholds.model_validate({name: getattr(settings.stats, name)
                                               for name in StatsThresholds.model_fields})
    raise KeyError(section)


def default_value(section: str) -> BaseModel:
    return SECTIONS[section]()


def sources(settings: Settings, section: str, stored: StoredSection | None) -> dict[str, Source]:
    """Where each value of a section comes from."""
    config = file_value(settings, section).model_dump()
    default = default_value(section).model_dump()
    return {name: "console" if stored is not None else "config" if config[name] != default[name] else "default"
            for name in config}


def stored_value(section: str, stored: StoredSection) -> BaseModel | None:
    """A saved section validated again (a newer Guetteur may have tightened a bound): None when
    it no longer validates, so the file's value applies and the problem is logged."""
    try:
        return SECTIONS[section].model_validate(stored.value)
    except ValidationError as exc:
        log.error("saved settings section %r ignored (invalid: %s); the configuration file applies",
                  section, exc.errors()[:3])
        return None


def effective_settings(settings: Settings, stored: dict[str, StoredSection]) -> Settings:
    """`settings` with the saved sections over it."""
    values = {s: stored_value(s, stored[s]) for s in stored if s in SECTIONS}
    update: dict[str, Any] = {}
    retention = values.get("retention")
    if retention is not None:
        update["retention"] = RetentionSettings.model_validate(retention.model_dump())
    criticality = values.get("criticality")
    if isinstance(criticality, CriticalityValue):
        update["risk"] = settings.risk.model_copy(update={"hosts": criticality.hosts, "users": criticality.users})
    stats = values.get("stats")
    if stats is not None:
        update["stats"] = settings.stats.model_copy(update=stats.model_dump())
    return settings.model_copy(update=update) if update else settings


class RuntimeSettings:
    """The settings in force in this process (see the module docstring)."""

    def __init__(self, settings: Settings, interval: float = REFRESH_SECONDS) -> None:
        self.base = settings
        self.interval = interval
        self.stored: dict[str, StoredSection] = {}
        self.current = settings
        self.criticality = AssetCriticality.from_settings(settings.risk)
        self.version = 0  # bumped on every change: consumers apply what they have not applied
        self.loaded_at: float | None = None
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._listeners: list[Callable[[Settings], None]] = []

    def on_change(self, listener: Callable[[Settings], None]) -> None:
        """Call `listener(current settings)` on every change, and now when saved sections apply."""
        self._listeners.append(listener)
        if self.stored:
            listener(self.current)

    def use(self, stored: dict[str, StoredSection]) -> bool:
        """Apply these saved sections; True when something changed."""
        key = {s: (v.value, v.updated_at) for s, v in stored.items()}
        if key == {s: (v.value, v.updated_at) for s, v in self.stored.items()}:
            return False
        self.stored = dict(stored)
        self.current = effective_settings(self.base, self.stored)
        self.criticality = AssetCriticality.from_settings(self.current.risk)
        self.version += 1
        for listener in self._listeners:
            try:
                listener(self.current)
            except Exception:  # pragma: no cover - a consumer's bug must not stop the others
                log.exception("applying changed settings failed")
        return True

    async def load(self, pool: Any) -> bool:
        """Read the saved sections now; True when something changed."""
        async with pool.connection() as conn:
            stored = await read_sections(conn)
        self.loaded_at = time.monotonic()
        return self.use(stored)

    async def start(self, pool: Any) -> None:
        """Load once (a database away leaves the file's values in force), then refresh in the background."""
        with contextlib.suppress(Exception):
            await self.load(pool)
        self._stopping = False
        self._task = asyncio.create_task(self._refresh(pool), name="runtime-settings")

    async def stop(self) -> None:
        # a flag as well as the cancellation, as in `store.supervisor`: Python 3.11's
        # `asyncio.wait_for` (the pool's) can swallow a cancellation that lands as it finishes
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._task = None

    async def _refresh(self, pool: Any) -> None:
        while not self._stopping:
            await asyncio.sleep(self.interval)
            if self._stopping:
                return
            try:
                if await self.load(pool):
                    log.info("settings changed from the console applied: %s", ", ".join(sorted(self.stored)) or "none")
                self.last_error = None
            except Exception as exc:  # the database may be away: keep the values in force
                self.last_error = str(exc)

    def updated(self, section: str) -> tuple[str | None, datetime | None]:
        stored = self.stored.get(section)
        return (stored.updated_by, stored.updated_at) if stored else (None, None)
