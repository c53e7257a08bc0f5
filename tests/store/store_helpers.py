"""Helpers shared by the store tests (imported as `store_helpers`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from guetteur.ecs import iso_utc
from guetteur.model import Event

BASE_TIME = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)

def realistic_event(i: int, base: datetime = BASE_TIME) -> Event:
    """An sshd failed-login event like the parsers produce (about 700 bytes of JSON)."""
    ip = f"203.0.{(i // 250) % 250}.{i % 250 + 1}"
    line = f"Mar 14 12:00:{i % 60:02d} web-{i % 7} sshd[{1000 + i}]: Failed password for user{i % 13} from {ip} port {40000 + i % 20000} ssh2"
    return {
        "@timestamp": iso_utc(base + timedelta(milliseconds=i)),
        "message": line.split(": ", 1)[1],
        "event": {
            "kind": "event",
            "category": ["authentication"],
            "type": ["start"],
            "action": "ssh_login",
            "outcome": "failure" if i % 5 else "success",
            "severity": 5,
            "dataset": "linux.auth",
            "original": line,
        },
        "host": {"name": f"web-{i % 7}", "hostname": f"web-{i % 7}"},
        "user": {"name": f"user{i % 13}"},
        "source": {"ip": ip, "port": 40000 + i % 20000},
        "destination": {"ip": "10.0.0.5", "port": 22},
        "process": {"name": "sshd", "pid": 1000 + i},
        "log": {"level": "notice", "syslog": {"facility": {"code": 4, "name": "auth"}}},
        "related": {"ip": [ip], "user": [f"user{i % 13}"]},
        "tags": ["syslog"],
    }


def count(dsn: str, query: str = "SELECT count(*) FROM events", params: Any = None) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])
