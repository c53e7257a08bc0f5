"""Extraction patterns (parse/extract.py, parse/dissect.py): dissect and named regexes,
conversions, validation, hot reload, hostile input, and the shipped patterns on real-looking lines."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from guetteur.model import PEER_ADDRESS, PEER_FILE, Event, RawRecord
from guetteur.parse import extract, parse_batch
from guetteur.parse.dissect import DissectError, compile_dissect
from guetteur.parse.extract import Extraction, PatternError, compile_pattern, load_patterns

RECEIVED = 1_775_000_000.0  # 2026-03-31


@pytest.fixture
def only(tmp_path: Path) -> Iterator[Path]:
    """A pattern folder of the test's own, and nothing else loaded (shipped patterns off);
    the process's extraction is restored after the test."""
    saved = extract._ACTIVE[0]
    folder = tmp_path / "patterns"
    folder.mkdir()
    extract.configure([folder], builtin=False, reload_interval=0.01)
    yield folder
    extract._ACTIVE[0] = saved


def parse(*lines: str, hint: str | None = None, source: str = "test", peer: str | None = None) -> list[Event]:
    field = PEER_FILE if source == "file" else PEER_ADDRESS
    return parse_batch([RawRecord(line, RECEIVED, source, hint, peer, peer_field=field) for line in lines]).events


def reload_now() -> None:
    """Make the next batch look at the pattern files (the interval is 10 ms in `only`)."""
    time.sleep(0.02)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    # a rewrite within the file system's time granularity must still count as a change
    stamp = time.time() + 1 + len(list(folder.iterdir()))
    os.utime(path, (stamp, stamp))
    return path


MEDICAL = "2026-04-06 16:21:41,594 - WARNING - ALERTE SOC: user 42 accessed patient 17"


# ---- dissect -------------------------------------------------------------------------------

def test_dissect_splits_on_the_literal_after_each_key() -> None:
    d = compile_dissect("%{client.ip} - %{user.name} [%{ts}] \"%{http.request.method} %{url.path} %{}\" %{code}")
    line = '203.0.113.5 - alice [06/Apr/2026:16:21:41 +0200] "GET /a b HTTP/1.1" 200'
    assert d.match(line) == {"client.ip": "203.0.113.5", "user.name": "alice", "ts": "06/Apr/2026:16:21:41 +0200",
                             "http.request.method": "GET", "url.path": "/a", "code": "200"}


def test_dissect_padding_append_and_skip() -> None:
    d = compile_dissect("%{date} %{+date} [%{?thread}] %{level->} %{logger} - %{message}")
    found = d.match("2026-04-06 16:21:41.594 [main] WARN   com.example.App - it - broke")
    assert found == {"date": "2026-04-06 16:21:41.594", "level": "WARN", "logger": "com.example.App",
                     "message": "it - broke"}


def test_dissect_refuses_a_line_without_its_delimiters() -> None:
    d = compile_dissect("user %{user.id} accessed patient %{json.patient_id}")
    assert d.match("user 42 read patient 17") is None
    assert d.match("the user 42 accessed patient 17") is None  # the leading literal is anchored


@pytest.mark.parametrize("pattern, reason", [
    ("no keys here", "no %{key}"),
    ("%{a}%{b}", "no delimiter"),
    ("%{*a} %{&a}", "reference keys"),
    ("%{a b} x", "bad key name"),
    ("%{a} %{", "unclosed"),
    ("", "non-empty"),
])
def test_bad_dissect_patterns_say_why(pattern: str, reason: str) -> None:
    with pytest.raises(DissectError, match=reason):
        compile_dissect(pattern)


def test_dissect_is_linear_on_a_huge_line_without_the_delimiter() -> None:
    """One scan per delimiter: a megabyte of `a` with no `;` answers None (a backtracking
    regex `(.*?);(.*?);` would take quadratic time)."""
    d = compile_dissect("%{a};%{b};%{c}")
    assert d.match("a" * 1_000_000) is None


# ---- named regexes and conversions ------------------------------------------------------------

def test_regex_groups_go_to_mapped_fields_with_types(only: Path) -> None:
    write(only, "app.yml", r"""
name: app_login
when: {parser: unparsed}
regex: 'LOGIN (?P<user__name>\w+) from (?P<ip>\S+) at (?P<when>\S+) took (?P<ms>\d+)ms ok=(?P<ok>\w+)'
map: {ip: source.ip, when: "@timestamp", ms: labels.duration_ms, ok: labels.ok}
convert: {source.ip: ip, "@timestamp": timestamp, labels.duration_ms: int, labels.ok: bool}
set: {event.category: [authentication], event.action: logged-in}
tags: [app]
""")
    reload_now()
    [event] = parse("LOGIN alice from 203.0.113.7 at 2026-04-06T16:21:41+02:00 took 812ms ok=yes")
    assert event["user"] == {"name": "alice"}
    assert event["source"] == {"ip": "203.0.113.7"}
    assert event["@timestamp"] == "2026-04-06T14:21:41.000Z"
    assert event["labels"] == {"duration_ms": 812, "ok": True}
    assert event["event"]["category"] == ["authentication"] and event["event"]["action"] == "logged-in"
    assert event["tags"] == ["app"]  # `unparsed` removed: a pattern understood the line
    assert event["related"] == {"user": ["alice"], "ip": ["203.0.113.7"]}
    assert event["guetteur"]["patterns"] == ["app_login"]


def test_a_failed_conversion_leaves_the_field_unset_and_tags_the_event(only: Path) -> None:
    write(only, "app.yml", r"""
name: ids
regex: 'id=(?P<labels__n>\S+) ip=(?P<source__ip>\S+)'
convert: {labels.n: int, source.ip: ip}
""")
    reload_now()
    [event] = parse("id=12x ip=localhost")
    assert "labels" not in event and "source" not in event
    assert "extract_convert_failed" in event["tags"]
    assert event["message"] == "id=12x ip=localhost"  # the event itself is kept whole


@pytest.mark.parametrize("kind, text, expected", [
    ("int", " 42 ", 42), ("int", "4.2", None), ("int", "9" * 30, None), ("float", "4.5", 4.5),
    ("float", "nan", None), ("ip", "[2001:db8::1]", "2001:db8::1"), ("ip", "999.1.1.1", None),
    ("timestamp", "06/Apr/2026:16:21:41 +0200", "2026-04-06T14:21:41.000Z"),
    ("timestamp", "1775492501", "2026-04-06T16:21:41.000Z"), ("timestamp", "yesterday", None),
    ("level", "WARN", "warning"), ("level", "loud", None), ("bool", "off", False),
])
def test_conversions(kind: str, text: str, expected: object) -> None:
    assert extract.CONVERSIONS[kind](text) == expected


# ---- selection: when ---------------------------------------------------------------------------

def test_when_selects_by_parser_input_path_and_program(only: Path) -> None:
    write(only, "sel.yml", """
name: by_path
when: {input: file, path: "/var/log/medapi/*.log"}
dissect: "order %{labels.order}"
---
name: by_program
when: {parser: syslog, program: billing}
dissect: "order %{labels.invoice}"
""")
    reload_now()
    in_path, elsewhere = parse("order 7", "order 8", source="file", peer="/var/log/medapi/api.log")[0], \
        parse("order 8", source="file", peer="/var/log/other.log")[0]
    assert in_path["labels"] == {"order": "7"}
    assert "labels" not in elsewhere
    [billing, other] = parse("<13>Apr  6 16:21:41 h1 billing: order 9", "<13>Apr  6 16:21:41 h1 shop: order 9")
    assert billing["labels"] == {"invoice": "9"}
    assert "labels" not in other


def test_medical_api_line_yields_user_id_and_patient_id() -> None:
    """With the shipped patterns (the default): the line the medical API writes."""
    [event] = parse(MEDICAL)
    assert event["event"]["dataset"] == "python_logging"
    assert event["log"]["level"] == "warning"
    assert event["user"] == {"id": "42"}
    assert event["json"] == {"patient_id": 17}
    assert event["event"]["action"] == "patient.record.read"


# ---- validation: clear errors, the other patterns still load ------------------------------------

@pytest.mark.parametrize("document, reason", [
    ({"name": "x", "regex": "(?P<a>[unclosed"}, "bad regex"),
    ({"name": "x", "regex": "(?P<a>(a+)+)b"}, "repeat inside a repeat"),
    ({"name": "x", "regex": r"(?P<a>(?:\w*\s?)*)$"}, "repeat inside a repeat"),
    ({"name": "x", "regex": "(a)"}, "no named group"),
    ({"name": "x", "dissect": "%{a}", "regex": "(?P<a>.)"}, "exactly one"),
    ({"name": "x", "dissect": "%{a} b"}, "not an ECS field"),
    ({"name": "x", "dissect": "%{event.original} b"}, "set by Guetteur"),
    ({"name": "x", "dissect": "%{labels.a.b} b"}, "labels are flat"),
    ({"name": "x", "dissect": "%{user.id} b", "convert": {"user.id": "integer"}}, "unknown type 'integer'"),
    ({"name": "x", "dissect": "%{user.id} b", "convert": {"user.name": "int"}}, "not a field this pattern sets"),
    ({"name": "x", "dissect": "%{user.id} b", "when": {"parsers": "x"}}, "when: holds only"),
    ({"name": "x", "dissect": "%{user.id} b", "max_bytes": 10**9}, "max_bytes"),
    ({"name": "x", "dissect": "%{user.id} b", "colour": "red"}, "unknown keys"),
    ({"dissect": "%{user.id} b"}, "needs a name"),
    ({"name": "x", "regex": "(?P<a>.)", "map": {"b": "user.id"}}, "does not have"),
])
def test_bad_patterns_are_refused_with_the_reason(document: dict, reason: str) -> None:
    with pytest.raises(PatternError, match=reason):
        compile_pattern(document, "test.yml")


def test_a_bad_pattern_does_not_stop_the_others(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text('name: good\ndissect: "x %{labels.x}"\n---\nname: bad\nregex: "(?P<a>["\n')
    (tmp_path / "b.yml").write_text("name: [unclosed\n")
    loaded = load_patterns([tmp_path])
    assert [p.name for p in loaded.patterns] == ["good"]
    assert len(loaded.errors) == 2
    assert all(str(tmp_path) in str(e.location) for e in loaded.errors)


def test_a_users_pattern_replaces_a_shipped_one_of_the_same_name(tmp_path: Path) -> None:
    (tmp_path / "mine.yml").write_text('name: php_monolog\ndissect: "PHP %{message}"\n')
    loaded = load_patterns(extract.pattern_paths([tmp_path]))
    mine = [p for p in loaded.patterns if p.name == "php_monolog"]
    assert len(mine) == 1 and mine[0].file == str(tmp_path / "mine.yml")


# ---- hot reload ---------------------------------------------------------------------------------

def test_patterns_are_reloaded_when_their_files_change(only: Path) -> None:
    line = "shipment 88 left"
    assert "labels" not in parse(line)[0]
    path = write(only, "ship.yml", 'name: ship\ndissect: "shipment %{labels.shipment} left"\n')
    reload_now()
    assert parse(line)[0]["labels"] == {"shipment": "88"}
    write(only, "ship.yml", 'name: ship\ndissect: "shipment %{labels.parcel} left"\n')
    reload_now()
    assert parse(line)[0]["labels"] == {"parcel": "88"}
    path.unlink()
    reload_now()
    assert "labels" not in parse(line)[0]


def test_a_broken_edit_keeps_the_valid_patterns_and_reports_the_error(only: Path) -> None:
    write(only, "a.yml", 'name: a\ndissect: "a=%{labels.a}"\n')
    write(only, "b.yml", 'name: b\ndissect: "b=%{labels.b}"\n')
    reload_now()
    assert parse("a=1")[0]["labels"] == {"a": "1"}
    write(only, "b.yml", 'name: b\nregex: "(?P<x>(y+)+)"\n')
    reload_now()
    assert parse("a=2")[0]["labels"] == {"a": "2"}
    assert [e.location.file for e in extract.active().patterns.errors] == [str(only / "b.yml")]


def test_no_reload_when_the_interval_is_zero(tmp_path: Path) -> None:
    extraction = Extraction([tmp_path], builtin=False, reload_interval=0)
    write(tmp_path, "x.yml", 'name: x\ndissect: "x %{labels.x}"\n')
    assert extraction.maybe_reload() is False
    assert extraction.patterns.patterns == []


# ---- hostile input ------------------------------------------------------------------------------

def test_a_pattern_reads_only_max_bytes_of_a_huge_line(only: Path) -> None:
    write(only, "big.yml", r"""
name: big
max_bytes: 64
regex: 'REQ (?P<labels__id>\d+) (?P<labels__rest>.*)'
""")
    reload_now()
    [event] = parse("REQ 7 " + "x" * 2_000_000)
    assert event["labels"]["id"] == "7"
    assert len(event["labels"]["rest"]) == 64 - len("REQ 7 ")


def test_a_pattern_that_times_out_is_tagged_then_disabled(only: Path) -> None:
    """A backtracking regex the load-time check cannot see (sequential `.*`, polynomial) on hostile input:
    each event gets `extract_timeout` and is kept, and after three timeouts the pattern is
    switched off in this process (later events are not tagged)."""
    write(only, "slow.yml", r"""
name: slow
max_bytes: 65536
regex: '(?P<labels__a>.*)x(?P<labels__b>.*)y(?P<labels__c>.*)z(?P<labels__d>.*)!'
""")
    reload_now()
    extract.active().timeout = 0.001
    hostile = "!" + "xyz" * 20_000  # holds every literal of the pattern: the cheap gates let it through
    events = parse(*[hostile] * 5)
    tagged = ["extract_timeout" in (e.get("tags") or []) for e in events]
    assert tagged == [True, True, True, False, False]
    assert all(e["message"] == hostile for e in events)
    assert extract.active().patterns.patterns[0].disabled


def test_garbage_and_truncated_lines_never_raise(only: Path) -> None:
    write(only, "g.yml", 'name: g\ndissect: "%{labels.a} %{labels.b}"\n---\nname: h\n'
                         'regex: "(?P<labels__c>[^ ]+) (?P<labels__d>.*)"\n')
    reload_now()
    lines = ["", " ", "\x00\x01\x02", "\ufffd" * 100, "{", "<13>", "a b", "a" * 10_000, "é è ü 日本"]
    events = parse(*lines)
    assert len(events) == len(lines)


# ---- the shipped patterns on real-looking lines ---------------------------------------------------

SHIPPED = [
    ("2026-04-06 16:21:41.594 [http-nio-8080-exec-1] WARN  com.example.web.LoginController - Login failed",
     "java_logback", {"@timestamp": "2026-04-06T16:21:41.594Z", "log.level": "warning",
                      "log.logger": "com.example.web.LoginController", "process.thread.name": "http-nio-8080-exec-1",
                      "message": "Login failed"}),
    ("16:21:41.594 [main] INFO  com.example.App - Started App in 2.3 seconds",
     "java_logback", {"log.level": "info", "log.logger": "com.example.App", "message": "Started App in 2.3 seconds"}),
    ("2026-04-06 16:21:41,594 ERROR [main] com.example.App: Database unavailable",
     "java_log4j", {"@timestamp": "2026-04-06T16:21:41.594Z", "log.level": "error", "log.logger": "com.example.App",
                    "message": "Database unavailable"}),
    ("2026-04-06T16:21:41.594+02:00  WARN 1234 --- [medapi] [nio-8080-exec-1] c.e.web.LoginController  : Bad login",
     "java_spring_boot", {"@timestamp": "2026-04-06T14:21:41.594Z", "log.level": "warning", "process.pid": 1234,
                          "service.name": "medapi", "log.logger": "c.e.web.LoginController", "message": "Bad login"}),
    ("2026-04-06T16:21:41.594Z warn: slow query took 812 ms",
     "node_winston_text", {"@timestamp": "2026-04-06T16:21:41.594Z", "log.level": "warning",
                           "message": "slow query took 812 ms"}),
    ("[2026-04-06 16:21:41.594 +0200] WARN (medapi/1234 on api-01): slow query",
     "node_pino_pretty", {"@timestamp": "2026-04-06T14:21:41.594Z", "log.level": "warning", "service.name": "medapi",
                          "process.pid": 1234, "host.name": "api-01", "message": "slow query"}),
    ('[2026-04-06T16:21:41.594+02:00] app.WARNING: Login failed for user alice {"ip":"203.0.113.7"} []',
     "php_monolog", {"@timestamp": "2026-04-06T14:21:41.594Z", "log.level": "warning", "log.logger": "app",
                     "message": 'Login failed for user alice {"ip":"203.0.113.7"} []'}),
    ("[2026-04-06 16:21:41] security.INFO: User logged in [] []",
     "php_monolog", {"@timestamp": "2026-04-06T16:21:41.000Z", "log.level": "info", "message": "User logged in"}),
    ("WARNING 2026-04-06 16:21:41,594 views 1234 140234567 Forbidden (Permission denied): /admin/",
     "python_django_verbose", {"@timestamp": "2026-04-06T16:21:41.594Z", "log.level": "warning", "log.logger": "views",
                               "process.pid": 1234, "message": "Forbidden (Permission denied): /admin/"}),
    ("2026-04-06 16:21:41,594 medapi.db    ERROR    connection lost",
     "python_cookbook", {"@timestamp": "2026-04-06T16:21:41.594Z", "log.level": "error", "log.logger": "medapi.db",
                         "message": "connection lost"}),
]


@pytest.mark.parametrize("line, pattern, fields", SHIPPED, ids=[f"{s[1]}-{i}" for i, s in enumerate(SHIPPED)])
def test_shipped_patterns_read_their_formats(line: str, pattern: str, fields: dict) -> None:
    from guetteur import ecs

    [event] = parse(line)
    assert event["event"]["dataset"] == pattern
    assert event["event"]["module"] == "application"
    assert "host" not in event or pattern == "node_pino_pretty"  # no "[main]" host from the syslog misreading
    assert "tags" not in event
    for path, value in fields.items():
        assert ecs.get(event, path) == value, path
    assert event["event"]["original"] == line


def test_shipped_pattern_reads_the_body_of_a_syslog_envelope() -> None:
    """A Java application logging through rsyslog: the envelope's host and program stay."""
    [event] = parse("<134>Apr  6 16:21:41 app-01 billing[77]: 2026-04-06 16:21:41.594 [main] ERROR "
                    "com.example.Billing - invoice 12 failed")
    assert event["event"]["dataset"] == "java_logback"
    assert event["host"]["name"] == "app-01" and event["process"]["name"] == "billing"
    assert event["log"]["level"] == "error" and event["log"]["logger"] == "com.example.Billing"
    assert event["message"] == "invoice 12 failed"


@pytest.mark.parametrize("line", ["debug: false", "info: see below", "[x] WARN (y): z", "16:21:41 [a] b"])
def test_shipped_patterns_leave_lookalikes_alone(line: str) -> None:
    """Lines of other files with a similar shape (a YAML key, a bare time) stay unparsed."""
    [event] = parse(line)
    assert event["tags"] == ["unparsed"]
    assert "guetteur" not in event


def test_shipped_patterns_all_load() -> None:
    loaded = load_patterns(extract.pattern_paths([]))
    assert loaded.errors == []
    assert {p.name for p in loaded.patterns} >= {"java_logback", "java_log4j", "java_spring_boot", "node_winston_text",
                                                 "node_pino_pretty", "php_monolog", "python_django_verbose",
                                                 "python_cookbook", "medical_api_soc_access"}


# ---- the cheap gates are exact --------------------------------------------------------------------

_SHIPPED_REGEXES = [p for p in load_patterns(extract.pattern_paths([])).patterns if p.regex is not None]


@pytest.mark.parametrize("pattern", _SHIPPED_REGEXES, ids=[p.name for p in _SHIPPED_REGEXES])
def test_gates_never_refuse_a_text_the_regex_matches(pattern: extract.Pattern) -> None:
    """Texts generated from each shipped regex (hypothesis' `from_regex`): the first-character,
    literal and alternative gates let every one through, and the regex matches it."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.from_regex(r"\A(?:" + pattern.regex.pattern + ")", fullmatch=False))
    def check(text: str) -> None:
        if pattern.regex.match(text[:pattern.max_bytes]) is not None:
            assert pattern.may_match(text)

    check()


def test_gates_of_a_users_regex() -> None:
    p = compile_pattern({"name": "x", "regex": r"(?:GET|POST) (?P<url__path>/\S+) took (?P<labels__ms>\d+)ms"})
    assert p.first == frozenset("GP")
    assert " took " in p.literals and ("GET", "POST") in p.alternatives
    assert p.may_match("GET /a took 5ms") and not p.may_match("PUT /a took 5ms")
    assert not p.may_match("GET /a needed 5ms") and not p.may_match("DELETE /a took 5ms")
    assert compile_pattern({"name": "y", "regex": r"(?i)get (?P<url__path>\S+)"}).first is None
