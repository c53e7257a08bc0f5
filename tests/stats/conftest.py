"""The statistics tests that need a running Guetteur use `make_running` (shared with the e2e
tests), with minutes judged as soon as the event clock has passed them (no lateness)."""

from __future__ import annotations

import pytest
from tests.e2e.conftest import make_running

from guetteur.config import Settings, StatsSettings

__all__ = ["make_running"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"stats": StatsSettings(frequency_lateness=0)})
