"""Each attack scenario parses into the fields its detection needs; normal traffic stays clean.

Lines are parsed the way the pipeline does it (`parse_batch`, with the parser hint the HTTP
sender would give), under a fixed clock: the scenario's pauses become simulated time.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from guetteur import ecs
from guetteur.demo import FORMATS, SCENARIO_DESCRIPTIONS, SCENARIOS, Sim, Step, normal_traffic, parser_hint
from guetteur.demo.hosts import API_USERS, JDOE, patients_of
from guetteur.demo.scenarios import RANSOM_EXTENSIONS, RANSOM_NOTE
from guetteur.demo.step import HTTP, TRANSPORTS
from guetteur.model import Event, RawRecord
from guetteur.parse import flush_pending, parse_batch

NOW = 1_775_492_501.594  # 2026-04-06T16:21:41.594Z
ATTACKER_NETS = (ipaddress.ip_network("203.0.113.0/24"), ipaddress.ip_network("198.51.100.0/24"))
DOCS = Path(__file__).resolve().parents[2] / "docs" / "demo.md"


def play(name: str, seed: int = 1) -> tuple[list[Step], list[Event]]:
    sim = Sim(rng=random.Random(seed), clock=lambda: NOW)
    steps = list(SCENARIOS[name].play(sim))
    return steps, parse(steps)


def parse(steps: list[Step]) -> list[Event]:
    records = [RawRecord(s.line, NOW, s.transport, parser_hint(s.fmt) if s.transport == HTTP else None)
               for s in steps]
    flush_pending()  # the auditd assembler holds its last group across batches: start clean
    return parse_batch(records).events + flush_pending().events


def f(event: Event, path: str) -> Any:
    return ecs.get(event, path)


def ts(event: Event) -> float:
    return datetime.fromisoformat(event["@timestamp"].replace("Z", "+00:00")).timestamp()


def is_attacker(ip: str | None) -> bool:
    return ip is not None and any(ipaddress.ip_address(ip) in net for net in ATTACKER_NETS)


def auth_failures(events: list[Event]) -> list[Event]:
    return [e for e in events if f(e, "event.outcome") == "failure"
            and "authentication" in (f(e, "event.category") or [])]


def patient_id(event: Event) -> int | None:
    """Where a detection finds the patient id: the JSON field, else the URL."""
    for path in ("json.patient_id", "labels.patient_id", "patient_id"):
        value = f(event, path)
        if value is not None:
            return int(value)
    match = re.search(r"/patients/(\d+)/", f(event, "url.path") or "")
    return int(match.group(1)) if match else None


# --- every scenario -----------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_steps_are_well_formed(name: str) -> None:
    steps, events = play(name)
    assert steps
    for step in steps:
        assert step.delay >= 0
        assert step.transport in TRANSPORTS
        assert step.fmt in FORMATS
        assert "\n" not in step.line and "\r" not in step.line and step.line.strip()
    assert not [e for e in events if "unparsed" in (e.get("tags") or [])]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_lines_are_stamped_with_their_send_time(name: str) -> None:
    """Timestamps are "now" plus the pauses before each line (simulated, no sleeping)."""
    steps, events = play(name)
    total = sum(s.delay for s in steps)
    stamps = [ts(e) for e in events]
    assert min(stamps) >= NOW - 1.0
    assert max(stamps) <= NOW + total + 1.0
    assert max(stamps) >= NOW + total - 1.0  # the pauses show in the stamps (RFC 3164: whole seconds)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_is_reproducible_with_a_seed(name: str) -> None:
    assert [s.line for s in play(name, seed=9)[0]] == [s.line for s in play(name, seed=9)[0]]
    assert [s.line for s in play(name, seed=9)[0]] != [s.line for s in play(name, seed=10)[0]]


def test_every_scenario_is_described_and_documented() -> None:
    assert set(SCENARIO_DESCRIPTIONS) == set(SCENARIOS)
    for scenario in SCENARIOS.values():
        assert scenario.description and scenario.techniques
        assert all(re.fullmatch(r"T\d{4}(\.\d{3})?", t) for t in scenario.techniques)
    text = DOCS.read_text()
    for name in SCENARIOS:
        assert f"`{name}`" in text, name


# --- scenario by scenario: what the detection will look for --------------------------------

def test_ssh_brute_force_then_success() -> None:
    _, events = play("ssh_brute_force")
    failures = auth_failures(events)
    sources = {f(e, "source.ip") for e in failures}
    assert len(sources) == 1
    (ip,) = sources
    assert is_attacker(ip)
    failed_password = [e for e in failures if "Failed password" in e["event"]["original"]]
    assert len(failed_password) >= 5
    assert {f(e, "user.name") for e in failed_password} == {"deploy"}
    successes = [e for e in events if f(e, "event.outcome") == "success" and f(e, "source.ip") == ip
                 and f(e, "event.action") == "ssh_login"]
    assert len(successes) == 1
    assert f(successes[0], "user.name") == "deploy"
    assert ts(successes[0]) >= max(ts(e) for e in failures)
    assert ts(successes[0]) - min(ts(e) for e in failed_password) < 120


def test_password_spraying() -> None:
    _, events = play("password_spraying")
    failures = auth_failures(events)
    sources = {f(e, "source.ip") for e in failures}
    assert len(sources) == 1 and is_attacker(next(iter(sources)))
    users = {f(e, "user.name") for e in failures}
    assert len(users) >= 12
    assert not [e for e in events if f(e, "event.outcome") == "success"]
    assert max(map(ts, failures)) - min(map(ts, failures)) < 120


def test_sudo_abuse() -> None:
    _, events = play("sudo_abuse")
    sudo = [e for e in events if f(e, "process.name") == "sudo"]
    failed = [e for e in sudo if f(e, "event.outcome") == "failure" and f(e, "user.name") == JDOE.login]
    assert len(failed) >= 3
    root = [e for e in sudo if f(e, "event.action") == "sudo" and f(e, "event.outcome") == "success"
            and f(e, "user.effective.name") == "root"]
    assert len(root) == 1 and f(root[0], "user.name") == JDOE.login
    assert "/bin/sh" in (f(root[0], "system.auth.sudo.command") or f(root[0], "process.command_line") or "")
    created = [e for e in events if f(e, "event.action") == "user-created"]
    assert len(created) == 1 and f(created[0], "user.name") == "support"
    assert "UID=0" in created[0]["event"]["original"]


def test_jdoe_never_uses_sudo_in_normal_traffic() -> None:
    events = parse(normal_lines(4000))
    assert not [e for e in events if f(e, "process.name") == "sudo" and f(e, "user.name") == JDOE.login]


def test_patient_idor() -> None:
    _, events = play("patient_idor")
    reads = [e for e in events if f(e, "user.name") == "nurse.costa" and patient_id(e) is not None]
    patients = {patient_id(e) for e in reads}
    assert len(patients) >= 20
    assert not patients & set(patients_of("nurse.costa"))
    assert max(map(ts, reads)) - min(map(ts, reads)) < 300
    access = [e for e in events if f(e, "event.dataset") == "uvicorn_access"]
    assert len({f(e, "url.path") for e in access}) >= 20


def test_normal_api_users_only_read_their_own_patients() -> None:
    events = parse(normal_lines(4000))
    seen = 0
    for e in events:
        user, patient = f(e, "user.name"), patient_id(e)
        if user in API_USERS and patient is not None:
            seen += 1
            assert patient in patients_of(user), (user, patient)
    assert seen > 50


def test_data_exfiltration() -> None:
    _, events = play("data_exfiltration")
    flows = [e for e in events if f(e, "source.bytes") is not None]
    targets = {f(e, "destination.ip") for e in flows}
    assert len(targets) == 1 and is_attacker(next(iter(targets)))
    assert len(flows) >= 12
    assert sum(f(e, "source.bytes") for e in flows) >= 1_000_000_000
    outbound = [e for e in events if f(e, "event.dataset") == "netfilter" and f(e, "destination.ip") in targets]
    assert len(outbound) == len(flows)
    pages = [e for e in events if f(e, "http.response.body.bytes")]
    assert len({f(e, "source.ip") for e in pages}) == 1 and is_attacker(f(pages[0], "source.ip"))
    assert sum(f(e, "http.response.body.bytes") for e in pages) >= 50_000_000
    stamps = [ts(e) for e in flows + pages]
    assert max(stamps) - min(stamps) < 120


def test_ransomware() -> None:
    steps, events = play("ransomware")
    renamed = [e for e in events if f(e, "event.action") == "renamed"]
    assert len(renamed) >= 40
    assert {f(e, "process.name") for e in renamed} == {"python3"}
    extensions = {Path(f(e, "file.path")).suffix for e in renamed}
    assert len(extensions) == 1 and extensions <= set(RANSOM_EXTENSIONS)
    assert max(map(ts, renamed)) - min(map(ts, renamed)) < 60
    notes = [e for e in events if (f(e, "file.path") or "").endswith(RANSOM_NOTE)]
    assert len(notes) >= 1
    snapshot = [e for e in events if "lvremove" in (f(e, "process.command_line") or "")]
    assert len(snapshot) == 1
    # auditd records of one event are merged: far fewer events than lines.
    assert len(events) < len(steps)


def test_port_scan() -> None:
    _, events = play("port_scan")
    blocked = [e for e in events if f(e, "event.dataset") == "netfilter"]
    sources = {f(e, "source.ip") for e in blocked}
    assert len(sources) == 1 and is_attacker(next(iter(sources)))
    assert len({f(e, "destination.port") for e in blocked}) >= 40
    assert max(map(ts, blocked)) - min(map(ts, blocked)) < 30


# --- normal traffic -------------------------------------------------------------------------

def normal_lines(count: int, seed: int = 3) -> list[Step]:
    sim = Sim(rng=random.Random(seed), clock=lambda: NOW)
    return list(itertools.islice(normal_traffic(sim), count))


def test_normal_traffic_never_uses_attacker_addresses() -> None:
    steps = normal_lines(5000)
    for step in steps:
        assert "203.0.113." not in step.line and "198.51.100." not in step.line, step.line


def test_normal_traffic_parses_and_mixes_every_transport() -> None:
    steps = normal_lines(5000)
    events = parse(steps)
    assert Counter(s.transport for s in steps).keys() == set(TRANSPORTS)
    assert Counter(s.fmt for s in steps).keys() >= set(FORMATS) - {"useradd"}
    unparsed = [e["event"]["original"] for e in events if "unparsed" in (e.get("tags") or [])]
    assert not unparsed, unparsed[:3]
    generic = Counter(f(e, "event.dataset") for e in events)
    # Every format has a parser of its own: nothing left to the generic syslog envelope.
    assert generic.get("syslog", 0) == 0, [e["event"]["original"] for e in events
                                           if f(e, "event.dataset") == "syslog"][:3]


def test_normal_traffic_can_leave_out_a_format() -> None:
    sim = Sim(rng=random.Random(1), clock=lambda: NOW)
    steps = list(itertools.islice(normal_traffic(sim, exclude=frozenset({"auditd"})), 3000))
    assert not [s for s in steps if s.fmt == "auditd"]
