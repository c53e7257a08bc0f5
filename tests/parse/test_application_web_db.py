"""Application (Python logging, uvicorn, JSON lines, journald), web (access/error) and
database (PostgreSQL, MySQL/MariaDB) parsers on hand-written lines of each variant."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from guetteur import ecs
from guetteur.model import RawRecord
from guetteur.parse import parse_record
from guetteur.parse.context import CONTEXT


def _p(line: str, hint: str | None = None) -> dict:
    return parse_record(RawRecord(line, time.time(), "file", hint))


def _check(event: dict, expected: dict) -> None:
    for path, value in expected.items():
        assert ecs.get(event, path) == value, (path, ecs.get(event, path))


@pytest.mark.parametrize(("line", "expected"), [
    ("2026-04-06 16:21:41,594 - WARNING - disk almost full",
     {"log.level": "warning", "event.severity": 4, "message": "disk almost full",
      "@timestamp": "2026-04-06T16:21:41.594Z", "event.dataset": "python_logging"}),
    ("2026-04-06 16:21:41,594 - app.api - ERROR - boom\nTraceback (most recent call last):\n  File \"x\"\nValueError: bad",
     {"log.logger": "app.api", "log.level": "error", "error.type": "ValueError", "error.message": "bad"}),
    ("[2026-04-06 16:21:41 +0200] [1234] [INFO] Starting gunicorn 21.2.0",
     {"process.pid": 1234, "@timestamp": "2026-04-06T14:21:41.000Z", "log.logger": "gunicorn.error"}),
    ("INFO:     Started server process [1234]", {"log.level": "info", "log.logger": "uvicorn.error"}),
    ('INFO:     127.0.0.1:54321 - "GET /api/patients/42 HTTP/1.1" 200 OK',
     {"source.ip": "127.0.0.1", "source.port": 54321, "url.path": "/api/patients/42",
      "http.response.status_code": 200, "event.dataset": "uvicorn_access"}),
    ('INFO:     10.0.0.9:1234 - "POST /api/login HTTP/1.1" 401 Unauthorized',
     {"event.outcome": "failure", "http.request.method": "POST"}),
])
def test_application_text(line: str, expected: dict) -> None:
    _check(_p(line), expected)


_TS = "2026-04-06 16:21:41,594"


@pytest.mark.parametrize(("message", "expected"), [
    ("login failed for user alice from 203.0.113.7",
     {"user.name": "alice", "source.ip": "203.0.113.7", "event.category": ["authentication"],
      "event.outcome": "failure", "event.action": "login-failed"}),
    ("login succeeded for user nurse.costa from 10.0.10.35",
     {"user.name": "nurse.costa", "source.ip": "10.0.10.35", "related.user": ["nurse.costa"],
      "related.ip": ["10.0.10.35"], "event.category": ["authentication"], "event.outcome": "success"}),
    ("Authentication failed: invalid password for user=eve",
     {"user.name": "eve", "event.category": ["authentication"], "event.outcome": "failure"}),
    ("user bob logged in from 10.0.0.6",
     {"user.name": "bob", "source.ip": "10.0.0.6", "event.action": "logged-in", "event.outcome": "success"}),
    ("Password policy updated by admin", {"event.category": None, "event.outcome": None}),
    ("GET /api/v1/patients/1042/records user=dr.martin client=10.0.0.5:5555",
     {"user.name": "dr.martin", "source.ip": "10.0.0.5", "json.patient_id": 1042}),
    ("record read patient_id=77 username: 'bob' ip=2001:db8::5",
     {"user.name": "bob", "source.ip": "2001:db8::5", "json.patient_id": 77}),
    ("Patient ID: 31337 exported by user carol", {"json.patient_id": 31337, "user.name": "carol"}),
    ("User 'eve' locked out after 5 attempts (remote_addr=[2001:db8::9])",
     {"user.name": "eve", "source.ip": "2001:db8::9"}),
    # nothing to take: no user, no address, no patient id
    ("Slow query on /api/v1/patients/search: 2.31s",
     {"user": None, "source": None, "json": None, "event.category": None}),
    ("Token refreshed for client medapi-web", {"user": None, "source": None}),
    ("Cache refreshed: 412 patient summaries", {"json": None}),
    ("meeting from 12:30:00 to 13:00, ip 999.1.1.1", {"source": None}),
    ("user not found", {"user": None}),
    # a traceback's text is not the message's facts
    ("boom for user eve\nTraceback (most recent call last):\n  File \"x\"\nValueError: from 1.2.3.4",
     {"user.name": "eve", "source": None, "error.message": "from 1.2.3.4"}),
])
@pytest.mark.parametrize(("layout", "hint"), [
    ("{ts} - WARNING - {m}", None), ("{ts} - app.auth - WARNING - {m}", None),
    # an ISO-time syslog line looks the same ("<time> <host> <program>: msg"): hinted
    ("{ts} WARNING app.auth: {m}", "python_logging"), ("WARNING:app.auth:{m}", None),
])
def test_python_logging_message_facts(layout: str, hint: str | None, message: str, expected: dict) -> None:
    """User, client address and patient id named in the text become fields; the message stays whole."""
    event = _p(layout.format(ts=_TS, m=message), hint)
    assert event["message"] == message
    assert event["event"]["dataset"] == "python_logging"
    _check(event, expected)


@pytest.mark.parametrize("message", [
    "for user " + "a" * 100_000, "from " + "1." * 50_000, "/patients/" + "9" * 5000, "patient_id=" + "1" * 40,
    "user=\x01\x02 from ::::::::::::::::::::", "from [" + ":" * 3000, "for user ", "ip=" + "f:" * 3000,
])
def test_python_logging_hostile_messages(message: str) -> None:
    event = _p(f"{_TS} - app.api - INFO - {message}")
    assert event["message"] == message
    assert event["event"]["dataset"] == "python_logging"
    patient = ecs.get(event, "json.patient_id")
    assert patient is None or (isinstance(patient, int) and patient < 10**18)


def test_json_lines_mapping_and_unmapped_keys_kept() -> None:
    line = orjson.dumps({"ts": 1712345678.25, "level": "WARN", "msg": "login failed", "user": "bob",
                         "client_ip": "10.1.2.3", "request": {"id": "r1"}, "attempt": 3}).decode()
    event = _p(line)
    _check(event, {"@timestamp": "2024-04-05T19:34:38.250Z", "log.level": "warning", "event.severity": 4,
                   "message": "login failed", "user.name": "bob", "source.ip": "10.1.2.3",
                   "json.request.id": "r1", "json.attempt": 3, "event.dataset": "json_lines"})


def test_json_lines_uses_the_configured_map() -> None:
    saved = dict(CONTEXT.json_field_map)
    CONTEXT.json_field_map["patient"] = "labels.patient_id"
    try:
        event = _p('{"patient": "42", "msg": "read"}')
    finally:
        CONTEXT.json_field_map.clear()
        CONTEXT.json_field_map.update(saved)
    assert ecs.get(event, "labels.patient_id") == "42"


def test_ecs_json_passes_through() -> None:
    doc = {"@timestamp": "2024-01-01T01:00:00+01:00", "event": {"category": ["web"], "action": "x"},
           "host": {"name": "h"}, "custom": {"a": 1}}
    event = _p(orjson.dumps(doc).decode())
    assert event["@timestamp"] == "2024-01-01T00:00:00.000Z"
    assert event["custom"] == {"a": 1} and event["event"]["action"] == "x" and event["host"] == {"name": "h"}


def test_journald_entry_goes_through_program_parsers() -> None:
    entry = {"__REALTIME_TIMESTAMP": "1712345678123456", "_HOSTNAME": "web1", "SYSLOG_IDENTIFIER": "sshd",
             "_PID": "812", "PRIORITY": "6", "_BOOT_ID": "b", "_SYSTEMD_UNIT": "ssh.service",
             "MESSAGE": list(b"Failed password for root from 1.2.3.4 port 22 ssh2")}
    event = _p(orjson.dumps(entry).decode())
    _check(event, {"@timestamp": "2024-04-05T19:34:38.123Z", "host.name": "web1", "process.pid": 812,
                   "user.name": "root", "source.ip": "1.2.3.4", "event.outcome": "failure",
                   "log.level": "info", "journald.systemd_unit": "ssh.service",
                   "event.dataset": "journald.linux_auth"})


@pytest.mark.parametrize(("line", "hint", "expected"), [
    ('192.168.33.1 - bob [26/Dec/2016:16:22:13 +0000] "GET /a/b.PHP?x=1%202 HTTP/1.1" 404 499 "http://r/" "UA/1"',
     "apache_access", {"user.name": "bob", "url.extension": "php", "url.query": "x=1 2", "http.version": "1.1",
                       "http.request.referrer": "http://r/", "user_agent.original": "UA/1",
                       "http.response.body.bytes": 499, "event.outcome": "failure"}),
    ('vhost.example 10.0.0.1 - - [26/Dec/2016:16:22:14 +0000] "GET / HTTP/1.1" 200 9 "-" "-"', None,
     {"destination.domain": "vhost.example", "url.domain": "vhost.example", "source.ip": "10.0.0.1",
      "event.outcome": "success"}),
    ('10.0.0.2, 10.0.0.1, 67.43.156.14 - - [07/Dec/2016:11:05:07 +0100] "GET /o HTTP/1.1" 200 571 "-" "-"',
     "nginx_access", {"source.ip": "67.43.156.14",
                      "nginx.access.remote_ip_list": ["10.0.0.2", "10.0.0.1", "67.43.156.14"]}),
    ('::1 - - [26/Dec/2016:16:16:48 +0200] "-" 408 -', None,
     {"source.ip": "::1", "http.response.status_code": 408, "@timestamp": "2016-12-26T14:16:48.000Z"}),
    ('127.0.0.1 - - [06/Apr/2026:16:21:41 +0000] "GET /health HTTP/1.1" 200 2 "-" "kube-probe/1.29"',
     "gunicorn_access", {"url.path": "/health", "event.dataset": "gunicorn_access"}),
])
def test_access_logs(line: str, hint: str | None, expected: dict) -> None:
    event = _p(line, hint)
    _check(event, {"event.category": ["web"], "event.type": ["access"], **expected})


@pytest.mark.parametrize(("line", "expected"), [
    ("[Mon Dec 26 16:22:00 2016] [error] [client 192.168.33.1] File does not exist: /var/www/favicon.ico, "
     "referer: http://192.168.33.72/",
     {"log.level": "error", "source.ip": "192.168.33.1", "file.path": "/var/www/favicon.ico",
      "http.request.referrer": "http://192.168.33.72/", "event.type": ["error"]}),
    ("[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 89.160.20.156:80] x",
     {"apache.error.module": "core", "process.pid": 35708, "process.thread.id": 4328636416, "source.port": 80}),
    ("[notice] Apache configured", {"log.level": "notice", "event.type": ["info"]}),
    ('2021/09/30 09:23:53 [error] 1925800#1925800: *17 user "foo" was not found in "/tmp/a.htpasswd", '
     'client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", host: "localhost"',
     {"nginx.error.connection_id": 17, "source.ip": "127.0.0.1", "http.request.method": "GET",
      "url.domain": "localhost", "@timestamp": "2021-09-30T09:23:53.000Z"}),
])
def test_error_logs(line: str, expected: dict) -> None:
    _check(_p(line), {"event.category": ["web"], **expected})


@pytest.mark.parametrize(("line", "expected"), [
    ('2021-09-28 09:22:18.536 UTC [147] 1.2.3.4 bob@postgres FATAL:  password authentication failed for user "bob"',
     {"user.name": "bob", "source.ip": "1.2.3.4", "process.pid": 147, "event.outcome": "failure",
      "postgresql.log.database": "postgres", "log.level": "error"}),
    ("2026-04-06 10:00:00.123 CEST [99]: [3-1] user=app,db=med,app=psql,client=10.0.0.5 LOG:  connection "
     "authorized: user=app database=med",
     {"event.outcome": "success", "user.name": "app", "source.ip": "10.0.0.5", "@timestamp": "2026-04-06T08:00:00.123Z"}),
    ("2026-04-06 10:00:00 UTC [99] LOG:  connection received: host=10.0.0.7 port=5000",
     {"event.action": "connection_received", "source.port": 5000}),
    ('2026-04-06 10:00:00 UTC [99] app@med LOG:  duration: 1.5 ms  statement: SELECT * FROM patients',
     {"postgresql.log.query": "SELECT * FROM patients", "event.duration": 1500000}),
    ('2026-04-06 10:00:00 UTC [99] FATAL:  no pg_hba.conf entry for host "6.6.6.6", user "x", database "y", '
     'no encryption', {"source.ip": "6.6.6.6", "user.name": "x", "event.outcome": "failure"}),
    ('2026-04-06 16:21:00.000 UTC,"u1","db",4000,"10.0.0.1:50000",66112233.0,1,"authentication",'
     '2026-04-06 16:21:00 UTC,3/0,0,FATAL,28P01,"password authentication failed for user ""u1""",'
     '"Connection matched pg_hba.conf line 99",,,,,,,,"","client backend",,0',
     {"user.name": "u1", "source.ip": "10.0.0.1", "event.outcome": "failure", "error.code": "28P01",
      "event.dataset": "postgresql_csv"}),
])
def test_postgresql(line: str, expected: dict) -> None:
    _check(_p(line), expected)


@pytest.mark.parametrize(("line", "expected"), [
    ("2021-10-28T08:06:45.411498Z 25 [Note] [MY-010926] [Server] Access denied for user 'seb'@'42.42.42.42' "
     "(using password: NO)", {"event.code": "MY-010926", "mysql.thread_id": 25, "user.name": "seb",
                              "event.outcome": "failure", "mysql.using_password": False}),
    ("211109  5:13:11 [Warning] Access denied for user 'a'@'localhost' (using password: YES)",
     {"source.domain": "localhost", "@timestamp": "2021-11-09T05:13:11.000Z"}),
    ("2020-04-16T05:13:40.861934Z\t   12 Connect\troot@10.0.0.3 on med using TCP/IP",
     {"event.outcome": "success", "user.name": "root", "source.ip": "10.0.0.3", "mysql.database": "med"}),
    ("2020-04-16T05:13:41.000000Z\t   12 Query\tSELECT 1", {"mysql.query": "SELECT 1", "event.action": "query"}),
])
def test_mysql(line: str, expected: dict) -> None:
    _check(_p(line), expected)


_TRACEBACKS = (Path(__file__).parents[1] / "collect" / "data" / "python_tracebacks.log").read_text()


def _traceback_records() -> list[str]:
    """The records of a real CPython log with tracebacks, as collect/multiline.py joins them."""
    from guetteur.collect.multiline import join_lines

    return [line.decode() for line in join_lines([x.encode() for x in _TRACEBACKS.splitlines() if x], 1_048_576)]


def test_python_traceback_in_error_fields() -> None:
    """A real chained traceback: the whole trace in error.stack_trace, the exception raised last in
    error.type / error.message; the message still starts with the log line."""
    record = _traceback_records()[1]
    event = _p(record)
    assert event["message"].startswith("request failed\nTraceback (most recent call last):")
    _check(event, {"log.level": "error", "error.type": "ValueError", "error.message": "patient lookup failed: 17"})
    trace = event["error"]["stack_trace"]
    assert trace.startswith("Traceback (most recent call last):") and "KeyError: 'patient_id'" in trace
    assert trace.endswith("ValueError: patient lookup failed: 17")
    chained = _p(_traceback_records()[2])
    _check(chained, {"error.type": "ValueError", "error.message": "invalid literal for int() with base 10: 'x'"})


@pytest.mark.parametrize(("tail", "expected"), [
    ("KeyboardInterrupt", {"error.type": "KeyboardInterrupt"}),
    ("requests.exceptions.ConnectionError: refused", {"error.type": "requests.exceptions.ConnectionError",
                                                      "error.message": "refused"}),
    ('  File "app.py", line 3, in main', {}),  # cut before its exception
    ("    x = compute()", {}),
    ("not an exception: really", {}),
    ("", {}),
])
def test_python_traceback_cut_or_odd_last_line(tail: str, expected: dict) -> None:
    event = _p(f"{_TS} - app.api - ERROR - failed\nTraceback (most recent call last):\n  File \"x\", line 1\n{tail}")
    assert event["error"]["stack_trace"].startswith("Traceback (most recent call last):")
    got = {f"error.{k}": v for k, v in event["error"].items() if k != "stack_trace"}
    assert got == expected
