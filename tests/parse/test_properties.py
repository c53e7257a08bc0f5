"""Bad input never breaks the parsers of the Linux, application, web and database
families: arbitrary text and bytes, truncated real lines and hostile JSON go through
`parse_record` without raising and always give an event (parsed, or `unparsed`)."""

from __future__ import annotations

import time

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parser_hints import FUZZED_FAMILIES, hints_of, parsers_of

from guetteur.model import RawRecord
from guetteur.parse import MAX_JSON_BYTES, PARSERS, flush_pending, parse_batch, parse_record

MY_PARSERS = parsers_of(*FUZZED_FAMILIES["test_properties.py"])  # from the registry
HINTS = hints_of(*FUZZED_FAMILIES["test_properties.py"])

REAL_LINES = [
    "Feb 21 21:54:44 localhost sshd[3402]: Accepted publickey for vagrant from 10.0.2.2 port 63673 ssh2: RSA 39:33",
    "Feb 24 00:13:02 precise32 sudo:      tsg : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; "
    "COMMAND=/bin/ls",
    "<38>1 2022-01-19T14:23:55+00:00 OPNsense.localdomain sshd 44255 - [meta sequenceId=\"1\"] Invalid user tutu "
    "from 1.2.3.4 port 33166",
    "type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59 success=yes exit=0 a0=558e251634a0 "
    "items=2 ppid=29002 pid=1631 auid=1000 uid=1000 comm=\"arp\" exe=\"/usr/sbin/arp\" key=(null)",
    "type=PROCTITLE msg=audit(1604994496.155:92733): proctitle=617270002D61",
    '{"__REALTIME_TIMESTAMP":"1712345678000000","_HOSTNAME":"h","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"Failed '
    'password for root from 1.2.3.4 port 22 ssh2","_BOOT_ID":"x"}',
    "2026-04-06 16:21:41,594 - app.api - WARNING - message",
    'INFO:     127.0.0.1:54321 - "GET /api/patients/42 HTTP/1.1" 200 OK',
    '{"level":"warn","ts":1712345678.5,"msg":"hi","user":"bob"}',
    '192.168.33.1 - - [26/Dec/2016:16:22:13 +0000] "GET /hello HTTP/1.1" 404 499 "-" "Mozilla/5.0"',
    "[Thu Jun 27 06:58:09.169510 2019] [include:warn] [pid 15934] [client 89.160.20.156:12345] AH01374: x",
    '2016/10/25 14:49:34 [error] 54053#0: *1 open() "/x" failed, client: 127.0.0.1, request: "GET / HTTP/1.1"',
    '2021-09-28 09:22:19.536 UTC:1.2.3.4(5432):u@postgres:[127]:FATAL:  password authentication failed for user "u"',
    "2021-10-28T08:06:45.411498Z 25 [Note] [MY-010926] [Server] Access denied for user 'seb'@'42.42.42.42' "
    "(using password: NO)",
]


def _check(record: RawRecord) -> dict:
    event = parse_record(record)
    assert isinstance(event, dict)
    assert isinstance(event.get("@timestamp"), str) and event["@timestamp"].endswith("Z")
    assert isinstance(event["event"]["original"], str)
    orjson.dumps(event)  # storable: JSON-serialisable, no stray objects
    return event


def test_every_family_is_fuzzed() -> None:
    """Each registered parser is drawn by one property test file (its family's)."""
    covered = {family for families in FUZZED_FAMILIES.values() for family in families}
    assert {parser.family for parser in PARSERS.values()} <= covered
    assert {"python_logging", "linux_auth", "web_access", "postgresql"} <= set(MY_PARSERS)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400), hint=st.sampled_from(HINTS))
def test_arbitrary_text_never_raises(text: str, hint: str | None) -> None:
    _check(RawRecord(text, time.time(), "file", hint))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400), hint=st.sampled_from(HINTS))
def test_arbitrary_bytes_never_raise(data: bytes, hint: str | None) -> None:
    _check(RawRecord(data, time.time(), "syslog-udp", hint, peer="203.0.113.5:514"))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=st.sampled_from(REAL_LINES), cut=st.integers(min_value=0, max_value=400),
       hint=st.sampled_from(HINTS), noise=st.text(max_size=12))
def test_truncated_and_spliced_real_lines(line: str, cut: int, hint: str | None, noise: str) -> None:
    _check(RawRecord(line[:cut] + noise, time.time(), "file", hint))
    _check(RawRecord(noise + line[cut:], time.time(), "file", hint))


@settings(max_examples=150, deadline=None)
@given(value=st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30))
def test_arbitrary_json_objects(value: object) -> None:
    obj = {"message": "x", "payload": value, "level": value, "timestamp": value, "@timestamp": value}
    for hint in (None, "json_lines", "journald"):
        _check(RawRecord(orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS), time.time(), "http", hint))


@pytest.mark.parametrize("hint", [None, "json_lines", "journald"])
def test_deep_and_huge_json_are_bounded(hint: str | None) -> None:
    deep = "{\"a\":" * 5000 + "1" + "}" * 5000
    event = _check(RawRecord(deep, time.time(), "http", hint))
    assert "unparsed" in event["tags"]
    huge = orjson.dumps({"message": "x" * (MAX_JSON_BYTES + 10)}).decode()
    event = _check(RawRecord(huge, time.time(), "http", hint))
    assert "unparsed" in event["tags"]


def test_oversized_and_control_characters() -> None:
    line = REAL_LINES[0] + "\x00\x1b[31m" + "A" * 200_000
    event = _check(RawRecord(line, time.time(), "file"))
    assert "\x00" not in event["event"]["original"]


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(st.sampled_from(REAL_LINES[3:5]) | st.text(max_size=60), max_size=12))
def test_auditd_assembler_accounts_for_every_record(lines: list[str]) -> None:
    """received == stored + merged + pending, across a batch and the final flush."""
    flush_pending()
    records = [RawRecord(line, time.time(), "file", peer="audit.log") for line in lines]
    batch = parse_batch(records)
    assert len(batch.events) + batch.merged + batch.pending == len(records)
    rest = flush_pending()
    assert len(batch.events) + len(rest.events) + batch.merged + rest.merged == len(records)
    assert rest.pending == 0


@pytest.mark.parametrize("value", ["x", 1, None, [1, 2], True])
def test_ecs_passthrough_with_non_object_event(value: object) -> None:
    """ECS-looking JSON whose `event`/`log` is not an object is still stored, value kept."""
    obj = {"@timestamp": "2024-01-01T00:00:00Z", "host": {"name": "h"}, "event": value, "log": value}
    event = _check(RawRecord(orjson.dumps(obj), time.time(), "http"))
    assert event["host"] == {"name": "h"}
    if value is not None:
        assert event["json"]["event"] == value
