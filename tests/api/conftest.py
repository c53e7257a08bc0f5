"""The API tests run against a real Guetteur (`make_running`, shared with the e2e tests)."""

from __future__ import annotations

from tests.e2e.conftest import Running, make_running, send_tcp

__all__ = ["Running", "make_running", "send_tcp"]
