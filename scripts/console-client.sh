#!/usr/bin/env bash
# Regenerates the web console's API client from the Python app (no server needed):
# web/openapi.json, then web/src/api/schema.d.ts. tests/web/test_client_fresh.py fails when
# either is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m guetteur.api.schema web/openapi.json
cd web
[ -d node_modules ] || npm ci --no-audit --no-fund
npx openapi-typescript openapi.json -o src/api/schema.d.ts
