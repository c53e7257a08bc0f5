"""Shipper documents (`shipper_document`: what `_bulk` and OTLP hand over) and JSON with dotted
ECS keys (`json_lines`): kept as ECS, raw lines parsed, the dataset from the data stream or
the index, hostile documents never lost."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guetteur.model import RawRecord
from guetteur.parse import parse_record
from guetteur.parse.shipper_document import dataset_of, raw_line

NOW = 1775492600.0  # 2026-04-06


def shipped(document: object, index: str | None = "filebeat-9.1.0", hint: str | None = None) -> dict[str, Any]:
    data = document if isinstance(document, bytes) else orjson.dumps(document)
    return parse_record(RawRecord(data, NOW, "es_bulk", "shipper_document", "10.0.0.9:5000",
                                  {"index": index, "message_hint": hint}))


SSHD = "Apr  6 16:21:41 web1 sshd[123]: Failed password for root from 203.0.113.5 port 2222 ssh2"


def test_filebeat_raw_line_is_parsed_and_its_envelope_kept() -> None:
    event = shipped({"@timestamp": "2026-04-06T16:21:45.000Z", "message": SSHD, "input": {"type": "filestream"},
                     "log": {"file": {"path": "/var/log/auth.log"}, "offset": 10}, "host": {"name": "web1-fb"},
                     "agent": {"type": "filebeat"}, "ecs": {"version": "8.0.0"}})
    assert event["event"]["dataset"] == "linux_auth" and event["event"]["outcome"] == "failure"
    assert event["user"]["name"] == "root" and event["source"]["ip"] == "203.0.113.5"
    assert event["event"]["original"] == SSHD
    assert event["host"]["name"] == "web1"  # what the line says wins over the shipper's host
    assert event["log"]["file"]["path"] == "/var/log/auth.log" and event["log"]["offset"] == 10
    assert event["agent"] == {"type": "filebeat"}
    assert event["@timestamp"].startswith("2026-04-06T16:21:41")


def test_unknown_raw_line_keeps_the_envelope_and_is_tagged() -> None:
    event = shipped({"@timestamp": "2026-04-06T16:21:45Z", "message": "just words", "tags": ["prod"],
                     "data_stream": {"type": "logs", "dataset": "myapp", "namespace": "default"}})
    assert event["message"] == "just words"
    assert event["tags"] == ["prod", "unparsed"]
    assert event["event"]["dataset"] == "myapp"
    assert event["@timestamp"] == "2026-04-06T16:21:45.000Z"


def test_fluent_bit_log_key_and_vector_host_string() -> None:
    event = shipped({"log": "2026-04-06 16:21:41,594 - WARNING - ALERTE SOC: user 42 accessed patient 17",
                     "stream": "stdout", "host": "app-01", "timestamp": "2026-04-06T16:21:41.600Z"},
                    index="fluent-bit")
    assert event["event"]["dataset"] == "python_logging" and event["log"]["level"] == "warning"
    assert event["host"]["name"] == "app-01"
    assert event["json"]["stream"] == "stdout"


def test_parser_hint_for_raw_lines() -> None:
    line = "2026-04-06 16:21:41,594 - WARNING - patient 17 read"
    assert shipped({"message": line}, hint="python_logging")["event"]["dataset"] == "python_logging"


def test_ecs_document_is_kept_and_dataset_comes_from_the_index() -> None:
    document = {"@timestamp": "2026-04-06T18:21:41+02:00", "event": {"action": "ssh_login", "category": [
        "authentication"]}, "user.name": "alice", "message": "alice logged in"}
    event = shipped(document, index="logs-nginx.access-default")
    assert event["user"] == {"name": "alice"} and event["event"]["action"] == "ssh_login"
    assert event["message"] == "alice logged in"
    assert event["event"]["dataset"] == "nginx.access" and event["event"]["module"] == "nginx"
    assert event["@timestamp"] == "2026-04-06T16:21:41.000Z"


def test_winlogbeat_document_is_mapped_and_keeps_its_agent() -> None:
    event = shipped({"@timestamp": "2026-04-06T16:21:41.000Z", "agent": {"type": "winlogbeat"},
                     "winlog": {"event_id": 4625, "channel": "Security", "provider_name":
                                "Microsoft-Windows-Security-Auditing", "computer_name": "dc1",
                                "event_data": {"TargetUserName": "bob", "IpAddress": "203.0.113.8"}}},
                    index="winlogbeat-9.1.0")
    assert event["winlog"]["event_id"] == "4625"
    assert event["user"]["name"] == "bob"
    assert event["agent"]["type"] == "winlogbeat"


@pytest.mark.parametrize(("document", "index", "expected"), [
    ({"data_stream": {"dataset": "system.auth"}}, "logs-x-default", "system.auth"),
    ({"event": {"dataset": "nginx.error"}}, None, "nginx.error"),
    ({}, "logs-apache.access-prod", "apache.access"),
    ({}, "filebeat-9.1.0", "filebeat"),
    ({}, "logstash-2026.04.06", "logstash"),
    ({}, "myindex", "myindex"),
    ({}, None, None),
])
def test_dataset_of(document: dict[str, Any], index: str | None, expected: str | None) -> None:
    assert dataset_of(document, index) == expected


def test_raw_line_only_when_nothing_is_parsed() -> None:
    assert raw_line({"message": "x", "host": {"name": "h"}, "event": {"dataset": "a"}}) == "x"
    assert raw_line({"message": "x", "event": {"action": "login"}}) is None
    assert raw_line({"message": "x", "user": {"name": "bob"}}) is None
    assert raw_line({"message": 5}) is None


@pytest.mark.parametrize("data", [b"not json", b"[1,2]", b'{"message": ', b"{}", b'{"event": "x", "log": 3}',
                                  b'{"message": null, "winlog": {"event_id": null}}', b"\xff\xfe{"])
def test_hostile_documents_are_stored_never_lost(data: bytes) -> None:
    event = shipped(data)
    assert event["event"]["original"]
    assert event["input"]["type"] == "es_bulk"


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["message", "log", "host", "event", "winlog", "@timestamp", "labels",
                                        "data_stream", "tags", "user.name", "event.action", "x.y"]),
                       st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
                                    lambda inner: st.lists(inner, max_size=3)
                                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)))
def test_any_document_gives_an_event(document: dict[str, Any]) -> None:
    event = shipped(document)
    assert isinstance(event["@timestamp"], str) and isinstance(event["event"], dict)


def test_json_lines_dotted_keys_are_ecs_through_the_cli() -> None:
    """The issue's case: `guetteur parse --source json_lines` keeps `@timestamp` and `labels` as
    ECS and places dotted keys (before: under `json.*`, stamped with the ingest time)."""
    line = b'{"event.action": "ssh_login", "@timestamp": "2026-04-06T16:21:41Z", "labels": {"site": "lyon"}, ' \
           b'"user.name": "bob", "event": {"outcome": "failure"}, "tags": ["a"]}\n'
    out = subprocess.run([sys.executable, "-m", "guetteur", "parse", "--source", "json_lines", "-"], input=line,
                         capture_output=True, check=True, timeout=120).stdout
    event = orjson.loads(out.splitlines()[0])
    assert event["@timestamp"] == "2026-04-06T16:21:41.000Z"
    assert event["event"]["action"] == "ssh_login" and event["event"]["outcome"] == "failure"
    assert event["labels"] == {"site": "lyon"} and event["user"] == {"name": "bob"} and event["tags"] == ["a"]
    assert "json" not in event


def test_json_lines_passthrough_expands_dotted_keys() -> None:
    event = parse_record(RawRecord(b'{"@timestamp": "2026-04-06T16:21:41Z", "host": {"name": "h"}, '
                                   b'"host.ip": "10.0.0.1", "source.ip": "203.0.113.1"}', NOW, "http", "json_lines"))
    assert event["host"] == {"name": "h", "ip": "10.0.0.1"} and event["source"]["ip"] == "203.0.113.1"
