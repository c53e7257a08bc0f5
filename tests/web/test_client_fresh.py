"""The console's API client is generated from the API's schema: the committed copies
(`web/openapi.json`, `web/src/api/schema.d.ts`) must be what the app declares now.

Regenerate both with `./scripts/console-client.sh` after changing a route or a model."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from guetteur.api.schema import schema_text

WEB = Path(__file__).resolve().parents[2] / "web"


def test_committed_schema_is_the_apps() -> None:
    """web/openapi.json equals the schema the app serves (a route or model changed without
    regenerating the console's client fails here)."""
    committed = (WEB / "openapi.json").read_text()
    assert committed == schema_text(), "web/openapi.json is stale: run ./scripts/console-client.sh"


def test_committed_types_are_generated_from_the_schema(tmp_path: Path) -> None:
    """web/src/api/schema.d.ts is openapi-typescript's output for web/openapi.json."""
    tool = WEB / "node_modules" / ".bin" / "openapi-typescript"
    if shutil.which("node") is None or not tool.exists():
        pytest.skip("node or web/node_modules missing: ./scripts/setup.sh --test installs them when npm is present")
    out = tmp_path / "schema.d.ts"
    subprocess.run([str(tool), str(WEB / "openapi.json"), "-o", str(out)], cwd=WEB, check=True,
                   capture_output=True, timeout=120)
    assert out.read_text() == (WEB / "src" / "api" / "schema.d.ts").read_text(), \
        "web/src/api/schema.d.ts is stale: run ./scripts/console-client.sh"
