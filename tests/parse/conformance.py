"""Conformance of our parsers against public ground truth (reusable: the tests, the
benchmark and other parser authors import it).

Elastic fixtures (`../shared/data/logs/elastic-fixtures`, elastic-package "pipeline
test" convention): every raw event of a fixture is parsed with the hint of its data
stream (`FIXTURES`), and each expected ECS document is compared with ours field by
field (flattened leaf values). The score of a data stream or family is the share of
expected leaf values we produce with the same value.

Per-fixture config is honoured: `multiline.first_line_pattern` joins lines;
`fields` are values Elastic's test runner injected before the pipeline ran, so they are
not ours to produce and are ignored (`event.timezone` / `_tmp.tz_offset` set the zone
for zone-less timestamps instead, as they do for Elastic; an injected `@timestamp` also
makes `event.created` ignored, because Elastic's pipelines copy it there); fields listed
in `dynamic_fields` only need to be present.

Ignored everywhere (Elastic-side enrichment or test plumbing, not parsing):
`*.geo.*`, `*.as.*` (GeoIP/ASN), `user_agent.*` except `user_agent.original` (their UA
database), `event.ingested`, `network.community_id`, `ecs.version`, `related.*`,
`agent.*`, `input.*`, `log.offset`, `_tmp.*`, `tags`, and empty objects.

Value comparison: `@timestamp` and other time fields as instants (any ISO 8601 zone);
lists as multisets, and a one-element list equals its only element (Elastic's auditd
writes `event.action: ["deleted"]`); `http.request.method` case-insensitively (the
older nginx pipeline lower-cased it).

Samples without expected documents (CrowdSec hub tests, Wazuh ruleset tests) are only
checked to be parsed (not tagged `unparsed`), by auto-detection (no hint).
"""

from __future__ import annotations

import configparser
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import yaml

from guetteur import ecs
from guetteur.model import RawRecord
from guetteur.parse import PARSERS, flush_pending, parse_batch, parse_record
from guetteur.parse.context import CONTEXT, set_timezone
from guetteur.parse.timefmt import parse_iso, parse_tz

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "logs"
ELASTIC = DATA / "elastic-fixtures"

# data stream directory (relative to elastic-fixtures, up to the data stream) -> (family, hint)
FIXTURES: dict[str, tuple[str, str]] = {
    "from-elastic-package/parallel/system/data_stream/auth": ("linux", "linux_auth"),
    "from-elastic-package/parallel/system/data_stream/syslog": ("linux", "syslog"),
    "from-elastic-integrations/auditd/log": ("linux", "auditd"),
    "from-elastic-package/parallel/apache/data_stream/access": ("web", "apache_access"),
    "from-elastic-package/parallel/apache/data_stream/error": ("web", "apache_error"),
    "from-elastic-package/parallel/nginx/data_stream/access": ("web", "nginx_access"),
    "from-elastic-package/parallel/nginx/data_stream/error": ("web", "nginx_error"),
    "from-elastic-package/parallel/system/data_stream/security": ("windows", "winlogbeat"),
    "from-elastic-package/false_positives/cisco_asa/data_stream/log": ("network", "cisco_asa"),
    "from-elastic-integrations/iptables/log": ("network", "netfilter"),
    "from-elastic-integrations/pfsense/log": ("network", "pfsense"),
    "from-elastic-integrations/suricata/eve": ("network", "suricata"),
    "from-elastic-integrations/zeek/http": ("network", "zeek"),
}
TARGET = 0.90
# Families whose score the test asserts. The Linux/web parsers' author asserts these;
# the Windows/network parsers' author adds "windows" and "network" when ready.
ASSERTED_FAMILIES: list[str] = ["linux", "web", "windows", "network"]

IGNORED_EXACT = frozenset({"event.ingested", "network.community_id", "ecs.version", "log.offset", "tags"})
IGNORED_PREFIX = ("related.", "agent.", "input.", "_tmp.", "ecs.")
IGNORED_PART = (".geo.", ".as.")
TIME_FIELDS = frozenset({"@timestamp", "event.created", "event.start", "event.end"})


@dataclass
class FieldResult:
    expected: int = 0
    matched: int = 0
    misses: list[tuple[str, str, Any, Any]] = field(default_factory=list)  # (fixture, field, expected, got)


@dataclass
class StreamResult:
    stream: str
    family: str
    hint: str
    docs: int = 0
    unparsed: int = 0
    fields: FieldResult = field(default_factory=FieldResult)
    missing_parser: bool = False

    @property
    def score(self) -> float:
        return self.fields.matched / self.fields.expected if self.fields.expected else 1.0


def _flatten(doc: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if value:
                out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def ignored(name: str) -> bool:
    if name in IGNORED_EXACT or name.startswith(IGNORED_PREFIX):
        return True
    if any(part in f".{name}." for part in IGNORED_PART):
        return True
    return name.startswith("user_agent.") and name != "user_agent.original"


def _instant(value: Any) -> datetime | None:
    return parse_iso(value) if isinstance(value, str) else None


def same_value(name: str, expected: Any, got: Any) -> bool:
    if name in TIME_FIELDS:
        a, b = _instant(expected), _instant(got)
        return a is not None and b is not None and a == b
    if isinstance(expected, list) and len(expected) == 1 and not isinstance(got, list):
        expected = expected[0]
    if isinstance(got, list) and len(got) == 1 and not isinstance(expected, list):
        got = got[0]
    if isinstance(expected, list) and isinstance(got, list):
        return sorted(map(repr, expected)) == sorted(map(repr, got))
    if name == "http.request.method" and isinstance(expected, str) and isinstance(got, str):
        return expected.lower() == got.lower()
    return bool(expected == got and type(expected) is type(got))


def _config(path: Path) -> dict:
    merged: dict = {}
    for candidate in (path.parent / "test-common-config.yml", path.parent / f"{path.name}-config.yml"):
        if candidate.exists():
            loaded = yaml.safe_load(candidate.read_text()) or {}
            for key, value in loaded.items():
                if isinstance(value, dict) and isinstance(merged.get(key), dict):
                    merged[key] = {**merged[key], **value}
                else:
                    merged[key] = value
    return merged


def raw_events(path: Path, config: dict) -> list[str]:
    """The raw records of a fixture, multiline pattern applied (the first line always starts one)."""
    if path.suffix == ".json":
        return [orjson.dumps(e).decode() for e in orjson.loads(path.read_bytes())["events"]]
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    pattern = (config.get("multiline") or {}).get("first_line_pattern")
    if not pattern:
        return lines
    start = re.compile(pattern)
    events: list[str] = []
    for line in lines:
        if events and not start.search(line):
            events[-1] += "\n" + line
        else:
            events.append(line)
    return events


def fixture_pairs(stream_dir: Path) -> Iterator[tuple[Path, Path]]:
    for expected in sorted(stream_dir.rglob("*-expected.json")):
        raw = expected.with_name(expected.name.removesuffix("-expected.json"))
        if raw.exists():
            yield raw, expected


def _zone(config: dict) -> Any:
    injected = _flatten(config.get("fields") or {})
    for key in ("event.timezone", "_tmp.tz_offset"):
        if key in injected:
            return parse_tz(str(injected[key]))
    return None


def run_stream(stream: str, family: str, hint: str) -> StreamResult:
    result = StreamResult(stream, family, hint)
    if hint not in PARSERS:
        result.missing_parser = True
        return result
    saved = CONTEXT.tz
    try:
        for raw_path, expected_path in fixture_pairs(ELASTIC / stream):
            config = _config(raw_path)
            zone = _zone(config)
            set_timezone(zone if zone is not None else saved)
            injected = set(_flatten(config.get("fields") or {}))
            if "@timestamp" in injected:
                injected.add("event.created")
            dynamic = set((config.get("dynamic_fields") or {}).keys())
            expected_docs = orjson.loads(expected_path.read_bytes())["expected"]
            raws = raw_events(raw_path, config)
            received = time.time()
            for index, expected in enumerate(expected_docs):
                result.docs += 1
                got: dict = {}
                if index < len(raws):
                    got = parse_record(RawRecord(raws[index], received, "file", hint=hint))
                if "unparsed" in (got.get("tags") or []):
                    result.unparsed += 1
                flat_got = _flatten(got)
                for name, value in _flatten(expected).items():
                    if ignored(name) or name in injected:
                        continue
                    result.fields.expected += 1
                    if name in dynamic:
                        ok = name in flat_got
                    else:
                        ok = name in flat_got and same_value(name, value, flat_got[name])
                    if ok:
                        result.fields.matched += 1
                    else:
                        result.fields.misses.append((raw_path.name, name, value, flat_got.get(name)))
    finally:
        set_timezone(saved)
    return result


def run_elastic() -> list[StreamResult]:
    return [run_stream(stream, family, hint) for stream, (family, hint) in FIXTURES.items()]


def family_scores(results: list[StreamResult]) -> dict[str, tuple[int, int, bool]]:
    """family -> (matched, expected, every parser present)."""
    totals: dict[str, list] = defaultdict(lambda: [0, 0, True])
    for r in results:
        t = totals[r.family]
        t[0] += r.fields.matched
        t[1] += r.fields.expected
        t[2] = t[2] and not r.missing_parser
    return {k: (v[0], v[1], v[2]) for k, v in totals.items()}


def format_table(results: list[StreamResult]) -> str:
    lines = [f"{'data stream':<62} {'hint':<14} {'docs':>5} {'unparsed':>8} {'fields':>7} {'score':>7}"]
    for r in results:
        name = r.stream.split("/", 1)[1].replace("/data_stream/", "/").replace("parallel/", "")
        if r.missing_parser:
            lines.append(f"{name:<62} {r.hint:<14} {'':>5} {'':>8} {'':>7} {'missing':>7}")
        else:
            lines.append(f"{name:<62} {r.hint:<14} {r.docs:>5} {r.unparsed:>8} {r.fields.expected:>7} "
                         f"{r.score:>7.1%}")
    lines.append("")
    for family, (matched, expected, present) in sorted(family_scores(results).items()):
        share = matched / expected if expected else 0.0
        state = "" if present else " (some parsers missing)"
        lines.append(f"family {family:<10} {matched:>5}/{expected:<5} {share:>7.1%}{state}")
    return "\n".join(lines)


# -- samples without expected documents ----------------------------------------------------

# CrowdSec hub test directory -> family (only the families parsed in this repository)
CROWDSEC: dict[str, str] = {
    **{name: "linux" for name in (
        "sshd-logs", "sshd-success-logs", "sshd-invalid-bf", "ssh-bf", "ssh-slow-bf", "ssh-time-based-bf",
        "sshd-refused-conn", "sshd-bad-keyexchange-bf", "opnsense-sshd", "syslog-logs", "CVE-2021-4034",
        "CVE-2023-4911", "auditd-logs", "auditd-base64-exec", "auditd-postexploit-exec-from-net",
        "auditd-postexploit-rm", "auditd-suid-crash", "dovecot-logs", "postfix-logs", "smb-bf",
        "pfsense-gui-auth")},
    **{name: "web" for name in (
        "nginx_http-logs", "apache2-logs", "modsecurity-logs-nginx", "nginx-http-sqli-probing",
        "nginx-http-xss-probing", "nginx-http-path-traversal", "nginx-http-sensitive-files",
        "nginx-http-backdoor", "nginx-bad-user-agent", "nginx-http-generic-bf", "nginx-cve-2021-41773",
        "apache-cve-2021-41773", "apache_log4j2_cve-2021-44228", "apache-http-probing",
        "apache2-http-sensitive-files", "http-cve-probing", "http-bf-wordpress-bf", "http-wordpress-scan",
        "http-admin-interface-probing", "http-generic-test", "spring4shell_cve-2022-22965", "CVE-2022-26134",
        "CVE-2023-22515", "fortinet-cve-2018-13379")},
    **{name: "database" for name in (
        "pgsql-logs", "pgsql-user-enum", "mysql-logs", "mysql-bf", "mariadb-logs", "mariadb-bf")},
    **{name: "network" for name in (
        "iptables-logs", "iptables-scan-multi-port", "pf-logs", "pf-scan-multi-port", "pfsense-rfc5424-filterlog",
        "suricata-logs-evelog", "suricata-eve-detect", "suricata-logs-fastlog")},
    **{name: "windows" for name in ("windows-logs", "windows-bf")},
}
WAZUH: dict[str, str] = {
    **{name: "linux" for name in ("sshd", "macos-sshd", "pam", "su", "sudo", "doas", "syslog", "systemd",
                                  "apparmor")},
    **{name: "web" for name in ("apache", "nginx", "web_appsec", "modsecurity")},
    "cisco_asa": "network",
}


@dataclass
class SampleResult:
    family: str
    source: str
    lines: int = 0
    unparsed: list[str] = field(default_factory=list)


def crowdsec_lines(name: str) -> list[str]:
    directory = DATA / "crowdsec-hub" / "tests" / name
    logs = sorted(directory.glob("*.log"))
    lines: list[str] = []
    for path in logs:
        lines.extend(line for line in path.read_text(encoding="utf-8", errors="replace").split("\n") if line.strip())
    return lines


def wazuh_lines(name: str) -> list[str]:
    path = DATA / "wazuh-ruleset-tests" / "tests" / f"{name}.ini"
    if not path.exists():
        return []
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    lines: list[str] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, value = raw.partition("=")
        if sep and re.match(r"log \d+ (?:pass|fail)\s*$", key.strip()):
            lines.append(value.strip())
    del parser
    return lines


def run_samples(families: set[str] | None = None) -> list[SampleResult]:
    """Parse every CrowdSec/Wazuh sample line of the given families (auto-detection)."""
    results: list[SampleResult] = []
    now = time.time()
    for source, table, reader in (("crowdsec", CROWDSEC, crowdsec_lines), ("wazuh", WAZUH, wazuh_lines)):
        for name, family in table.items():
            if families is not None and family not in families:
                continue
            result = SampleResult(family, f"{source}:{name}")
            lines = reader(name)
            records = [RawRecord(line, now, "file", peer=f"{source}/{name}") for line in lines]
            batch = parse_batch(records)
            events = batch.events + flush_pending().events
            result.lines = len(lines)
            for event in events:
                if "unparsed" in (event.get("tags") or []):
                    result.unparsed.append(ecs.get(event, "event.original"))
            results.append(result)
    return results
