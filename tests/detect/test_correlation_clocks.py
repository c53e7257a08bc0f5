"""Event time per stream: a clock-skewed or far-ahead source cannot blind correlation for the
others (issue 8, item 1); skewed and late events are counted and flagged, never dropped."""

from __future__ import annotations

import orjson
from correlation_helpers import T0, engine, event, feed, ruleset

from guetteur.detect.clocks import MAX_KEY_CHARS, stream_key
from guetteur.detect.correlation import CorrelationEngine
from guetteur.detect.hits import Hit

BRUTE_FORCE = """
title: Failed SSH login
id: 6a0c5a52-4f7c-4c4b-9a43-0000000000c1
name: ssh_failed
status: test
logsource: {product: linux, service: sshd}
detection:
    selection:
        event.outcome: failure
    condition: selection
level: low
---
title: SSH brute force
id: 6a0c5a52-4f7c-4c4b-9a43-0000000000c2
status: test
correlation:
    type: event_count
    rules: [ssh_failed]
    group-by: [source.ip]
    timespan: 2m
    condition: {gte: 20}
level: high
"""

FEW_USERS = """
title: Failed SSH login
id: 6a0c5a52-4f7c-4c4b-9a43-0000000000c1
name: ssh_failed
status: test
logsource: {product: linux, service: sshd}
detection:
    selection:
        event.outcome: failure
    condition: selection
level: low
---
title: Few distinct users
id: 6a0c5a52-4f7c-4c4b-9a43-0000000000c3
correlation:
    type: value_count
    rules: ssh_failed
    group-by: [source.ip]
    timespan: 1m
    condition: {field: user.name, lt: 2}
"""

NOW = T0 + 86_400.0  # the wall clock of these tests


def failed(t: float, ip: str, host: str = "web-01", eid: str | None = None) -> dict:
    return event(t, eid, source__ip=ip, user__name="root", event__outcome="failure",
                 host__name=host, input__type="syslog_udp")


def burst(eng: CorrelationEngine, rules: object, ip: str, start: float, host: str = "web-01") -> list[Hit]:
    out: list[Hit] = []
    for i in range(20):
        out += feed(eng, rules, "ssh_failed", failed(start + i, ip, host))  # type: ignore[arg-type]
    return out


def test_one_skewed_line_from_another_host_does_not_blind_the_next_burst() -> None:
    """The issue's attack: a burst fires, one line stamped now + 120 s from another host, then
    the same burst from another address: it fires too, and nothing is late or dropped."""
    eng, rules = engine(BRUTE_FORCE, lateness=60, clock=lambda: NOW)
    assert len(burst(eng, rules, "203.0.113.10", NOW - 30)) == 1
    skewed = failed(NOW + 120, "198.51.100.66", host="attacker")
    assert feed(eng, rules, "ssh_failed", skewed) == []
    out = burst(eng, rules, "203.0.113.11", NOW - 25)
    assert [h.group_key for h in out] == [{"source.ip": "203.0.113.11"}]
    stats = eng.stats()
    assert stats["clock_skew"] == 1 and stats["skewed_events"] == 1 and stats["late"] == 0
    assert "clock_skew" not in out[0].extra  # the skewed line is not in this window


def test_a_stream_far_ahead_does_not_make_another_stream_late() -> None:
    """Stream B's correct-looking but much newer time (not in the future, so not clamped)
    moves only B's clock: A's burst, older than B by far more than the lateness, fires."""
    eng, rules = engine(BRUTE_FORCE, lateness=60, clock=lambda: NOW)
    feed(eng, rules, "ssh_failed", failed(NOW - 10, "198.51.100.1", host="ahead"))
    out = burst(eng, rules, "203.0.113.12", NOW - 3600, host="behind")
    assert len(out) == 1 and eng.stats()["late"] == 0
    assert "late" not in out[0].extra


def test_future_timestamp_is_clamped_counted_and_tagged() -> None:
    """A timestamp an hour ahead of the wall clock is placed at its stream's present: it
    completes the burst, the window does not end in the future, and the hit says so."""
    eng, rules = engine(BRUTE_FORCE, lateness=60, clock=lambda: NOW)
    out: list[Hit] = []
    for i in range(19):
        out += feed(eng, rules, "ssh_failed", failed(NOW - 40 + i, "203.0.113.13"))
    out += feed(eng, rules, "ssh_failed", failed(NOW + 3600, "203.0.113.13", eid="skewed"))
    assert len(out) == 1
    hit = out[0]
    assert hit.extra["events"] == 20 and hit.event_ids[-1] == "skewed"
    assert hit.extra["clock_skew"] == 1 and "guetteur.clock_skew" in hit.tags
    assert hit.event_times[-1] == hit.event_times[-2]  # placed at its stream's newest time
    assert eng.stats()["clock_skew"] == 1
    assert eng.rule_stats("6a0c5a52-4f7c-4c4b-9a43-0000000000c2")["clock_skew"] == 1


def test_skewed_event_of_a_new_stream_is_placed_now_and_moves_no_clock() -> None:
    """A first event stamped in the future is placed at the wall clock; the same stream's
    correct events after it are on time (its clock did not move)."""
    eng, rules = engine(BRUTE_FORCE, lateness=60, clock=lambda: NOW)
    feed(eng, rules, "ssh_failed", failed(NOW + 500, "203.0.113.14", host="skewed-host"))
    assert eng.stats()["clock_skew"] == 1
    out = burst(eng, rules, "203.0.113.15", NOW - 600, host="skewed-host")
    assert len(out) == 1 and eng.stats()["late"] == 0


def test_a_stream_ahead_does_not_close_the_windows_of_another() -> None:
    """Closing windows are evaluated against the slowest stream: a stream an hour ahead
    does not decide a window of another stream early."""
    eng, rules = engine(FEW_USERS, lateness=5, clock=lambda: NOW)
    feed(eng, rules, "ssh_failed", failed(T0, "198.51.100.1", host="a"))
    out = feed(eng, rules, "ssh_failed", failed(T0 + 3600, "198.51.100.2", host="b"))
    assert out == []  # under one watermark, b would have closed a's window [T0, T0 + 60]
    out = feed(eng, rules, "ssh_failed", failed(T0 + 70, "198.51.100.3", host="a"))
    assert [h.group_key for h in out] == [{"source.ip": "198.51.100.1"}]


def test_stream_clocks_are_bounded_and_idle_ones_forgotten() -> None:
    """A flood of distinct host names keeps at most max_clocks clocks; silent ones go."""
    wall = [NOW]
    eng, rules = engine(BRUTE_FORCE, lateness=60, max_clocks=10, clock_idle=300, clock=lambda: wall[0])
    for n in range(100):
        feed(eng, rules, "ssh_failed", failed(NOW - 1, "203.0.113.16", host=f"h{n}"))
    stats = eng.stats()
    assert stats["clocks"] == 10 and stats["clocks_evicted"] == 90
    wall[0] = NOW + 301
    eng.advance()
    assert eng.stats()["clocks"] == 0


def test_stream_key() -> None:
    """One clock per origin and input: host.name, else the sender without its port, else the file."""
    assert stream_key({"input": {"type": "syslog_udp"}, "host": {"name": "web-01"}}) == "syslog_udp|web-01"
    by_address = {"input": {"type": "http"}, "log": {"source": {"address": "192.0.2.7:51234"}}}
    assert stream_key(by_address) == "http|192.0.2.7"
    v6 = {"input": {"type": "syslog_tcp"}, "log": {"source": {"address": "[2001:db8::1]:601"}}}
    assert stream_key(v6) == "syslog_tcp|[2001:db8::1]"
    assert stream_key({"input": {"type": "file"}, "log": {"file": {"path": "/var/log/auth.log"}}}) == (
        "file|/var/log/auth.log")
    assert stream_key({"host": {"name": ["odd"]}}) == "|"
    assert len(stream_key({"host": {"name": "x" * 100_000}})) == MAX_KEY_CHARS


def test_stream_clocks_and_flags_survive_a_snapshot() -> None:
    """snapshot/restore keeps the clocks (lateness still per stream) and the entries' flags."""
    eng, rules = engine(BRUTE_FORCE, lateness=60, clock=lambda: NOW)
    for i in range(18):
        feed(eng, rules, "ssh_failed", failed(NOW - 50 + i, "203.0.113.17"))
    feed(eng, rules, "ssh_failed", failed(NOW + 999, "203.0.113.17"))  # skewed, kept flagged
    restarted = CorrelationEngine(ruleset(BRUTE_FORCE).correlations, lateness=60, clock=lambda: NOW)
    assert restarted.restore(eng.snapshot()) == 1
    out = feed(restarted, rules, "ssh_failed", failed(NOW - 30, "203.0.113.17"))
    assert len(out) == 1 and out[0].extra["clock_skew"] == 1
    feed(restarted, rules, "ssh_failed", failed(NOW - 500, "203.0.113.18"))
    assert restarted.stats()["late"] == 1  # the stream's clock came back with the windows


def test_snapshot_of_the_previous_format_still_restores() -> None:
    """A snapshot written before stream clocks (4-field entries, one `newest`) restores."""
    old = {"version": 1, "newest": NOW, "rules": {}}
    eng, rules = engine(BRUTE_FORCE, lateness=60, clock=lambda: NOW)
    spec = eng.specs[0]
    old["rules"] = {spec.rule_id: {"fingerprint": spec.fingerprint, "groups": [
        [["203.0.113.19"], [[NOW - 5 - i, f"e{i}", 0, None] for i in range(19)]]]}}
    assert eng.restore(orjson.dumps(old)) == 1
    assert len(feed(eng, rules, "ssh_failed", failed(NOW, "203.0.113.19"))) == 1
