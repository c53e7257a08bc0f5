"""Sigma hunting over EVTX: Zircolite's method beside Guetteur's engine, on the same records.

DFIR users measure `guetteur hunt` against Zircolite, Chainsaw and Hayabusa. None of them can
be installed here, but Zircolite's *method* is made of public PyPI parts and is rebuilt below:

* rules: the SigmaHQ YAML is loaded with `SigmaCollection.load_ruleset` and each rule converted
  with pySigma's SQLite backend, `sqliteBackend(pipeline).convert_rule(rule, "zircolite")`
  (the first query kept, as Zircolite does), after the `sysmon` then `windows-logsources`
  pipelines: Zircolite's "sysmon" rulesets. Those two pipeline packages still declare
  pySigma < 2 and cannot be installed beside our pySigma 2.0.1 pin, so `zircolite_pipeline`
  rebuilds them from the same pySigma 2 parts and tables (`AddConditionTransformation`,
  `ChangeLogsourceTransformation`, `sigma.pipelines.common.generate_windows_logsource_items`).
  Keyword (fieldless) rules fail to convert: Zircolite sets no `fulltext_field`.
* records: each EVTX record becomes one flat row keyed by the last name of each field (letters
  and digits only), null and empty values dropped, `Provider_Name` and `EventID` named as in
  Zircolite's field mappings, plus `OriginalLogfile`. Rows go into an in-memory SQLite table
  `logs` whose columns are `TEXT COLLATE NOCASE` (`INTEGER` when the first value seen is an
  integer), inserted with the columns sorted (on a case-insensitive clash of names the first
  sorted one wins, as in Zircolite), then an index on EventID. Columns that rules name but no
  record has are added as NULL, as Zircolite does before running rules, so such queries run
  instead of failing on "no such column". `regexp` is Zircolite's Python function.
* detection: every rule's `SELECT * FROM logs WHERE ...`, rows fetched as dicts.

Both sides see the same records: the EVTX files are read once with our reader
(`iter_file_records` + `parse_batch`) and Zircolite's rows are built from those events
(`winlog.event_data`/`user_data` for the data, `winlog.event_id/channel/provider_name/
computer_name`, and the other System fields from the record's `event.original`).
Guetteur: `load_rules` + `Detector(ruleset, placeholders={}, timing=False)` (as `guetteur hunt`),
then `detector.match(event)` per event. Base rules only: correlation rules are left out.

Printed: records, rules converted/compiled (and failed) on each side, the time of each phase (for
Zircolite also the total with a ruleset converted beforehand, its usual use; for Guetteur also a
second, warm match pass), hits, agreement on (rule, record) pairs, on rules and on records,
disagreements by class and the first `--show` of them with a reason. `--ruleset generic` uses
Zircolite's "generic" rulesets (no Sysmon rewriting) instead. `--regression` adds SigmaHQ's
regression samples and checks, for each sample whose rule is loaded, that each side fires that
rule the expected number of times on its file. `--repeat N` runs the timed phases over the records
N times (agreement is unchanged).

Usage: `python bench/hunt_compare.py [--regression] [--ruleset sysmon|generic] [--rules DIR]...
[--repeat N] [--show N]`
(needs `pip install -e ".[bench]"` and ../shared/data; skips with a message otherwise).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sqlite3
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.pipelines.common import generate_windows_logsource_items
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import AddConditionTransformation, ChangeLogsourceTransformation
from sigma.rule import SigmaRule

from guetteur.collect.files import iter_file_records
from guetteur.detect.engine import Detector
from guetteur.detect.logsource import classify
from guetteur.detect.rules import load_rules, rule_key
from guetteur.model import Event
from guetteur.parse import parse_batch

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / ".." / "shared" / "data").resolve()
EVTX = DATA / "logs" / "windows-evtx" / "deepbluecli"
REGRESSION = DATA / "sigma" / "regression_data"
RULES = DATA / "sigma" / "rules" / "windows"

# --- Zircolite's conversion ---------------------------------------------------------------

# Sigma category -> Sysmon event id(s): the table of pysigma-pipeline-sysmon 2.0.0.
SYSMON_EVENT_IDS: dict[str, int | list[int]] = {
    "process_creation": 1,
    "file_change": 2,
    "network_connection": 3,
    "sysmon_status": [4, 16],
    "process_termination": 5,
    "driver_load": 6,
    "image_load": 7,
    "create_remote_thread": 8,
    "raw_access_thread": 9,
    "process_access": 10,
    "file_event": 11,
    "registry_add": 12,
    "registry_delete": 12,
    "registry_set": 13,
    "registry_rename": 14,
    "registry_event": [12, 13, 14],
    "create_stream_hash": 15,
    "pipe_created": [17, 18],
    "wmi_event": [19, 20, 21],
    "dns_query": 22,
    "file_delete": 23,
    "clipboard_capture": 24,
    "process_tampering": 25,
    "file_delete_detected": 26,
    "file_block_executable": 27,
    "file_block_shredding": 28,
    "file_executable_detected": 29,
    "sysmon_error": 255,
}
# PowerShell category -> (service, EventID): the table of pysigma-pipeline-windows 2.0.1.
POWERSHELL_CATEGORIES: dict[str, tuple[str, int]] = {
    "ps_module": ("powershell", 4103),
    "ps_script": ("powershell", 4104),
    "ps_classic_start": ("powershell-classic", 400),
    "ps_classic_provider_start": ("powershell-classic", 600),
    "ps_classic_script": ("powershell-classic", 800),
}


def _retarget(prefix: str, category: str, service: str, condition: dict[str, Any]) -> list[ProcessingItem]:
    """A Windows category becomes a service plus a condition (how both pipelines work)."""
    return [
        ProcessingItem(
            identifier=f"{prefix}_{category}_eventid",
            transformation=AddConditionTransformation(condition),
            rule_conditions=[LogsourceCondition(category=category, product="windows")],
        ),
        ProcessingItem(
            identifier=f"{prefix}_{category}_logsource",
            transformation=ChangeLogsourceTransformation(
                product="windows", service=service, category=category
            ),
            rule_conditions=[LogsourceCondition(category=category, product="windows")],
        ),
    ]


def zircolite_pipeline(sysmon_rewrite: bool = True) -> ProcessingPipeline:
    """`sysmon` then `windows-logsources`, in that order (Zircolite gives them priorities 0, 1);
    `windows-logsources` alone for Zircolite's "generic" rulesets (no Sysmon rewriting)."""
    sysmon = ProcessingPipeline(
        name="Generic Log Sources to Sysmon Transformation",
        priority=0,
        items=[
            item
            for category, ids in SYSMON_EVENT_IDS.items()
            for item in _retarget("sysmon", category, "sysmon", {"EventID": ids})
        ],
    )
    windows = ProcessingPipeline(
        name="Add Channel condition for Windows log sources",
        priority=1,
        items=[
            *(
                item
                for category, (service, event_id) in POWERSHELL_CATEGORIES.items()
                for item in _retarget("windows", category, service, {"EventID": event_id})
            ),
            *generate_windows_logsource_items(cond_field_template="Channel", cond_value_template="{source}"),
        ],
    )
    return sysmon + windows if sysmon_rewrite else windows


@dataclass(slots=True)
class ZRule:
    key: str
    title: str
    sql: str
    required: list[str]  # field names after the pipelines (the backend's `required_fields`)
    channels: list[str]  # Channel values the condition provably requires (empty: unbounded)
    event_ids: list[Any]


@dataclass(slots=True)
class Side:
    """What one side did: rules ready and failed, phase times, hits as (rule key, record)."""

    name: str
    ready: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    hits: set[tuple[str, int]] = field(default_factory=set)
    hit_count: int = 0
    notes: list[str] = field(default_factory=list)
    prebuilt: float | None = None  # time to read the converted rules back from JSON

    def total(self) -> float:
        return sum(self.phases.values())

    def total_prebuilt(self) -> float:
        """The run with a ruleset converted beforehand, as Zircolite is used: JSON read instead
        of the YAML selection, load and conversion."""
        setup = sum(self.phases.get(k, 0.0) for k in ("select rule files", "load rules", "convert"))
        return self.total() - setup + (self.prebuilt or 0.0)


def rule_files(dirs: list[Path]) -> list[Path]:
    """Zircolite's selection: *.yml and *.yaml files holding a title, logsource and detection."""
    files: list[Path] = []
    for folder in dirs:
        candidates = (
            [folder] if folder.is_file() else sorted([*folder.rglob("*.yml"), *folder.rglob("*.yaml")])
        )
        for path in candidates:
            try:
                docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue
            if any(isinstance(d, dict) and {"title", "logsource", "detection"} <= d.keys() for d in docs):
                files.append(path)
    return files


def convert(dirs: list[Path], side: Side, sysmon_rewrite: bool) -> dict[str, ZRule]:
    from sigma.backends.sqlite import sqliteBackend

    started = time.perf_counter()
    files = rule_files(dirs)
    side.phases["select rule files"] = time.perf_counter() - started
    started = time.perf_counter()
    collection = SigmaCollection.load_ruleset([str(p) for p in files], collect_errors=True)
    side.phases["load rules"] = time.perf_counter() - started
    started = time.perf_counter()
    backend = sqliteBackend(zircolite_pipeline(sysmon_rewrite))
    rules: dict[str, ZRule] = {}
    ruleset: list[dict[str, Any]] = []  # Zircolite's JSON ruleset
    several = 0
    for rule in collection:
        if not isinstance(rule, SigmaRule):
            continue  # correlations are out of scope
        key = rule_key(rule, str(rule.source.path) if rule.source and rule.source.path else "")
        if rule.errors:
            side.failed[key] = f"{type(rule.errors[0]).__name__}: {rule.errors[0]}"
            continue
        try:
            out = backend.convert_rule(rule, "zircolite")
        except Exception as exc:  # pySigma raises many types; Zircolite logs and skips them all
            side.failed[key] = f"{type(exc).__name__}: {exc}"
            continue
        if not out:
            side.failed[key] = "no query"
            continue
        several += len(out) > 1
        first = out[0]
        ruleset.append(first)
        rules[key] = ZRule(
            key,
            rule.title,
            first["rule"][0],
            list(first["required_fields"]),
            [str(c) for c in first["channel"]],
            list(first["eventid"]),
        )
    side.phases["convert"] = time.perf_counter() - started
    side.ready = len(rules)
    saved = orjson.dumps(ruleset)
    started = time.perf_counter()
    orjson.loads(saved)
    side.prebuilt = time.perf_counter() - started
    correlations = sum(isinstance(r, SigmaCorrelationRule) for r in collection)
    if correlations:
        side.notes.append(f"{correlations} correlation rules left out")
    if several:
        side.notes.append(f"{several} rules gave several queries, the first kept (as Zircolite does)")
    by_sql = Counter(r.sql for r in rules.values())
    duplicated = sum(n - 1 for n in by_sql.values() if n > 1)
    if duplicated:
        side.notes.append(
            f"{duplicated} rules have the SQL of another rule (Zircolite would run it once; "
            "kept here so rules compare one to one)"
        )
    return rules


# --- Zircolite's rows -----------------------------------------------------------------------

SYSTEM_MAPPINGS = {"Provider.#attributes.Name": "Provider_Name", "EventID.#text": "EventID"}
WINLOG_SYSTEM = (
    ("EventID", "event_id"),
    ("Channel", "channel"),
    ("Provider_Name", "provider_name"),
    ("Computer", "computer_name"),
)


def _flatten(data: Any, row: dict[str, Any], mappings: dict[str, str], path: str = "") -> None:
    """Zircolite's flattening: every leaf under its last name (letters and digits only), a full
    path containing `xmlns` skipped, lists as their text, null and empty values dropped."""
    if not isinstance(data, dict):
        return
    for name, value in data.items():
        full = f"{path}.{name}" if path else str(name)
        if "xmlns" in full:
            continue
        if isinstance(value, dict):
            _flatten(value, row, mappings, full)
            continue
        if isinstance(value, list):
            value = str(value)
        if value is None or value == "":
            continue
        key = mappings.get(full) or "".join(c for c in str(name) if c.isalnum())
        row[key] = value


def zircolite_row(event: Event) -> dict[str, Any]:
    row: dict[str, Any] = {}
    winlog = event.get("winlog")
    winlog = winlog if isinstance(winlog, dict) else {}
    _flatten(winlog.get("event_data"), row, {})
    user_data = winlog.get("user_data")
    if isinstance(user_data, dict):  # our parser adds the element name as `xml_name`
        _flatten({k: v for k, v in user_data.items() if k != "xml_name"}, row, {})
    meta = event.get("event")
    original = meta.get("original") if isinstance(meta, dict) else None
    if isinstance(original, str):
        try:
            system = orjson.loads(original)["Event"]["System"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            system = None
        _flatten(system, row, SYSTEM_MAPPINGS)
    for column, name in WINLOG_SYSTEM:
        value = winlog.get(name)
        if value is None or value == "":
            continue
        row[column] = int(value) if column == "EventID" and str(value).isdigit() else value
    log = event.get("log")
    path = log.get("file", {}).get("path") if isinstance(log, dict) else None
    if path:
        row["OriginalLogfile"] = Path(path).name
    return row


def _regexp(pattern: str, value: Any) -> int:
    """Zircolite's REGEXP function (a non-text value raises, and the query fails, as there)."""
    if value is None:
        return 0
    return 1 if re.search(pattern, value) else 0


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_database(rows: list[dict[str, Any]], rules: dict[str, ZRule], side: Side) -> sqlite3.Connection:
    started = time.perf_counter()
    db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    for pragma, value in (
        ("journal_mode", "OFF"),
        ("synchronous", "OFF"),
        ("cache_size", "-128000"),
        ("locking_mode", "EXCLUSIVE"),
        ("temp_store", "MEMORY"),
        ("mmap_size", "268435456"),
        ("page_size", "4096"),
        ("threads", "4"),
    ):
        db.execute(f"PRAGMA {pragma} = {value};")
    db.row_factory = sqlite3.Row
    db.create_function("regexp", 2, _regexp)
    declared: dict[str, str] = {}  # lower-case name -> column definition, first seen wins
    names: set[str] = set()
    for row in rows:
        for name, value in row.items():
            names.add(name)
            if name.lower() not in declared:
                kind = "INTEGER" if isinstance(value, int) else "TEXT COLLATE NOCASE"
                declared[name.lower()] = f"{_quote(name)} {kind}"
    db.execute(
        f"CREATE TABLE logs ( row_id INTEGER PRIMARY KEY AUTOINCREMENT, {', '.join(declared.values())} );"
    )
    columns = sorted(names)
    # Column names are quoted identifiers and every value a bound parameter.
    names_sql, marks = ", ".join(_quote(c) for c in columns), ", ".join("?" * len(columns))
    insert = f"INSERT INTO logs ({names_sql}) VALUES ({marks})"  # noqa: S608
    db.execute("BEGIN TRANSACTION")
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        get = row.get
        batch.append(tuple(get(c) for c in columns))
        if len(batch) >= 5000:
            db.executemany(insert, batch)
            batch.clear()
    if batch:
        db.executemany(insert, batch)
    db.execute("COMMIT")
    db.execute('CREATE INDEX "idx_eventid" ON "logs" ("eventid");')
    side.phases["flatten + load"] = time.perf_counter() - started
    started = time.perf_counter()
    present = {"row_id", *declared}
    missing = sorted(
        {f for r in rules.values() for f in r.required if f.lower() not in present}, key=str.lower
    )
    added = 0
    for name in missing:
        if name.lower() in present:
            continue
        try:
            db.execute(f"ALTER TABLE logs ADD COLUMN {_quote(name)} TEXT COLLATE NOCASE")
        except sqlite3.Error as exc:
            side.notes.append(f"column {name!r} could not be added: {exc}")
            continue
        present.add(name.lower())
        added += 1
    side.phases["add missing columns"] = time.perf_counter() - started
    side.notes.append(f"table: {len(declared)} columns from the records, {added} added as NULL for the rules")
    return db


def run_queries(db: sqlite3.Connection, rules: dict[str, ZRule], side: Side, base: int) -> dict[str, str]:
    errors: dict[str, str] = {}
    cursor = db.cursor()
    started = time.perf_counter()
    for key, rule in rules.items():
        try:
            cursor.execute(rule.sql)
            fetched = cursor.fetchall()
        except sqlite3.Error as exc:
            errors[key] = f"{type(exc).__name__}: {exc}"
            continue
        if not fetched:
            continue
        names = fetched[0].keys()
        found = [{k: v for k, v in zip(names, tuple(r), strict=True) if v is not None} for r in fetched]
        side.hit_count += len(found)
        for item in found:
            side.hits.add((key, (item["row_id"] - 1) % base))
    side.phases["run queries"] = time.perf_counter() - started
    return errors


# --- Guetteur -----------------------------------------------------------------------------


def guetteur(dirs: list[Path], events: list[Event], side: Side, base: int) -> Detector:
    started = time.perf_counter()
    ruleset = load_rules(dirs)
    side.phases["load rules"] = time.perf_counter() - started
    started = time.perf_counter()
    detector = Detector(ruleset, placeholders={}, timing=False)
    side.phases["compile"] = time.perf_counter() - started
    side.ready = len(detector.rules)
    by_source = {r.source: r.id for r in ruleset.rules}
    for error in ruleset.errors:  # unparsable: no rule id to show
        side.failed[error.file] = error.reason
    for error in detector.errors:  # "<rule id>: <why>"
        side.failed[error.reason.split(":", 1)[0]] = error.reason.split(":", 1)[-1].strip()
    for error in detector.unrouted:
        side.failed[by_source.get(error.file, error.file)] = error.reason
    if ruleset.correlations:
        side.notes.append(f"{len(ruleset.correlations)} correlation rules left out")
    match = detector.match
    started = time.perf_counter()
    for index, event in enumerate(events):
        for hit in match(event):
            side.hit_count += 1
            side.hits.add((hit.rule_id, index % base))
    side.phases["match"] = time.perf_counter() - started
    started = time.perf_counter()
    for event in events:
        match(event)
    side.notes.append(
        f"a second match pass over the same records takes {time.perf_counter() - started:.3f}s: the first "
        "pays routing and prefilter construction once per event signature (channel, event id, provider)"
    )
    return detector


# --- comparison -----------------------------------------------------------------------------


def _row_get(row: dict[str, Any], name: str) -> Any:
    lowered = name.lower()
    found = [v for k, v in sorted(row.items()) if k.lower() == lowered]
    return found[0] if found else None


def _short(value: Any, width: int = 40) -> str:
    text = str(value).replace("\r", " ").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def classify_pair(
    key: str,
    index: int,
    zircolite_found: bool,
    z: Side,
    g: Side,
    zrules: dict[str, ZRule],
    zerrors: dict[str, str],
    detector: Detector,
    events: list[Event],
    rows: list[dict[str, Any]],
) -> tuple[str, str]:
    """(class, detail) of one (rule, record) pair that one side found and not the other."""
    event, row = events[index], rows[index]
    zrule = zrules.get(key)
    fields = ""
    if zrule is not None:
        present = [
            f"{f}={_short(_row_get(row, f), 30)}" for f in zrule.required if _row_get(row, f) is not None
        ]
        absent = [f for f in zrule.required if _row_get(row, f) is None]
        fields = "; ".join(
            p
            for p in (", ".join(present), "absent from the row: " + ", ".join(absent) if absent else "")
            if p
        )
    if zircolite_found:
        if key in g.failed:
            return "Guetteur could not compile the rule", _short(g.failed[key], 100)
        rule = detector.rules.get(key)
        if rule is None:
            return "rule not loaded by Guetteur", ""
        if rule.route not in classify(event).route_keys():
            winlog = event.get("winlog") or {}
            return (
                "log source: Guetteur does not route this event to the rule",
                f"rule {rule.route}, event {winlog.get('channel')}/{winlog.get('event_id')}; {fields}",
            )
        if rule not in detector.candidates_for(event):
            return "Guetteur routing keys / prefilter dropped the rule", fields
        return "condition: Guetteur false, SQL true", fields
    if key in z.failed:
        return "Zircolite could not convert the rule", _short(z.failed[key], 100)
    if key in zerrors:
        return "Zircolite's SQL failed", _short(zerrors[key], 100)
    if zrule is None:
        return "rule not converted by Zircolite's method", ""
    channel, event_id = _row_get(row, "Channel"), _row_get(row, "EventID")
    if (zrule.channels and str(channel).lower() not in {c.lower() for c in zrule.channels}) or (
        zrule.event_ids and str(event_id) not in {str(e) for e in zrule.event_ids}
    ):
        return (
            "log source: outside Zircolite's pipeline mapping",
            f"SQL wants Channel in {zrule.channels or 'any'}, EventID in {zrule.event_ids or 'any'}; "
            f"row has {channel}/{event_id}",
        )
    if any(_row_get(row, f) is None for f in zrule.required):
        return "field: absent from the flat row, found by Guetteur elsewhere", fields
    return "condition: SQL false, Guetteur true", fields


def regression_tests() -> list[tuple[str, str, Path, int]]:
    """(rule id, title, evtx file, expected matches) of every SigmaHQ regression sample."""
    tests: list[tuple[str, str, Path, int]] = []
    for info in sorted(REGRESSION.rglob("info.yml")):
        meta = yaml.safe_load(info.read_text(encoding="utf-8")) or {}
        rules = meta.get("rule_metadata") or []
        if not rules:
            continue
        for test in meta.get("regression_tests_info") or []:
            if test.get("type") != "evtx":
                continue
            path = DATA / "sigma" / str(test["path"])
            tests.append(
                (str(rules[0]["id"]), str(rules[0].get("title", "")), path, int(test.get("match_count", 1)))
            )
    return tests


def print_sides(z: Side, g: Side, records: int) -> None:
    for side, ready_word in ((z, "converted"), (g, "compiled")):
        reasons = Counter(_short(r.split(":")[0] if side is z else r, 70) for r in side.failed.values())
        print(
            f"[{side.name}] rules {ready_word}: {side.ready}, failed: {len(side.failed)}"
            + (" (" + "; ".join(f"{n}× {r}" for r, n in reasons.most_common(4)) + ")" if reasons else "")
        )
        for note in side.notes:
            print(f"[{side.name}]   {note}")
        print(
            f"[{side.name}] time: "
            + ", ".join(f"{k} {v:.3f}s" for k, v in side.phases.items())
            + f"; total {side.total():.3f}s"
        )
        if side.prebuilt is not None:
            print(
                f"[{side.name}] with the ruleset converted beforehand (JSON read in {side.prebuilt:.3f}s, "
                f"Zircolite's usual way): total {side.total_prebuilt():.3f}s"
            )
        detect = side.phases.get("run queries", side.phases.get("match", 0.0))
        print(
            f"[{side.name}] detection only: {detect:.3f}s, {records / detect:,.0f} records/s;"
            f" hits: {side.hit_count} ({len(side.hits)} distinct rule/record pairs)"
        )


def print_agreement(z: Side, g: Side) -> None:
    both, only_z, only_g = z.hits & g.hits, z.hits - g.hits, g.hits - z.hits
    print(
        f"agreement on (rule, record) pairs: both {len(both)}, only Zircolite's method {len(only_z)}, "
        f"only Guetteur {len(only_g)}"
    )
    zr, gr = {k for k, _ in z.hits}, {k for k, _ in g.hits}
    print(
        f"rules with a hit: both {len(zr & gr)}, only Zircolite's method {len(zr - gr)}, only Guetteur {len(gr - zr)}"
    )
    zi, gi = {i for _, i in z.hits}, {i for _, i in g.hits}
    print(
        f"records with a hit: both {len(zi & gi)}, only Zircolite's method {len(zi - gi)}, "
        f"only Guetteur {len(gi - zi)}"
    )


def print_disagreements(
    z: Side,
    g: Side,
    zrules: dict[str, ZRule],
    zerrors: dict[str, str],
    detector: Detector,
    events: list[Event],
    rows: list[dict[str, Any]],
    show: int,
) -> None:
    only_z, only_g = z.hits - g.hits, g.hits - z.hits
    titles = {r.id: r.title for r in detector.rules.values()} | {k: r.title for k, r in zrules.items()}
    found: list[tuple[str, str, str, int, bool]] = []
    for key, index in sorted(only_z | only_g):
        by_z = (key, index) in only_z
        kind, detail = classify_pair(key, index, by_z, z, g, zrules, zerrors, detector, events, rows)
        found.append((kind, detail, key, index, by_z))
    if not found:
        return
    print()
    print("disagreements by class (pairs / rules):")
    by_class: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for kind, _, key, index, _ in found:
        by_class[kind].append((key, index))
    for kind, pairs in sorted(by_class.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(pairs):5} / {len({k for k, _ in pairs}):3}  {kind}")
    if show <= 0:
        return
    print()
    print(f"first {min(show, len({f[2] for f in found}))} disagreements (one per rule):")
    shown: set[str] = set()
    for kind, detail, key, index, by_z in found:
        if key in shown:
            continue
        if len(shown) >= show:
            break
        shown.add(key)
        winlog = events[index].get("winlog") or {}
        who = "only Zircolite's method" if by_z else "only Guetteur"
        print(
            f"- {who}: {titles.get(key, key)} [{key}] on record {index} "
            f"({winlog.get('channel')}/{winlog.get('event_id')})"
        )
        print(f"    {kind}" + (f": {detail}" if detail else ""))


def print_regression(
    tests: list[tuple[str, str, Path, int]],
    z: Side,
    g: Side,
    loaded: set[str],
    events: list[Event],
    show: int,
) -> None:
    files = [str(e.get("log", {}).get("file", {}).get("path", "")) for e in events]
    verdicts: Counter[str] = Counter()
    misses: list[str] = []
    for rule_id, title, path, expected in tests:
        if rule_id not in loaded:
            verdicts["rule not in the rule folders"] += 1
            continue
        if not path.is_file():
            verdicts["sample file missing"] += 1
            continue
        indices = {i for i, f in enumerate(files) if f == str(path)}
        counts = [sum(1 for k, i in side.hits if k == rule_id and i in indices) for side in (z, g)]
        if counts[0] and counts[1]:
            verdict = "both"
        else:
            verdict = "only Zircolite's method" if counts[0] else "only Guetteur" if counts[1] else "neither"
        verdicts[f"fired by {verdict}"] += 1
        off = [
            name for name, n in zip(("Zircolite's method", "Guetteur"), counts, strict=True) if n != expected
        ]
        if off:
            verdicts[f"count differs from the expected ({' and '.join(off)})"] += 1
        if (verdict != "both" or off) and len(misses) < show:
            misses.append(
                f"  {verdict}: {title} [{rule_id}] expected {expected}, "
                f"Zircolite's method {counts[0]}, Guetteur {counts[1]}"
            )
    print(f"SigmaHQ regression samples ({len(tests)}): " + ", ".join(f"{k} {v}" for k, v in verdicts.items()))
    for line in misses:
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rules", type=Path, action="append", help=f"Sigma rule folder (default {RULES})")
    parser.add_argument(
        "--ruleset",
        choices=["sysmon", "generic"],
        default="sysmon",
        help="Zircolite's rulesets: sysmon + windows-logsources pipelines, or the latter alone",
    )
    parser.add_argument("--regression", action="store_true", help="add SigmaHQ's EVTX regression samples")
    parser.add_argument("--repeat", type=int, default=1, help="time the phases over the records N times")
    parser.add_argument("--show", type=int, default=15, help="disagreements listed")
    args = parser.parse_args()
    if not EVTX.is_dir() or not RULES.is_dir():
        print(f"skipped: test data not found ({EVTX} and {RULES})")
        return
    if importlib.util.find_spec("sigma.backends.sqlite") is None:
        print('skipped: pySigma-backend-sqlite is missing; install the extra: pip install -e ".[bench]"')
        return
    rule_dirs = [p.resolve() for p in (args.rules or [RULES])]
    repeat = max(1, args.repeat)
    paths = sorted(EVTX.glob("*.evtx"))
    tests = regression_tests() if args.regression else []
    paths += sorted({t[2] for t in tests if t[2].is_file()})

    started = time.perf_counter()
    base_events = parse_batch(list(iter_file_records(paths, "windows_evtx"))).events
    read = time.perf_counter() - started
    base = len(base_events)
    events = base_events * repeat
    again = f"; timed phases run over them {repeat} times ({len(events)} records)" if repeat > 1 else ""
    print(
        f"records: {base} from {len(paths)} EVTX files, read and parsed once in {read:.2f}s (shared){again}"
    )
    print(f"rules: {', '.join(str(d) for d in rule_dirs)}; Zircolite ruleset: {args.ruleset}")

    z, g = Side("Zircolite's method"), Side("Guetteur")
    zrules = convert(rule_dirs, z, args.ruleset == "sysmon")
    started = time.perf_counter()
    base_rows = [zircolite_row(e) for e in base_events]
    flatten = time.perf_counter() - started
    db = load_database(base_rows * repeat, zrules, z)
    z.phases["flatten + load"] += flatten * repeat
    zerrors = run_queries(db, zrules, z, base)
    if zerrors:
        common = Counter(_short(v, 60) for v in zerrors.values()).most_common(3)
        z.notes.append(
            f"{len(zerrors)} queries failed in SQLite: " + "; ".join(f"{n}× {m}" for m, n in common)
        )
    detector = guetteur(rule_dirs, events, g, base)

    print()
    print_sides(z, g, len(events))
    print()
    print_agreement(z, g)
    print_disagreements(z, g, zrules, zerrors, detector, base_events, base_rows, args.show)
    if tests:
        print()
        print_regression(tests, z, g, set(zrules) | set(detector.rules), base_events, args.show)


if __name__ == "__main__":
    main()
