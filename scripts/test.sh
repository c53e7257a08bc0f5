#!/usr/bin/env bash
# Installs the test dependencies and runs the whole suite: ruff, mypy, the console's Vitest, pytest.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
.venv/bin/ruff check src tests bench
.venv/bin/mypy
if command -v npm >/dev/null; then (cd web && npm test --silent); fi  # the console's unit tests (Vitest)
.venv/bin/python -m pytest "$@"
