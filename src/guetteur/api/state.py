"""What the routes reach: settings, the running pipeline, the database pool and its supervisor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from guetteur.collect.source import Source
from guetteur.config import Settings
from guetteur.pipeline.runtime import Pipeline
from guetteur.store.supervisor import DatabaseSupervisor


@dataclass
class AppState:
    settings: Settings
    pipeline: Pipeline | None
    pool: Any  # psycopg_pool.AsyncConnectionPool
    sources: list[Source] = field(default_factory=list)  # running sources (their transport counters)
    database: DatabaseSupervisor | None = None  # whether PostgreSQL answers (health, ingest's 503)
    notifier: Any = None  # guetteur.notify.Notifier: its health (outbox, dead letters)
    alerts: Any = None  # guetteur.alert.manager.AlertManager: its health (hits grouped, gaps waited for)
    runtime: Any = None  # guetteur.runtime_settings.RuntimeSettings: the file's settings + the console's
    retention: Any = None  # guetteur.store.retention.RetentionTask: the last run (health, settings page)

    @property
    def effective(self) -> Settings:
        """The settings in force: the configuration with the sections changed from the console."""
        current: Settings = self.runtime.current if self.runtime is not None else self.settings
        return current
