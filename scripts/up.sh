#!/usr/bin/env bash
# Quick start: install Guetteur and start it (embedded PostgreSQL, API on :8000, syslog on :5514).
# Extra arguments go to `guetteur up` (e.g. --demo to send demo traffic).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/guetteur up "$@"
