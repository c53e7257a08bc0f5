"""Ten fixed documents for the search tests; each names itself in `labels.doc`."""

from __future__ import annotations

from typing import Any

DOCS: tuple[dict[str, Any], ...] = (
    {"labels": {"doc": "d01"}, "@timestamp": "2024-03-05T10:00:00.000Z",
     "message": "Failed password for alice from 10.0.0.5 port 22 ssh2",
     "host": {"name": "web-1"}, "user": {"name": "alice"}, "source": {"ip": "10.0.0.5", "port": 52000},
     "event": {"action": "ssh_login", "outcome": "failure", "severity": 5, "category": ["authentication"]},
     "tags": ["ssh", "prod"]},
    {"labels": {"doc": "d02"}, "@timestamp": "2024-03-05T23:59:59.999Z",
     "message": "Accepted password for bob from 192.168.1.20",
     "host": {"name": "web-2"}, "user": {"name": "bob"}, "source": {"ip": "192.168.1.20"},
     "event": {"action": "ssh_login", "outcome": "success", "severity": 3, "category": ["authentication"]},
     "tags": ["ssh"]},
    {"labels": {"doc": "d03"}, "@timestamp": "2024-03-06T00:00:00Z",
     "message": "Connection closed by 2001:db8::1",
     "host": {"name": "Web-1"}, "source": {"ip": "2001:db8::1"},
     "event": {"severity": 7}, "http": {"response": {"status_code": 404}}},
    {"labels": {"doc": "d04"}, "@timestamp": "2024-03-04T12:00:00Z",
     "message": "GET /index.html HTTP/1.1 404", "url": {"path": "/index.html"},
     "host": {"name": "db-1"}, "http": {"response": {"status_code": "404"}}, "tags": [], "event": {}},
    {"labels": {"doc": "d05", "empty": ""}, "@timestamp": "2024-02-10T00:00:00Z",
     "message": "User ALICE logged in; session opened",
     "user": {"name": ["alice", "root"]}, "host": {"name": None}, "event": {}},
    {"labels": {"doc": "d06"}, "@timestamp": "2023-12-31T23:00:00Z",
     "message": 'special chars: a*b (x) "quoted" back\\slash',
     "process": {"name": "a*b"}, "file": {"path": "C:\\Windows\\x (1).txt"}, "event": {}},
    {"labels": {"doc": "d07"}, "@timestamp": "2024-03-05T00:00:00Z",
     "message": ["first line error", "second line ok"],
     "event": {"severity": "9"}, "destination": {"ip": "10.1.2.3"}, "related": {"ip": ["10.0.0.5", "172.16.0.1"]}},
    {"labels": {"doc": "d08"}, "@timestamp": "2024-03-05T12:30:00+02:00",
     "host": {"name": "web-10"}, "user": {"name": "Bob"}, "event": {"action": "ssh login"},
     "metric": {"value": 10.5}},
    {"labels": {"doc": "d09", "flag": True}, "@timestamp": "2024-03-05T10:00:00.500Z",
     "message": "www.example.org resolved to 93.184.216.34", "dns": {"question": {"name": "www.example.org"}},
     "metric": {"value": 2}, "event": {}},
    {"labels": {"doc": "d10"}, "@timestamp": "2024-03-05T11:00:00Z",
     "message": "café déjà vu", "user": {"name": "zoë"}, "metric": {"value": "abc"}, "event": {}},
)
