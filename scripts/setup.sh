#!/usr/bin/env bash
# Installs Guetteur into ./.venv (creating it), with the test tools when called with --test.
# Idempotent: a second run only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Guetteur needs Python >= 3.11 (found: $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  else
    echo "please install the python3-venv package" >&2
    exit 1
  fi
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
extra=""
[ "${1:-}" = "--test" ] && extra="[test]"
.venv/bin/python -m pip install -q -e ".${extra}" 2>&1 | grep -v "is ignored" || true
.venv/bin/python -c 'import guetteur' # fail loudly when the install did not work
# The hot modules are compiled with mypyc when a C compiler is found (setup.py);
# GUETTEUR_PURE_PYTHON=1 skips it. Say which build this is, and why when it is pure Python.
.venv/bin/python -m guetteur.compiled

# The web console (web/): built into the package (guetteur/console) when npm is here; without
# npm the API still runs and / says how to build it (docs/console.md).
if command -v npm >/dev/null; then
  # npm ci only when package-lock.json changed since the last install (idempotent, fast)
  if [ ! web/node_modules/.package-lock.json -nt web/package-lock.json ]; then
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
  fi
  (cd web && npm run build --silent >/dev/null) && echo "web console built (served at /)"
else
  echo "npm not found: the web console is NOT built (the API works; install Node.js 20+ and npm, then run this again)" >&2
fi
# The browser tests (tests/web) drive Debian's Chromium; Playwright's own download is not used.
if [ "${1:-}" = "--test" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: the browser tests (tests/web) will be skipped; install Debian's chromium package" >&2
  fi
fi
# The official Node Elasticsearch client for the /es tests (tests/e2e/test_es_clients_sigkill.py;
# skipped without it): test-only, in its own folder, at the versions of its package-lock.json.
if [ "${1:-}" = "--test" ]; then
  if command -v npm >/dev/null; then
    if [ ! tests/clients/node/node_modules/.package-lock.json -nt tests/clients/node/package-lock.json ]; then
      (cd tests/clients/node && npm ci --no-audit --no-fund --loglevel=error)
    fi
  else
    echo "npm not found: the Node Elasticsearch client test will be skipped" >&2
  fi
  # a real shipper's Elasticsearch output (tests/e2e/test_rsyslog_elasticsearch.py)
  if [ ! -e /usr/lib/x86_64-linux-gnu/rsyslog/omelasticsearch.so ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq rsyslog-elasticsearch >/dev/null
    else
      echo "rsyslog-elasticsearch is missing: its /es test will be skipped" >&2
    fi
  fi
  # a real sender of syslog over TLS, RFC 5425 (tests/e2e/test_rsyslog_tls.py)
  if [ ! -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq rsyslog rsyslog-gnutls >/dev/null
    else
      echo "rsyslog-gnutls is missing: the syslog-over-TLS test with rsyslog will be skipped" >&2
    fi
  fi
fi
