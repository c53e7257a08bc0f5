"""The console's speed from the browser: how long the dashboard and the explorer take until
they show their data over a large store, from the browser's own clock; and the bundle size.

Usage: python bench/console.py [--events 5000000] [--runs 5]
An embedded PostgreSQL is started in a temp dir and filled with `--events` events over the
last 24 h by bench/search.py's writer (binary COPY, digest, chain; the pipeline is not the
subject); `guetteur up` then runs on it, and Debian's Chromium (Playwright) logs in as an
analyst and loads each page `--runs` times. Figures, milliseconds from the navigation's start
(`performance.now()`, Navigation Timing): `dom_interactive`, and `ready`: for the dashboard,
the first row of the top-hosts tile and of the busiest-rules tile drawn; for the explorer
over 24 h, the first result row and the hit count drawn (its slowest search). Median and max.
Needs the console built (scripts/setup.sh). One JSON line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from guetteur.api.console import CONSOLE_DIR
from guetteur.store.database import ensure_database
from guetteur.store.embedded import EmbeddedPostgres
from guetteur.store.migrate import migrate

sys.path.insert(0, str(Path(__file__).parent))
from search import fill  # bench/search.py: the same synthetic events

CHROMIUM = "/usr/bin/chromium"
PAGES = {
    "dashboard": ("/dashboard", ["[data-testid='tile-host.name'] a", "[data-testid='tile-rules'] tr, [data-testid='tile-rules'] p"]),
    "explorer_24h": ("/explorer?start=now-24h&end=now", ["[data-testid='results'] [role=row]", "[data-testid='hit-count']:text-matches('\\\\d')"]),
    "explorer_query_24h": ("/explorer?q=event.outcome%3Afailure%20and%20host.name%3Aweb-10&start=now-24h&end=now",
                           ["[data-testid='results'] [role=row]", "[data-testid='hit-count']:text-matches('\\\\d')"]),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bundle() -> dict[str, int]:
    files = [p for p in CONSOLE_DIR.rglob("*") if p.is_file()]
    initial = re.findall(r'(?:src|href)="/(assets/[^"]+)"', (CONSOLE_DIR / "index.html").read_text())
    return {
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "gzip_bytes": sum(len(gzip.compress(p.read_bytes())) for p in files),
        "initial_gzip_bytes": sum(len(gzip.compress((CONSOLE_DIR / a).read_bytes())) for a in initial),
    }


def start(dsn: str, data: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "GUETTEUR_DATA_DIR": str(data), "GUETTEUR_DATABASE_URL": dsn, "GUETTEUR_API__PORT": str(port),
           "GUETTEUR_SYSLOG__HOST": "127.0.0.1", "GUETTEUR_SYSLOG__TCP_PORT": str(free_port()),
           "GUETTEUR_SYSLOG__UDP_PORT": str(free_port()), "GUETTEUR_PIPELINE__WORKERS": "1"}
    log = (data / "up.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "guetteur", "up"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"guetteur up did not start: {(data / 'up.log').read_text()[-2000:]}")


def user(dsn: str, data: Path) -> tuple[str, str]:
    name, password = "bench-analyst", secrets.token_urlsafe(18)
    env = {**os.environ, "GUETTEUR_DATA_DIR": str(data), "GUETTEUR_DATABASE_URL": dsn}
    subprocess.run([sys.executable, "-m", "guetteur", "users", "create", name, "--role", "analyst", "--password-stdin"],
                   input=password.encode(), env=env, check=True, capture_output=True)
    return name, password


def measure(base: str, name: str, password: str, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR", base_url=base)
        page = context.new_page()
        page.goto("/")
        page.get_by_label("Nom d'utilisateur").fill(name)
        page.get_by_label(re.compile("^Mot de passe")).fill(password)
        page.get_by_role("button", name="Se connecter").click()
        page.get_by_test_id("whoami").wait_for(timeout=60_000)
        for label, (path, selectors) in PAGES.items():
            ready: list[float] = []
            interactive: list[float] = []
            for _ in range(runs + 1):  # the first load warms the caches: not counted
                page.goto(path)
                for selector in selectors:
                    page.wait_for_selector(selector, timeout=120_000)
                now = float(page.evaluate("performance.now()"))
                nav = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
                ready.append(now)
                interactive.append(float(nav["domInteractive"]))
            ready, interactive = ready[1:], interactive[1:]
            out[label] = {"ready_ms_median": round(statistics.median(ready)), "ready_ms_max": round(max(ready)),
                          "dom_interactive_ms_median": round(statistics.median(interactive))}
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not (CONSOLE_DIR / "index.html").exists() or not Path(CHROMIUM).exists():
        raise SystemExit("needs the built console (scripts/setup.sh) and /usr/bin/chromium")
    tmp = Path(tempfile.mkdtemp(prefix="guetteur-bench-console-"))
    server = EmbeddedPostgres.start(tmp / "pgdata", cleanup_mode="delete")
    proc = None
    try:
        dsn = ensure_database(server.dsn, "bench_console")
        migrate(dsn)
        started = time.perf_counter()
        rate = fill(dsn, args.events, datetime.now(UTC))
        fill_s = time.perf_counter() - started
        (tmp / "data").mkdir()
        name, password = user(dsn, tmp / "data")
        proc, base = start(dsn, tmp / "data")
        figures = measure(base, name, password, args.runs)
        print(json.dumps({"events": args.events, "fill_s": round(fill_s, 1), "fill_rate": round(rate),
                          "runs": args.runs, **figures, "bundle": bundle()}))
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=120)
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
