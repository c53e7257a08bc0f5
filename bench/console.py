"""The console's speed from the browser: how long the dashboard and the explorer take until
they are usable over a large store, from the browser's own clock; the live dashboard under a
full-rate stream; and the bundle size.

Usage: python bench/console.py [--events 5000000] [--runs 5] [--data-dir DIR] [--live-lines N]
An embedded PostgreSQL is filled with `--events` events over the last 24 h by bench/search.py's
writer (binary COPY, digest, chain; the pipeline is not the subject). `--data-dir` keeps the
filled cluster there: the next run reuses it and only tops it up with the events of the time
since (same density), `--fill-only` stops after that. `guetteur up` then runs on it, and
Debian's Chromium (Playwright) logs in as an analyst and loads each page `--runs` times after a
warm-up load. Times are milliseconds from the navigation's start, recorded in the page (a
MutationObserver installed before the page's scripts): `ready` is the page usable (dashboard:
its top-hosts and busiest-rules tiles drawn; explorer: the first result row drawn), `count` the
explorer's hit count drawn, `dom_interactive` from Navigation Timing, `scripts_loaded` the last
script's end; and for each API request its start, end and duration (Resource Timing): which
request gates `ready`, and whether any waits for another. Median (and max) over the runs.
`--live-lines N`: then the dashboard stays open while bench/ingest.py sends N lines as fast as
the machine takes them (syslog TCP and HTTP) to this Guetteur; the page records each counters
message received, each change of the rate it shows, long tasks (PerformanceObserver) and frame
gaps (requestAnimationFrame): updates per second, whether each shown rate is the one of the last
counters received, streamed totals, long tasks and the longest frame gap. Those events stay in
a `--data-dir` store (timestamped now): filtered searches of a later run see them.
Bundle: total and first page (the entry and what index.html preloads), gzipped.
Needs the console built (scripts/setup.sh). One JSON line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
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
from guetteur.store.writer import EventWriter

sys.path.insert(0, str(Path(__file__).parent))
from search import BATCH, event, fill  # bench/search.py: the same synthetic events

CHROMIUM = "/usr/bin/chromium"
# Marks by page: name -> (CSS selector, regular expression its text must match or None). `ready` is
# the page usable (dashboard: its top-hosts and busiest-rules tiles drawn; explorer: the first result
# row drawn), the other marks come later (explorer: the hit count).
RESULT_ROW = ("[data-testid='results'] [role=row]", None)
HIT_COUNT = ("[data-testid='hit-count']", r"\d")
PAGES: dict[str, tuple[str, dict[str, list[tuple[str, str | None]]]]] = {
    "dashboard": ("/dashboard", {"ready": [("[data-testid='tile-host.name'] a", None),
                                           ("[data-testid='tile-rules'] tr, [data-testid='tile-rules'] p", None)]}),
    "explorer_24h": ("/explorer?start=now-24h&end=now", {"ready": [RESULT_ROW], "count": [HIT_COUNT]}),
    "explorer_query_24h": ("/explorer?q=event.outcome%3Afailure%20and%20host.name%3Aweb-10&start=now-24h&end=now",
                           {"ready": [RESULT_ROW], "count": [HIT_COUNT]}),
}
# Installed before the page's own scripts on every navigation: the first time (performance.now())
# each mark's selectors all match, seen by a MutationObserver (no polling from the bench's side).
MARKS_SCRIPT = """
(() => {
  const pages = %s;
  const entry = Object.values(pages).find(([path]) => path === location.pathname + location.search);
  window.__marks = {};
  window.__longtasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push([Math.round(e.startTime), Math.round(e.duration)]);
  }).observe({ type: "longtask", buffered: true });
  if (!entry) return;
  const wanted = Object.entries(entry[1]);
  const matches = ([selector, text]) => [...document.querySelectorAll(selector)]
    .some((e) => text === null || new RegExp(text).test(e.textContent || ""));
  const check = () => {
    for (const [name, parts] of wanted) {
      if (!(name in window.__marks) && parts.every(matches)) window.__marks[name] = performance.now();
    }
    if (Object.keys(window.__marks).length === wanted.length) observer.disconnect();
  };
  const observer = new MutationObserver(check);
  document.addEventListener("DOMContentLoaded", () => {
    observer.observe(document.body, { childList: true, subtree: true, characterData: true });
    check();
  });
})();
"""
# The live dashboard under a full-rate stream: every counters message as received (wrapped
# WebSocket), every change of the rate text, long tasks, and frame gaps (requestAnimationFrame).
LIVE_SCRIPT = """
(() => {
  if (location.pathname !== "/dashboard") return;
  const live = window.__live = { counters: [], shown: [], longtasks: [], gaps: [], frames: 0 };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        const m = JSON.parse(String(e.data));
        if (m.type === "counters") live.counters.push([performance.now(), m.counters.in ?? 0, m.counters.stored, m.counters.skipped ?? 0, m.counters.seconds ?? 1]);
      });
    }
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) live.longtasks.push([e.startTime, e.duration]);
  }).observe({ type: "longtask", buffered: true });
  let last = performance.now();
  const frame = (now) => {
    live.frames += 1;
    if (now - last > 50) live.gaps.push([last, now - last]);
    last = now;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  document.addEventListener("DOMContentLoaded", () => {
    new MutationObserver(() => {
      const rate = document.querySelector("[data-testid='rate']");
      const text = rate ? rate.textContent : null;
      if (text && (live.shown.length === 0 || live.shown[live.shown.length - 1][1] !== text)) live.shown.push([performance.now(), text]);
    }).observe(document.body, { childList: true, subtree: true, characterData: true });
  });
})();
"""


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


def start(dsn: str, data: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, str], int]:
    port, syslog_port = free_port(), free_port()
    env = {**os.environ, "GUETTEUR_DATA_DIR": str(data), "GUETTEUR_DATABASE_URL": dsn, "GUETTEUR_API__PORT": str(port),
           "GUETTEUR_SYSLOG__HOST": "127.0.0.1", "GUETTEUR_SYSLOG__TCP_PORT": str(syslog_port),
           "GUETTEUR_SYSLOG__UDP_PORT": str(free_port()), "GUETTEUR_SYSLOG__TLS_PORT": "0"}
    log = (data / "up.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "guetteur", "up"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return proc, base, env, syslog_port
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"guetteur up did not start: {(data / 'up.log').read_text()[-2000:]}")


def user(dsn: str, data: Path) -> tuple[str, str]:
    name, password = f"bench-{secrets.token_hex(4)}", secrets.token_urlsafe(18)
    env = {**os.environ, "GUETTEUR_DATA_DIR": str(data), "GUETTEUR_DATABASE_URL": dsn}
    subprocess.run([sys.executable, "-m", "guetteur", "users", "create", name, "--role", "analyst", "--password-stdin"],
                   input=password.encode(), env=env, check=True, capture_output=True)
    return name, password


def api_timings(page: Any) -> dict[str, tuple[float, float]]:
    """The page's API requests: address -> (start, end) in ms from the navigation's start."""
    entries = page.evaluate("performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/'))"
                            ".map((e) => [e.name, e.startTime, e.responseEnd])")
    out: dict[str, tuple[float, float]] = {}
    for name, began, ended in entries:
        key = re.sub(r"^https?://[^/]+", "", name)
        key = re.sub(r"(?:&|\?)(?:start|end)=now[^&]*", "", key)
        out.setdefault(key, (float(began), float(ended)))
    return out


def wait_marks(page: Any, count: int, timeout: float = 120) -> None:
    """Until the page has recorded `count` marks (polled from here: the page's CSP forbids the
    string evaluation Playwright's wait_for_function uses; the times come from the page anyway)."""
    deadline = time.monotonic() + timeout
    while page.evaluate("Object.keys(window.__marks || {}).length") < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"{page.url}: marks {page.evaluate('window.__marks')} after {timeout:.0f} s")
        time.sleep(0.1)


def login(context: Any, name: str, password: str) -> Any:
    page = context.new_page()
    page.goto("/")
    page.get_by_label("Nom d'utilisateur").fill(name)
    page.get_by_label(re.compile("^Mot de passe")).fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_test_id("whoami").wait_for(timeout=60_000)
    return page


def measure(browser: Any, base: str, name: str, password: str, runs: int) -> dict[str, Any]:
    """Each page loaded `runs` times after a warm-up load: its marks, DOM interactive and the
    end of each API request (ms from the navigation's start), median and max."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR", base_url=base)
    context.add_init_script(MARKS_SCRIPT % json.dumps(PAGES))
    page = login(context, name, password)
    out: dict[str, Any] = {}
    for label, (path, marks) in PAGES.items():
        seen: dict[str, list[float]] = {}
        requests: dict[str, list[tuple[float, float]]] = {}
        for run in range(runs + 1):  # the first load warms the caches: not counted
            page.goto(path)
            wait_marks(page, len(marks))
            page.wait_for_load_state("networkidle")
            if run == 0:
                continue
            got = page.evaluate("window.__marks")
            nav = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
            for mark in marks:
                seen.setdefault(mark, []).append(float(got[mark]))
            seen.setdefault("dom_interactive", []).append(float(nav["domInteractive"]))
            for key, timing in api_timings(page).items():
                requests.setdefault(key, []).append(timing)
            scripts = page.evaluate("performance.getEntriesByType('resource').filter((e) => e.name.endsWith('.js'))"
                                    ".map((e) => e.responseEnd)")
            seen.setdefault("scripts_loaded", []).append(max(scripts, default=0.0))
            if os.environ.get("BENCH_DEBUG"):
                print(label, page.evaluate("window.__longtasks"), page.evaluate("performance.getEntriesByType('resource').map((e) => [e.name.split('/').pop().slice(0, 40), Math.round(e.startTime), Math.round(e.responseEnd)])"), file=sys.stderr)
            seen.setdefault("script_files", []).append(len(scripts) + 1)  # + the entry, in the navigation's preloads
        figures: dict[str, Any] = {}
        for mark, values in seen.items():
            if mark == "script_files":
                figures[mark] = round(statistics.median(values))
                continue
            figures[f"{mark}_ms_median"] = round(statistics.median(values))
            if mark in marks:
                figures[f"{mark}_ms_max"] = round(max(values))
        figures["requests"] = {key: {"start_ms": round(statistics.median(t[0] for t in timings)),
                                     "end_ms": round(statistics.median(t[1] for t in timings)),
                                     "ms": round(statistics.median(t[1] - t[0] for t in timings))}
                               for key, timings in sorted(requests.items(), key=lambda kv: kv[1][0][0])}
        out[label] = figures
    context.close()
    return out


def shown_numbers(text: str) -> list[int]:
    """The two numbers of the rate text ("reçus 12 345/s · stockés 5 000/s")."""
    return [int(n) for n in re.findall(r"\d+", re.sub(r"(?<=\d)[\s\u202f\u00a0.,](?=\d)", "", text))]


def per_second(counters: list[float]) -> list[int]:
    """What the dashboard shows for one counters message: received and stored per second."""
    seconds = counters[4] if counters[4] > 0 else 1
    return [math.floor(counters[1] / seconds + 0.5), math.floor((counters[2] + counters[3]) / seconds + 0.5)]


def live(browser: Any, base: str, name: str, password: str, env: dict[str, str], syslog_port: int,
         lines: int) -> dict[str, Any]:
    """The dashboard open while bench/ingest.py sends `lines` lines as fast as it can (syslog TCP
    and HTTP, its default mix) to this Guetteur: what the page did during the traffic."""
    keys = {}
    for scope in ("ingest", "read"):
        made = subprocess.run([sys.executable, "-m", "guetteur", "keys", "create", f"bench-{secrets.token_hex(4)}",
                               "--scope", scope], env=env, capture_output=True, text=True, check=True)
        found = re.search(r"gt_[A-Za-z0-9_\-]+", made.stdout + made.stderr)
        if found is None:
            raise SystemExit(f"no key in: {made.stdout}{made.stderr}")
        keys[scope] = found.group()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR", base_url=base)
    context.add_init_script(LIVE_SCRIPT)
    page = login(context, name, password)
    page.goto("/dashboard")
    page.get_by_test_id("stream-state").filter(has_text=re.compile("direct|live", re.I)).wait_for(timeout=60_000)
    sent = subprocess.run([sys.executable, str(Path(__file__).parent / "ingest.py"), "--url", base,
                           "--api-key", keys["ingest"], "--read-key", keys["read"], "--syslog-port", str(syslog_port),
                           "--n", str(lines)], capture_output=True, text=True)
    if sent.returncode != 0:
        raise SystemExit(f"bench/ingest.py failed: {sent.stdout[-2000:]}{sent.stderr[-2000:]}")
    ingest = json.loads(next(line for line in sent.stdout.splitlines() if line.startswith('{"bench"')))
    page.wait_for_timeout(4000)  # the last counters (the hub reads once a second, the page shows once a second)
    data = page.evaluate("window.__live")
    context.close()
    counters = data["counters"]
    busy = [c for c in counters if c[1] or c[2] or c[3]]
    if not busy:
        raise SystemExit("the dashboard received no counters while the traffic ran")
    first, last = busy[0][0], busy[-1][0]
    window_s = (last - first) / 1000 + 1
    longtasks = [d for t, d in data["longtasks"] if first <= t <= last + 1000]
    gaps = [d for t, d in data["gaps"] if first <= t <= last + 1000]
    shown = [(t, text) for t, text in data["shown"] if first <= t <= last + 2000]
    matched = 0
    for t, text in shown:
        before = [c for c in counters if c[0] <= t]
        if before and shown_numbers(text) == per_second(before[-1]):
            matched += 1
    return {
        "lines": lines, "ingest_events_per_s": ingest["events_per_s"], "window_s": round(window_s, 1),
        "counters_received": len(busy),
        "counters_interval_s_median": round(statistics.median(c[4] for c in busy), 2),
        "counters_interval_s_max": round(max(c[4] for c in busy), 2), "updates_shown": len(shown),
        "updates_per_s": round(len(shown) / window_s, 2), "shown_match_last_counters": f"{matched}/{len(shown)}",
        "streamed_in_total": sum(c[1] for c in counters), "streamed_stored_total": sum(c[2] + c[3] for c in counters),
        "max_in_per_s_shown": max((shown_numbers(text)[0] for _, text in shown), default=0),
        "long_tasks": len(longtasks), "long_task_ms_max": round(max(longtasks, default=0)),
        "long_task_ms_total": round(sum(longtasks)), "frame_gap_ms_max": round(max(gaps, default=0)),
    }


def top_up(dsn: str, total: int, filled_at: datetime, now: datetime) -> int:
    """Events for the time since the last fill or top-up, at the fill's density, so that a reused
    store still has `total` events over the last 24 h (the older ones stay). How many written."""
    first = max(0, math.ceil(total * (1 - (now - filled_at).total_seconds() / 86400)))
    writer = EventWriter(dsn)
    try:
        for start_i in range(first, total, BATCH):
            writer.write_batch([event(i, total, now) for i in range(start_i, min(total, start_i + BATCH))])
    finally:
        writer.close()
    return total - first


def prepare(dsn: str, total: int, marker: Path) -> dict[str, Any]:
    """Fill the store, or top up the one filled by an earlier run (`--data-dir`): its figures."""
    now = datetime.now(UTC)
    state = json.loads(marker.read_text()) if marker.exists() else None
    if state is not None and state["events"] == total:
        started = time.perf_counter()
        added = top_up(dsn, total, datetime.fromisoformat(state["filled_at"]), now)
        marker.write_text(json.dumps({**state, "filled_at": now.isoformat()}))
        return {"reused": True, "top_up_events": added, "top_up_s": round(time.perf_counter() - started, 1)}
    if state is not None:
        raise SystemExit(f"{marker.parent} holds {state['events']} events, not --events {total}: another --data-dir")
    started = time.perf_counter()
    rate = fill(dsn, total, now)
    marker.write_text(json.dumps({"events": total, "filled_at": now.isoformat()}))
    return {"fill_s": round(time.perf_counter() - started, 1), "fill_rate": round(rate)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", type=Path,
                        help="keep the filled cluster here and reuse it on the next run (topped up to now)")
    parser.add_argument("--live-lines", type=int, default=0,
                        help="then keep the dashboard open while bench/ingest.py sends this many lines at full rate")
    parser.add_argument("--fill-only", action="store_true", help="fill (or top up) the --data-dir store and stop")
    args = parser.parse_args()
    if not args.fill_only and (not (CONSOLE_DIR / "index.html").exists() or not Path(CHROMIUM).exists()):
        raise SystemExit("needs the built console (scripts/setup.sh) and /usr/bin/chromium")
    if args.fill_only and args.data_dir is None:
        raise SystemExit("--fill-only needs --data-dir")
    kept = args.data_dir is not None
    tmp = args.data_dir.resolve() if kept else Path(tempfile.mkdtemp(prefix="guetteur-bench-console-"))
    tmp.mkdir(parents=True, exist_ok=True)
    server = EmbeddedPostgres.start(tmp / "pgdata", cleanup_mode="stop" if kept else "delete")
    proc = None
    try:
        dsn = ensure_database(server.dsn, "bench_console")
        migrate(dsn)
        filled = prepare(dsn, args.events, tmp / "filled.json")
        if args.fill_only:
            print(json.dumps({"events": args.events, **filled}))
            return
        (tmp / "data").mkdir(exist_ok=True)
        name, password = user(dsn, tmp / "data")
        proc, base, env, syslog_port = start(dsn, tmp / "data")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            figures = measure(browser, base, name, password, args.runs) if args.runs else {}
            if args.live_lines:
                figures["live_dashboard"] = live(browser, base, name, password, env, syslog_port, args.live_lines)
            browser.close()
        print(json.dumps({"events": args.events, **filled, "runs": args.runs, "load_average": os.getloadavg()[0],
                          **figures, "bundle": bundle()}))
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=120)
        server.stop()
        if not kept:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
