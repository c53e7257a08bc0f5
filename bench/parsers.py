"""Parser throughput per family on the shared samples, with and without a hint.

    python bench/parsers.py [--lines 200000] [--only linux/auth,web/access] [--gc-freeze]

Each row's sample lines (`../shared/data/logs`, or synthetic lines for formats with no
public sample) are repeated to `--lines` records, fed to `parse_batch` in batches of
5,000 like the pipeline does, and timed on CPU time of this process (the machine is
shared: wall time would measure the neighbours). "hint" gives the parser name,
"auto" lets auto-detection find it; the difference is the detection overhead.
Rows are one list (`ROWS`): add a family by adding a line. A row whose parser is not
registered prints "missing".
"""

from __future__ import annotations

import argparse
import gc
import glob
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from guetteur.model import RawRecord
from guetteur.parse import PARSERS, flush_pending, parse_batch

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "logs"
BATCH = 5_000


def lines_of(*patterns: str) -> Callable[[], list[str]]:
    def load() -> list[str]:
        out: list[str] = []
        for pattern in patterns:
            for path in sorted(glob.glob(str(DATA / pattern))):
                text = Path(path).read_text(encoding="utf-8", errors="replace")
                out.extend(line for line in text.split("\n") if line.strip() and not line.startswith("#"))
        return out
    return load


def wazuh(*names: str) -> Callable[[], list[str]]:
    def load() -> list[str]:
        out: list[str] = []
        for name in names:
            path = DATA / "wazuh-ruleset-tests" / "tests" / f"{name}.ini"
            if path.exists():
                for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
                    key, sep, value = raw.partition("=")
                    if sep and key.strip().startswith("log "):
                        out.append(value.strip())
        return out
    return load


def combine(*loaders: Callable[[], list[str]]) -> Callable[[], list[str]]:
    return lambda: [line for load in loaders for line in load()]


def json_events(pattern: str) -> Callable[[], list[str]]:
    def load() -> list[str]:
        out: list[str] = []
        for path in sorted(glob.glob(str(DATA / pattern))):
            if not path.endswith("-expected.json"):
                out.extend(json.dumps(e) for e in json.loads(Path(path).read_text())["events"])
        return out
    return load


def synthetic(kind: str) -> Callable[[], list[str]]:
    """Formats with no public sample: lines shaped like the real thing."""
    def load() -> list[str]:
        out: list[str] = []
        for i in range(500):
            ip = f"10.{i % 7}.{i % 13}.{i % 250 + 1}"
            if kind == "python":
                level = ("INFO", "WARNING", "ERROR", "DEBUG")[i % 4]
                out.append(f"2026-04-06 16:21:{i % 60:02d},{i % 1000:03d} - app.api - {level} - "
                           f"patient record {i} read by user{i % 9} from {ip}")
                out.append(f"2026-04-06 16:21:{i % 60:02d},{i % 1000:03d} - {level} - request {i} done")
            elif kind == "uvicorn":
                out.append(f'INFO:     {ip}:{50000 + i} - "GET /api/patients/{i} HTTP/1.1" {(200, 404, 401)[i % 3]} OK')
            elif kind == "json":
                out.append(json.dumps({"timestamp": f"2026-04-06T16:21:{i % 60:02d}.{i % 1000:03d}Z",
                                       "level": ("info", "warn", "error")[i % 3], "msg": f"login attempt {i}",
                                       "user": f"user{i % 9}", "client_ip": ip, "request_id": f"r{i}",
                                       "duration_ms": i % 97}))
            elif kind == "journald":
                out.append(json.dumps({"__REALTIME_TIMESTAMP": str(1712345678000000 + i * 1000), "_HOSTNAME": "web1",
                                       "SYSLOG_IDENTIFIER": "sshd", "_PID": str(1000 + i), "PRIORITY": "6",
                                       "_BOOT_ID": "b" * 32, "_TRANSPORT": "syslog",
                                       "MESSAGE": f"Failed password for user{i % 9} from {ip} port {40000 + i} ssh2"}))
            elif kind == "pgcsv":
                out.append(f'2026-04-06 16:21:{i % 60:02d}.{i % 1000:03d} UTC,"user{i % 9}","db",{4000 + i},'
                           f'"{ip}:{50000 + i}",66112233.{i:x},1,"authentication",2026-04-06 16:21:00 UTC,3/{i},0,'
                           f'FATAL,28P01,"password authentication failed for user ""user{i % 9}""",'
                           f'"Connection matched pg_hba.conf line 99",,,,,,,,"","client backend",,0')
        return out
    return load


# (row label, parser hint, loader). The Windows/network author adds their rows here.
ROWS: list[tuple[str, str, Callable[[], list[str]]]] = [
    ("linux/auth", "linux_auth", combine(
        lines_of("crowdsec-hub/tests/ssh*/*.log", "crowdsec-hub/tests/sshd*/*.log", "crowdsec-hub/tests/syslog-logs/*.log",
                 "elastic-fixtures/from-elastic-package/parallel/system/data_stream/auth/_dev/test/pipeline/*.log"),
        wazuh("sshd", "pam", "su", "sudo"))),
    ("linux/syslog", "syslog", lines_of(
        "elastic-fixtures/from-elastic-package/parallel/system/data_stream/syslog/_dev/test/pipeline/test-*.log")),
    ("linux/auditd", "auditd", lines_of("security-datasets/atomic/linux/*/*.log", "crowdsec-hub/tests/auditd-*/*.log")),
    ("linux/journald", "journald", synthetic("journald")),
    ("application/python", "python_logging", synthetic("python")),
    ("application/uvicorn", "uvicorn_access", synthetic("uvicorn")),
    ("application/json", "json_lines", synthetic("json")),
    ("web/access", "web_access", lines_of("web-access/elastic-examples-apache_logs/apache_logs")),
    ("web/error", "apache_error", lines_of(
        "elastic-fixtures/from-elastic-package/parallel/apache/data_stream/error/_dev/test/pipeline/*.log")),
    ("web/nginx-error", "nginx_error", lines_of("crowdsec-hub/tests/nginx-http-generic-bf/*.log")),
    ("database/postgresql", "postgresql", lines_of("crowdsec-hub/tests/pgsql-*/*.log")),
    ("database/postgresql-csv", "postgresql_csv", synthetic("pgcsv")),
    ("database/mysql", "mysql", lines_of("crowdsec-hub/tests/mysql-logs/*.log", "crowdsec-hub/tests/mariadb-*/*.log")),
    ("windows/winlogbeat", "winlogbeat", json_events(
        "elastic-fixtures/from-elastic-package/parallel/system/data_stream/security/_dev/test/pipeline/*.json")),
    ("windows/flat-json", "windows_flat", lines_of("security-datasets/atomic/windows/*/*.json")),
    ("windows/xml", "windows_xml", lines_of("crowdsec-hub/tests/windows-*/*.log")),
    ("network/zeek-tsv", "zeek_tsv", lambda: [line for path in sorted(glob.glob(str(
        DATA / "security-datasets/compound/LSASS_campaign_01/zeek/conn.log")))
        for line in Path(path).read_text().splitlines() if line]),
    ("network/cisco_asa", "cisco_asa", lines_of(
        "elastic-fixtures/from-elastic-package/false_positives/cisco_asa/data_stream/log/_dev/test/pipeline/*.log")),
    ("network/netfilter", "netfilter", lines_of("crowdsec-hub/tests/iptables-*/*.log")),
    ("network/pfsense", "pfsense", lines_of("crowdsec-hub/tests/pf-*/*.log", "crowdsec-hub/tests/pfsense-rfc5424*/*.log")),
    ("network/suricata", "suricata", lines_of("crowdsec-hub/tests/suricata-logs-evelog/*.log")),
    ("network/zeek-json", "zeek", lines_of("security-datasets/compound/apt29/day1/zeek/*conn*.log")),
]


def measure(lines: list[str], total: int, hint: str | None) -> float:
    """Lines per CPU second for `total` records built from `lines`."""
    received = time.time()
    gc.collect()
    elapsed = 0.0
    for start in range(0, total, BATCH):
        # records are built outside the timed region (that is the source's work), one batch
        # at a time as a worker receives them; the events are dropped as a writer would
        batch = [RawRecord(lines[i % len(lines)], received, "file", hint, "/var/log/bench.log")
                 for i in range(start, min(start + BATCH, total))]
        begin = time.process_time()
        parse_batch(batch)
        elapsed += time.process_time() - begin
        del batch
    flush_pending()
    return total / elapsed if elapsed else float("inf")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200_000, help="records per measurement")
    parser.add_argument("--only", default="", help="comma-separated row labels")
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() first, as a long-running worker would")
    args = parser.parse_args(argv)
    if not DATA.exists():
        print(f"no sample data at {DATA}", file=sys.stderr)
        return 1
    wanted = {w for w in args.only.split(",") if w}
    if args.gc_freeze:
        gc.freeze()
    print(f"{'family/format':<26} {'hint':<16} {'sample':>7} {'with hint':>12} {'auto-detect':>12}   lines/s (CPU)")
    for label, hint, load in ROWS:
        if wanted and label not in wanted:
            continue
        if hint not in PARSERS:
            print(f"{label:<26} {hint:<16} {'':>7} {'missing':>12}")
            continue
        lines = load()
        if not lines:
            print(f"{label:<26} {hint:<16} {0:>7} {'no sample':>12}")
            continue
        hinted = measure(lines, args.lines, hint)
        auto = measure(lines, args.lines, None)
        print(f"{label:<26} {hint:<16} {len(lines):>7} {hinted:>12,.0f} {auto:>12,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
