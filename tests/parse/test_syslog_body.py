"""A syslog envelope whose MSG is an application's own format (Python logging, JSON, a web
access line) is parsed by that format's parser and keeps the envelope's host, program and
`log.syslog`: an application logging through rsyslog gets its own level, not the relay's."""

from __future__ import annotations

import pytest

from guetteur.model import Event, RawRecord
from guetteur.parse import parse_batch

RECEIVED = 1_775_492_600.0  # 2026-04-06T16:23:20Z


def parse(line: str) -> Event:
    [event] = parse_batch([RawRecord(line, RECEIVED, "syslog-tcp", None, "10.0.0.9:5000")]).events
    return event


# recorded as rsyslog 8 forwards them (RSYSLOG_SyslogProtocol23Format / RSYSLOG_ForwardFormat)
RFC5424_PYTHON = ("<13>1 2026-04-06T16:21:41.600+00:00 api-01 medapi - - - "
                  "2026-04-06 16:21:41,594 - WARNING - ALERTE SOC: user 42 accessed patient 17")
RFC3164_PYTHON = ("<13>2026-04-06T16:21:41.600+00:00 api-01 medapi[812]: "
                  "2026-04-06 16:21:41,594 - medapi.auth - ERROR - login failed for user bob from 203.0.113.9")


def test_rfc5424_python_logging_body() -> None:
    event = parse(RFC5424_PYTHON)
    assert event["event"]["dataset"] == "python_logging"
    assert event["log"]["level"] == "warning"  # the application's level, not the relay's "notice"
    assert event["event"]["severity"] == 4
    assert event["@timestamp"] == "2026-04-06T16:21:41.594Z"  # the application's own time
    assert event["host"]["name"] == "api-01"
    assert event["process"]["name"] == "medapi"
    assert event["log"]["syslog"]["appname"] == "medapi"
    assert event["log"]["syslog"]["severity"]["name"] == "notice"  # the envelope's facts stay
    assert event["message"] == "ALERTE SOC: user 42 accessed patient 17"
    assert event["user"] == {"id": "42"} and event["json"] == {"patient_id": 17}  # the shipped pattern too


def test_rfc3164_python_logging_body() -> None:
    event = parse(RFC3164_PYTHON)
    assert event["event"]["dataset"] == "python_logging"
    assert event["log"]["level"] == "error" and event["log"]["logger"] == "medapi.auth"
    assert event["process"] == {"name": "medapi", "pid": 812}
    assert event["event"]["outcome"] == "failure"
    assert event["user"]["name"] == "bob" and event["source"]["ip"] == "203.0.113.9"


def test_json_body() -> None:
    event = parse('<14>Apr  6 16:21:41 api-01 medapi: {"level":"warning","msg":"disk low","user":"carol"}')
    assert event["event"]["dataset"] == "json_lines"
    assert event["log"]["level"] == "warning"
    assert event["user"]["name"] == "carol"
    assert event["host"]["name"] == "api-01" and event["process"]["name"] == "medapi"
    assert event["@timestamp"] == "2026-04-06T16:21:41.000Z"  # none in the JSON: the envelope's


def test_web_access_body() -> None:
    event = parse('<190>Apr  6 16:21:41 lb-01 haproxy[3]: 203.0.113.5 - - [06/Apr/2026:16:21:41 +0200] '
                  '"GET /api/v1/patients/12 HTTP/1.1" 200 512 "-" "curl/8.5"')
    assert event["event"]["dataset"] == "web_access"
    assert event["url"]["path"] == "/api/v1/patients/12"
    assert event["source"]["ip"] == "203.0.113.5"
    assert event["host"]["name"] == "lb-01" and event["process"]["name"] == "haproxy"
    assert event["log"]["level"] == "info"  # the envelope's (local7.info): an access line has none


@pytest.mark.parametrize("line", [
    "<13>Apr  6 16:21:41 host1 systemd[1]: Started Session 3 of user root.",
    "<13>Apr  6 16:21:41 host1 app: 12 things happened",
    "<13>Apr  6 16:21:41 host1 app: [warn] something",
    "<13>Apr  6 16:21:41 host1 app: {not json",
    "<13>Apr  6 16:21:41 host1 app: WARNING without a colon",
    "<13>Apr  6 16:21:41 host1 app: 2026-04-06 16:21:41,594 - WARNING",
])
def test_ordinary_syslog_stays_generic(line: str) -> None:
    event = parse(line)
    assert event["event"]["dataset"] == "syslog"
    assert event["log"]["level"] == "notice"


def test_program_parsers_still_come_first() -> None:
    """sshd's own parser reads sshd's MSG even when it starts like a body format would."""
    event = parse("<38>Apr  6 16:21:41 web-01 sshd[9]: Failed password for root from 198.51.100.7 port 4 ssh2")
    assert event["event"]["dataset"] == "linux_auth"


@pytest.mark.parametrize("body", ["{" * 100_000, "1" * 1_000_000, "[" + "x" * 500_000, "{\"a\": " * 70 + "1"])
def test_hostile_bodies_are_kept(body: str) -> None:
    event = parse(f"<13>Apr  6 16:21:41 host1 app: {body}")
    assert event["event"]["original"].endswith(body[-20:])
    assert event["host"]["name"] == "host1"


def test_a_hinted_line_format_reads_the_message_of_a_syslog_envelope() -> None:
    """An nginx line forwarded by syslog and sent with `parser=nginx_access`: the hint names the
    MSG's format. The access line is read from the MSG (its client, not the header's "6" of
    `Dec  6`), the envelope gives host and program, and the hint's dataset is kept: the same
    event autodetection gives, apart from the dataset."""
    line = ('<190>Dec  6 01:42:33 web-01 nginx: 192.0.2.176 - - [06/Dec/2026:01:42:33 +0000] '
            '"GET /favicon.ico HTTP/1.1" 200 1192 "https://www.example.org/" "Mozilla/5.0"')
    [hinted] = parse_batch([RawRecord(line, RECEIVED, "http", "nginx_access", "10.0.0.9:5000")]).events
    detected = parse(line)
    assert hinted["source"] == {"address": "192.0.2.176", "ip": "192.0.2.176"}
    assert hinted["host"]["name"] == "web-01" and hinted["process"]["name"] == "nginx"
    assert hinted["log"]["syslog"]["priority"] == 190
    assert (hinted["event"]["dataset"], detected["event"]["dataset"]) == ("nginx_access", "web_access_syslog")
    for event in (hinted, detected):
        for key in ("dataset", "module", "id", "ingested"):
            event["event"].pop(key, None)
        event["log"].pop("source", None)
        event.pop("input", None)
    assert hinted == detected


def test_demo_lines_parse_the_same_with_their_hint_as_without() -> None:
    """Every format of the demo's traffic (syslog-wrapped or not), sent with the hint the demo
    and the benchmark give it over HTTP, gives the event autodetection gives (bar the dataset)."""
    import itertools
    import random

    from guetteur.demo import Sim, normal_traffic, parser_hint

    steps = list(itertools.islice(normal_traffic(Sim(rng=random.Random(3)), exclude=frozenset({"auditd"})), 3000))
    hinted_formats = set()
    for step in steps:
        hint = parser_hint(step.fmt)
        [hinted] = parse_batch([RawRecord(step.line, RECEIVED, "http", hint, "10.0.0.9:5000")]).events
        [detected] = parse_batch([RawRecord(step.line, RECEIVED, "http", None, "10.0.0.9:5000")]).events
        for event in (hinted, detected):
            for key in ("dataset", "module", "id", "ingested"):
                event["event"].pop(key, None)
        assert hinted == detected, (step.fmt, step.line)
        if hint:
            hinted_formats.add(step.fmt)
    assert {"nginx", "apache", "uvicorn", "postgresql", "zeek-conn"} <= hinted_formats
