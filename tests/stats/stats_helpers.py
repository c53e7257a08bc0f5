"""Shared helpers of the statistics tests: settings, synthetic events, a batch at a minute."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from guetteur.config import Settings, StatsSettings
from guetteur.stats.batch import StatsBatch, collect_batch
from guetteur.stats.first_seen_rule import FirstSeenRule

T0 = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp())  # a Tuesday, 00:00 UTC


def stats_settings(**overrides: Any) -> StatsSettings:
    return StatsSettings(**overrides)


def settings_with(stats: StatsSettings, base: Settings | None = None) -> Settings:
    settings = base or Settings()
    return settings.model_copy(update={"stats": stats})


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def event(at: float, host: str | None = "web-01", user: Any = "alice", ip: str | None = "10.0.0.1",
          category: str = "authentication", outcome: str = "success", dataset: str = "linux_auth",
          event_id: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"@timestamp": iso(at),
                           "event": {"category": [category], "outcome": outcome, "dataset": dataset}}
    if event_id is not None:
        doc["event"]["id"] = event_id
    if host is not None:
        doc["host"] = {"name": host}
    if user is not None:
        doc["user"] = {"name": user}
    if ip is not None:
        doc["source"] = {"ip": ip}
    return doc


def minute_batch(minute: int, count: int, rules: Sequence[FirstSeenRule] = (), **fields: Any) -> StatsBatch:
    """`count` events spread over the minute starting at epoch `minute` (seen by `rules` too)."""
    return collect_batch([event(minute + (i * 59) // max(count, 1), **fields) for i in range(count)], rules)
