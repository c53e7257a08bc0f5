"""`python -m guetteur.api.schema [FILE]`: the API's OpenAPI schema as JSON, without a server.

The console's typed client (`web/src/api/schema.d.ts`) is generated from this file
(`web/openapi.json`); `tests/web/test_client_fresh.py` fails when the committed copy differs
from what the app declares.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
from pydantic import SecretStr

from guetteur.api.app import create_app
from guetteur.api.state import AppState
from guetteur.config import AuthSettings, Settings


def openapi_schema() -> dict[str, Any]:
    """The schema the running app serves at /api/openapi.json (no database, no files written)."""
    settings = Settings(auth=AuthSettings(jwt_secret=SecretStr("schema-export-" + "x" * 32)))
    schema: dict[str, Any] = create_app(AppState(settings, None, None)).openapi()
    return schema


def schema_text() -> str:
    return orjson.dumps(openapi_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


def main(argv: list[str]) -> None:
    text = schema_text()
    if argv:
        Path(argv[0]).write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
