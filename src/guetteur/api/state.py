"""What the routes reach: settings, the running pipeline, the database pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from guetteur.config import Settings
from guetteur.pipeline.runtime import Pipeline


@dataclass
class AppState:
    settings: Settings
    pipeline: Pipeline | None
    pool: Any  # psycopg_pool.AsyncConnectionPool
    sources: list[Any] = field(default_factory=list)  # running listeners (their transport counters)
