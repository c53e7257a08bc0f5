"""The notification API tests run against a real Guetteur (`make_running`, shared with the e2e tests)."""

from __future__ import annotations

from tests.e2e.conftest import make_running

__all__ = ["make_running"]
