"""Correlation engine: each Sigma correlation type with group-by, windows, lateness, chains."""

from __future__ import annotations

import pytest
from correlation_helpers import T0, engine, event, feed, hit, ruleset

from guetteur.detect.hits import Hit

BASE = """
title: Failed SSH login
id: 6a0c5a52-4f7c-4c4b-9a43-000000000001
name: ssh_failed
status: test
logsource:
    product: linux
    service: sshd
detection:
    selection:
        event.outcome: failure
    condition: selection
level: low
"""

BRUTE_FORCE = (
    BASE
    + """---
title: SSH brute force
id: 6a0c5a52-4f7c-4c4b-9a43-000000000002
status: test
correlation:
    type: event_count
    rules:
        - ssh_failed
    group-by:
        - source.ip
    timespan: 1m
    condition:
        gte: 5
level: high
tags:
    - attack.credential-access
    - attack.t1110.001
"""
)


def failed(t: float, ip: str = "203.0.113.5", user: str = "root", eid: str | None = None) -> dict:
    return event(t, eid, source__ip=ip, user__name=user, event__outcome="failure")


def test_event_count_fires_on_threshold_with_group_key_and_events() -> None:
    """Five failures from one IP within a minute fire once, carrying the five events."""
    eng, rules = engine(BRUTE_FORCE)
    out = []
    for i in range(4):
        out += feed(eng, rules, "ssh_failed", failed(T0 + i * 10))
    assert out == []
    out = feed(eng, rules, "ssh_failed", failed(T0 + 40, eid="last"))
    assert len(out) == 1
    fired = out[0]
    assert fired.rule_id == "6a0c5a52-4f7c-4c4b-9a43-000000000002"
    assert fired.rule_title == "SSH brute force"
    assert fired.level == "high"
    assert fired.correlation == "event_count"
    assert fired.group_key == {"source.ip": "203.0.113.5"}
    assert fired.tags == ["attack.credential-access", "attack.t1110.001"]
    assert len(fired.event_ids) == 5 and fired.event_ids[-1] == "last"
    assert fired.event_times[0] == "2023-11-14T22:13:20.000Z"
    assert fired.alert is True
    assert fired.extra["value"] == 5 and fired.extra["condition"] == "gte 5"


def test_event_count_groups_are_separate() -> None:
    eng, rules = engine(BRUTE_FORCE)
    out = []
    for i in range(8):
        out += feed(eng, rules, "ssh_failed", failed(T0 + i, ip=f"198.51.100.{i % 2}"))
    assert out == []  # 4 per IP
    out = feed(eng, rules, "ssh_failed", failed(T0 + 9, ip="198.51.100.0"))
    assert [h.group_key for h in out] == [{"source.ip": "198.51.100.0"}]


def test_event_count_events_outside_the_window_do_not_count() -> None:
    """Failures 20 s apart: any 1-minute window holds at most four of them."""
    eng, rules = engine(BRUTE_FORCE)
    out = []
    for i in range(12):
        out += feed(eng, rules, "ssh_failed", failed(T0 + i * 20))
    assert out == []
    # ...but a burst inside one minute fires
    for i in range(5):
        out += feed(eng, rules, "ssh_failed", failed(T0 + 300 + i))
    assert len(out) == 1


def test_event_count_resets_after_firing() -> None:
    eng, rules = engine(BRUTE_FORCE)
    fired = []
    for i in range(14):
        fired += feed(eng, rules, "ssh_failed", failed(T0 + i))
    assert len(fired) == 2  # at the 5th and the 10th event, not on every event after the 5th
    assert eng.rule_stats("6a0c5a52-4f7c-4c4b-9a43-000000000002")["fired"] == 2


def test_event_without_group_field_is_not_grouped() -> None:
    eng, rules = engine(BRUTE_FORCE)
    for i in range(6):
        doc = event(T0 + i, event__outcome="failure")
        assert feed(eng, rules, "ssh_failed", doc) == []
    assert eng.stats()["missing_group_field"] == 6
    assert eng.stats()["groups"] == 0


def test_late_event_within_lateness_is_placed_by_its_own_time() -> None:
    """Out-of-order arrival inside the lateness still completes the window, unflagged."""
    eng, rules = engine(BRUTE_FORCE, lateness=30)
    out = []
    for t in (10, 12, 14, 16):
        out += feed(eng, rules, "ssh_failed", failed(T0 + t))
    out += feed(eng, rules, "ssh_failed", failed(T0 + 100))  # newest; alone in its window
    for t in (75, 80, 85):
        out += feed(eng, rules, "ssh_failed", failed(T0 + t))  # 25 s, 20 s, 15 s late: on time
    assert len(out) == 0  # 75, 80, 85, 100 = four in [40, 100]
    out = feed(eng, rules, "ssh_failed", failed(T0 + 71, eid="late-ok"))
    assert len(out) == 1
    assert out[0].event_ids[0] == "late-ok"  # placed first, by its own time
    assert "late" not in out[0].extra and eng.stats()["late"] == 0


def test_event_beyond_the_lateness_is_counted_flagged_and_still_evaluated() -> None:
    """An event older than its stream's newest time - lateness is late: never dropped, it
    still completes the window it belongs to, and the hit says it holds a late event."""
    eng, rules = engine(BRUTE_FORCE, lateness=30)
    out = []
    for t in (10, 12, 14, 16):
        out += feed(eng, rules, "ssh_failed", failed(T0 + t))
    out += feed(eng, rules, "ssh_failed", failed(T0 + 100))
    assert out == []
    out = feed(eng, rules, "ssh_failed", failed(T0 + 20, eid="late"))  # 80 s late > 30 s lateness
    assert len(out) == 1
    assert out[0].event_ids[-1] == "late" and len(out[0].event_ids) == 5
    assert out[0].extra["late"] == 1 and "guetteur.late_event" in out[0].tags
    assert eng.stats()["late"] == 1


def test_late_event_older_than_the_active_window() -> None:
    """A late event may complete a window that ends before the newest event."""
    eng, rules = engine(BRUTE_FORCE, lateness=120)
    out = feed(eng, rules, "ssh_failed", failed(T0 + 200))
    for t in (100, 101, 102, 103):
        out += feed(eng, rules, "ssh_failed", failed(T0 + t))
    assert out == []
    out = feed(eng, rules, "ssh_failed", failed(T0 + 104, eid="fifth"))
    assert len(out) == 1
    assert out[0].event_ids == ["ev-1700000100.000", "ev-1700000101.000", "ev-1700000102.000",
                                "ev-1700000103.000", "fifth"]  # fmt: skip
    assert eng.stats()["entries"] == 1  # the used events are consumed; T0+200 stays


def test_bogus_future_timestamp_does_not_make_later_events_late() -> None:
    eng, rules = engine(BRUTE_FORCE, lateness=10, clock=lambda: T0 + 60)
    feed(eng, rules, "ssh_failed", failed(4_000_000_000.0, ip="192.0.2.99"))  # year 2096
    out = []
    for i in range(5):
        out += feed(eng, rules, "ssh_failed", failed(T0 + i))
    assert len(out) == 1
    assert eng.stats()["late"] == 0 and eng.stats()["clock_skew"] == 1
    assert "clock_skew" not in out[0].extra  # the skewed event was in another group


VALUE_COUNT = (
    BASE
    + """---
title: Password spraying
id: 6a0c5a52-4f7c-4c4b-9a43-000000000003
correlation:
    type: value_count
    rules: ssh_failed
    group-by:
        - source.ip
    timespan: 5m
    condition:
        field: user.name
        gte: 3
level: high
"""
)


def test_value_count_counts_distinct_values() -> None:
    eng, rules = engine(VALUE_COUNT)
    out = []
    for i in range(6):
        out += feed(eng, rules, "ssh_failed", failed(T0 + i, user="root"))
    out += feed(eng, rules, "ssh_failed", failed(T0 + 10, user="admin"))
    assert out == []
    out = feed(eng, rules, "ssh_failed", failed(T0 + 11, user="oracle"))
    assert len(out) == 1
    assert out[0].correlation == "value_count" and out[0].extra["value"] == 3
    # values leave the window: root at T0..T0+5 are gone 5 minutes later
    for user in ("root", "admin"):
        out = feed(eng, rules, "ssh_failed", failed(T0 + 400, user=user))
    assert out == []


VALUE_COUNT_LT = (
    BASE
    + """---
title: Few distinct users
id: 6a0c5a52-4f7c-4c4b-9a43-000000000004
correlation:
    type: value_count
    rules: ssh_failed
    group-by:
        - source.ip
    timespan: 1m
    condition:
        field: user.name
        lt: 2
"""
)


def test_value_count_lt_is_evaluated_when_the_window_closes() -> None:
    eng, rules = engine(VALUE_COUNT_LT, lateness=5)
    out = []
    for i in range(3):
        out += feed(eng, rules, "ssh_failed", failed(T0 + i, ip="198.51.100.1", user="root"))
        out += feed(eng, rules, "ssh_failed", failed(T0 + i, ip="198.51.100.2", user=f"u{i}"))
    assert out == []  # not decided before the window [T0, T0+60] closes
    out = feed(eng, rules, "ssh_failed", failed(T0 + 64, ip="198.51.100.3"))  # watermark T0+59
    assert out == []
    out = feed(eng, rules, "ssh_failed", failed(T0 + 66, ip="198.51.100.3"))  # watermark T0+61
    assert [h.group_key for h in out] == [{"source.ip": "198.51.100.1"}]  # 1 distinct < 2
    assert out[0].event is None and len(out[0].event_ids) == 3
    # wall clock closes the rest when events stop
    out = eng.advance(T0 + 1000)
    assert [h.group_key for h in out] == [{"source.ip": "198.51.100.3"}]
    assert eng.stats()["groups"] == 0


def test_flush_closes_open_windows() -> None:
    eng, rules = engine(VALUE_COUNT_LT)
    feed(eng, rules, "ssh_failed", failed(T0))
    assert len(eng.flush()) == 1


TEMPORAL = """
title: Recon whoami
name: recon_a
logsource: {category: process_creation, product: linux}
detection: {sel: {process.name: whoami}, condition: sel}
---
title: Recon id
name: recon_b
logsource: {category: process_creation, product: linux}
detection: {sel: {process.name: id}, condition: sel}
---
title: Recon uname
name: recon_c
logsource: {category: process_creation, product: linux}
detection: {sel: {process.name: uname}, condition: sel}
---
title: Recon
id: 6a0c5a52-4f7c-4c4b-9a43-000000000005
correlation:
    type: temporal
    rules: [recon_a, recon_b, recon_c]
    group-by: [host.name, user.name]
    timespan: 5m
level: medium
"""


def proc(t: float, host: str = "web1", user: str = "www-data") -> dict:
    return event(t, host__name=host, user__name=user)


def test_temporal_needs_every_rule_in_the_window_any_order() -> None:
    eng, rules = engine(TEMPORAL)
    out = feed(eng, rules, "recon_c", proc(T0))
    out += feed(eng, rules, "recon_a", proc(T0 + 10))
    out += feed(eng, rules, "recon_a", proc(T0 + 11))
    out += feed(eng, rules, "recon_b", proc(T0 + 12, user="other"))  # another group
    assert out == []
    out = feed(eng, rules, "recon_b", proc(T0 + 20))
    assert len(out) == 1
    assert out[0].group_key == {"host.name": "web1", "user.name": "www-data"}
    assert out[0].extra["rules"] == ["recon_a", "recon_b", "recon_c"]


def test_temporal_out_of_window() -> None:
    eng, rules = engine(TEMPORAL)
    out = feed(eng, rules, "recon_a", proc(T0))
    out += feed(eng, rules, "recon_b", proc(T0 + 200))
    out += feed(eng, rules, "recon_c", proc(T0 + 400))  # recon_a is 400 s old: outside 5 min
    assert out == []
    out = feed(eng, rules, "recon_a", proc(T0 + 401))
    assert len(out) == 1


def test_one_event_matching_two_rules_counts_for_both() -> None:
    eng, rules = engine(TEMPORAL)
    doc = proc(T0)
    out = eng.process(doc, [hit(rules, "recon_a", doc), hit(rules, "recon_b", doc)])
    assert out == []
    out = feed(eng, rules, "recon_c", proc(T0 + 1))
    assert len(out) == 1


ORDERED = TEMPORAL.replace("type: temporal", "type: temporal_ordered")


def test_temporal_ordered_requires_the_rule_order() -> None:
    eng, rules = engine(ORDERED)
    out = []
    for name, t in (("recon_c", 0), ("recon_b", 1), ("recon_a", 2)):
        out += feed(eng, rules, name, proc(T0 + t))
    assert out == []  # all three, wrong order
    out += feed(eng, rules, "recon_b", proc(T0 + 3))
    assert out == []  # a, b in order; c still missing after b
    out += feed(eng, rules, "recon_c", proc(T0 + 4))
    assert len(out) == 1 and out[0].correlation == "temporal_ordered"


def test_temporal_ordered_chain_must_fit_the_timespan() -> None:
    eng, rules = engine(ORDERED)
    out = feed(eng, rules, "recon_a", proc(T0))
    out += feed(eng, rules, "recon_b", proc(T0 + 200))
    out += feed(eng, rules, "recon_c", proc(T0 + 301))  # a..c spans 301 s > 300 s
    assert out == []
    out += feed(eng, rules, "recon_a", proc(T0 + 302))
    out += feed(eng, rules, "recon_b", proc(T0 + 303))
    out += feed(eng, rules, "recon_c", proc(T0 + 304))
    assert len(out) == 1


def test_temporal_ordered_late_step_is_ordered_by_its_time() -> None:
    """b arrives after c but happened before it: the order is by event time."""
    eng, rules = engine(ORDERED, lateness=60)
    out = feed(eng, rules, "recon_a", proc(T0))
    out += feed(eng, rules, "recon_c", proc(T0 + 20))
    assert out == []
    out = feed(eng, rules, "recon_b", proc(T0 + 10))
    assert len(out) == 1


ALIASES = """
title: Internal error
name: internal_error
logsource: {category: webserver}
detection: {sel: {http.response.status_code: 500}, condition: sel}
---
title: New connection
name: new_network_connection
logsource: {category: network_connection}
detection: {sel: {event.category: network}, condition: sel}
---
title: Error then callback
id: 6a0c5a52-4f7c-4c4b-9a43-000000000006
correlation:
    type: temporal
    rules: [internal_error, new_network_connection]
    group-by: [internal_ip, remote_ip]
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_network_connection: destination.ip
"""


def test_aliases_group_different_fields_of_different_rules() -> None:
    eng, rules = engine(ALIASES)
    web = event(T0, source__ip="198.51.100.7", destination__ip="10.0.0.5")
    out = feed(eng, rules, "internal_error", web)
    # the same addresses, but not swapped as the aliases require: another group
    wrong = event(T0 + 1, source__ip="198.51.100.7", destination__ip="10.0.0.5")
    out += feed(eng, rules, "new_network_connection", wrong)
    assert out == []
    conn = event(T0 + 2, source__ip="10.0.0.5", destination__ip="198.51.100.7")
    out = feed(eng, rules, "new_network_connection", conn)
    assert len(out) == 1
    assert out[0].group_key == {"internal_ip": "10.0.0.5", "remote_ip": "198.51.100.7"}


CHAIN = """
title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - user.name
    timespan: 10m
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - user.name
    timespan: 10m
    condition:
        gte: 3
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource: {product: linux, service: sshd}
detection: {sel: {event.outcome: failure}, condition: sel}
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
name: successful_login
logsource: {product: linux, service: sshd}
detection: {sel: {event.outcome: success}, condition: sel}
"""


def test_chained_correlation_and_generate_false() -> None:
    """event_count feeds temporal_ordered; the inner correlation's hit is not an alert."""
    eng, rules = engine(CHAIN)
    assert [s.type for s in eng.specs] == ["event_count", "temporal_ordered"]  # dependencies first
    out = feed(eng, rules, "successful_login", event(T0, user__name="bob"))  # success first: no
    for i in range(3):
        out += feed(eng, rules, "failed_login", event(T0 + 1 + i, user__name="bob"))
    assert [(h.correlation, h.alert) for h in out] == [("event_count", False)]
    out = feed(eng, rules, "successful_login", event(T0 + 30, user__name="bob"))
    assert [(h.rule_title, h.alert) for h in out] == [
        ("Correlation - Multiple Failed Logins Followed by Successful Login", True)
    ]
    assert out[0].group_key == {"user.name": "bob"}


def test_generate_true_keeps_inner_alerts() -> None:
    text = CHAIN.replace(
        "    timespan: 10m\nlevel: high", "    timespan: 10m\n    generate: true\nlevel: high"
    )
    eng, rules = engine(text)
    out = []
    for i in range(3):
        out += feed(eng, rules, "failed_login", event(T0 + i, user__name="bob"))
    assert [(h.correlation, h.alert) for h in out] == [("event_count", True)]


METRICS = (
    BASE
    + """---
title: Exfiltration volume
id: 6a0c5a52-4f7c-4c4b-9a43-000000000010
correlation:
    type: value_sum
    rules: ssh_failed
    group-by: [source.ip]
    timespan: 1h
    condition:
        field: source.bytes
        gt: 1000
---
title: Average size
id: 6a0c5a52-4f7c-4c4b-9a43-000000000011
correlation:
    type: value_avg
    rules: ssh_failed
    group-by: [source.ip]
    timespan: 1m
    condition:
        field: source.bytes
        gt: 300
---
title: p90 size
id: 6a0c5a52-4f7c-4c4b-9a43-000000000012
correlation:
    type: value_percentile
    rules: ssh_failed
    group-by: [source.ip]
    timespan: 1m
    condition:
        field: source.bytes
        percentile: 90
        gte: 700
"""
)


def test_value_sum_avg_percentile() -> None:
    eng, rules = engine(METRICS)
    out = []
    for i, size in enumerate((100, 200, 300, 1000)):
        out += feed(eng, rules, "ssh_failed", event(T0 + i, source__ip="192.0.2.1", source__bytes=size))
    out += feed(eng, rules, "ssh_failed", event(T0 + 5, source__ip="192.0.2.1", source__bytes="lots"))
    assert [h.rule_title for h in out] == ["Exfiltration volume"]  # 100+200+300+1000 > 1000
    assert out[0].extra["value"] == 1600
    assert eng.stats()["non_numeric"] == 3  # "lots", once per rule
    closed = eng.flush()
    by_title = {h.rule_title: h.extra["value"] for h in closed}
    assert by_title["Average size"] == 400
    assert by_title["p90 size"] == pytest.approx(790)  # 300 + 0.7 * (1000 - 300) >= 700
    assert set(by_title) == {"Average size", "p90 size"}


def test_value_median_and_missing_percentile() -> None:
    from guetteur.detect.correlation import CorrelationEngine
    from guetteur.detect.rules import load_rule_texts

    text = METRICS.replace("        percentile: 90\n", "")
    rules = load_rule_texts([("m.yml", text)])
    eng = CorrelationEngine(rules.correlations, lateness=0)
    assert [rid for rid, _ in eng.errors] == ["6a0c5a52-4f7c-4c4b-9a43-000000000012"]
    assert "percentile" in eng.errors[0][1]
    assert len(eng.specs) == 2  # the other rules still load


EXTENDED = """
title: a
name: step_a
logsource: {product: linux, service: sshd}
detection: {sel: {event.action: a}, condition: sel}
---
title: b
name: step_b
logsource: {product: linux, service: sshd}
detection: {sel: {event.action: b}, condition: sel}
---
title: a without b
id: 6a0c5a52-4f7c-4c4b-9a43-000000000020
correlation:
    type: temporal
    rules: [step_a, step_b]
    group-by: [host.name]
    timespan: 1m
    condition: step_a and not step_b
"""


def test_extended_condition_with_not_closes_the_window() -> None:
    eng, rules = engine(EXTENDED)
    feed(eng, rules, "step_a", event(T0, host__name="h1"))
    feed(eng, rules, "step_a", event(T0, host__name="h2"))
    feed(eng, rules, "step_b", event(T0 + 5, host__name="h2"))
    out = eng.advance(T0 + 120)
    assert [h.group_key for h in out] == [{"host.name": "h1"}]


def test_unrelated_hits_and_no_correlations_cost_nothing() -> None:
    from guetteur.detect.correlation import CorrelationEngine
    from guetteur.detect.hits import Hit

    eng, _ = engine(BRUTE_FORCE)
    stray = Hit("other", "Other", "low", [], ["x"], [event(T0)["@timestamp"]], event(T0))
    assert eng.process(event(T0), [stray]) == []
    assert eng.stats()["groups"] == 0
    empty = CorrelationEngine([], lateness=60)
    assert empty.process(event(T0), [stray]) == []


def test_cycle_and_self_reference_are_refused() -> None:
    from guetteur.detect.correlation import CorrelationEngine
    from guetteur.detect.rules import load_rule_texts

    text = """
title: one
id: 6a0c5a52-4f7c-4c4b-9a43-000000000031
name: one
correlation: {type: event_count, rules: [two], group-by: [host.name], timespan: 1m, condition: {gte: 2}}
---
title: two
id: 6a0c5a52-4f7c-4c4b-9a43-000000000032
name: two
correlation: {type: event_count, rules: [one], group-by: [host.name], timespan: 1m, condition: {gte: 2}}
"""
    rules = load_rule_texts([("cycle.yml", text)])
    eng = CorrelationEngine(rules.correlations, lateness=0)
    assert eng.specs == []
    assert (
        sorted(reason for _, reason in eng.errors)
        == ["correlation rules reference each other in a cycle"] * 2
    )


def test_reload_keeps_unchanged_rules_state() -> None:
    from guetteur.detect.correlation import CorrelationEngine
    from guetteur.detect.rules import load_rule_texts

    eng, rules = engine(BRUTE_FORCE + VALUE_COUNT.removeprefix(BASE))
    for i in range(4):
        feed(eng, rules, "ssh_failed", failed(T0 + i, user=f"u{i % 2}"))
    changed = BRUTE_FORCE.replace("level: high", "level: critical") + VALUE_COUNT.removeprefix(BASE).replace(
        "gte: 3", "gte: 4"
    )
    new_rules = load_rule_texts([("x.yml", changed)])
    eng.reload(new_rules.correlations)
    assert eng.rule_stats("6a0c5a52-4f7c-4c4b-9a43-000000000002")["entries"] == 4  # level only: kept
    assert eng.rule_stats("6a0c5a52-4f7c-4c4b-9a43-000000000003")["entries"] == 0  # condition: reset
    out = feed(eng, new_rules, "ssh_failed", failed(T0 + 5))
    assert [(h.rule_title, h.level) for h in out] == [("SSH brute force", "critical")]
    eng.reload([])
    assert eng.specs == [] and isinstance(eng, CorrelationEngine)


@pytest.mark.parametrize(
    "stamp",
    ["", "garbage", "2023-13-45T99:99:99Z", None, 12, ["2023-11-14T22:13:20Z"], {"a": 1}, "9" * 5000],
)
def test_hostile_timestamps_never_raise(stamp: object) -> None:
    eng, rules = engine(BRUTE_FORCE, lateness=30, clock=lambda: T0)
    doc = failed(T0)
    doc["@timestamp"] = stamp
    h = hit(rules, "ssh_failed", doc)
    h.event_times = []
    eng.process(doc, [h])
    assert eng.stats()["entries"] == 1


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        [],
        ["a", "b"],
        {"nested": 1},
        1.5,
        True,
        "x" * 100_000,
        "\x00\ud800".encode("utf-8", "surrogatepass"),
    ],
)
def test_hostile_group_values_never_raise(value: object) -> None:
    eng, rules = engine(BRUTE_FORCE)
    doc = failed(T0)
    doc["source"]["ip"] = value
    feed(eng, rules, "ssh_failed", doc)
    stats = eng.stats()
    assert stats["entries"] + stats["missing_group_field"] == 1


def test_event_without_timestamp_takes_the_stream_time_not_the_clock() -> None:
    """Replaying old events: one event without @timestamp must not make the rest late."""
    eng, rules = engine(BRUTE_FORCE, lateness=10, clock=lambda: T0 + 10 * 86400)
    out = feed(eng, rules, "ssh_failed", failed(T0))
    doc = failed(T0)
    h = hit(rules, "ssh_failed", doc)
    del doc["@timestamp"]
    h.event_times = []
    out += eng.process(doc, [h])
    for i in range(3):
        out += feed(eng, rules, "ssh_failed", failed(T0 + 1 + i))
    assert len(out) == 1 and eng.stats()["late"] == 0


def test_live_tick_does_not_make_a_backlog_late() -> None:
    """The pipeline's once-a-second `advance()` must not drop a stream that is catching up
    on older events (a file read after a restart): those events keep their event time."""
    import time as _time

    eng, rules = engine(BRUTE_FORCE, lateness=60)
    hour_ago = _time.time() - 3600
    out: list[Hit] = []
    for i in range(5):
        out += feed(eng, rules, "ssh_failed", failed(hour_ago + i))
        out += eng.advance()  # the live tick, wall clock: the backlog is still arriving
    assert [h.group_key for h in out] == [{"source.ip": "203.0.113.5"}]
    assert eng.stats()["late"] == 0


def test_live_tick_closes_windows_of_an_idle_stream_without_making_later_backlog_late() -> None:
    """When events stop arriving, the wall clock closes windows (the tick's purpose); it does
    not move the event-time watermark, so a backlog arriving afterwards is still counted."""
    eng, rules = engine(VALUE_COUNT_LT, lateness=5)
    feed(eng, rules, "ssh_failed", failed(T0, ip="198.51.100.1"))
    out = eng.advance(T0 + 1000)  # idle: the window [T0, T0+60] is closed by the clock
    assert [h.group_key for h in out] == [{"source.ip": "198.51.100.1"}]
    feed(eng, rules, "ssh_failed", failed(T0 + 10, ip="198.51.100.2"))  # older than the clock
    assert eng.stats()["late"] == 0


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte", "eq", "neq"])
def test_each_condition_operator_compares_as_python_does(op: str) -> None:
    """`condition_holds` of a rule written with each operator, on values below, at and above
    its threshold (ints and floats, as the aggregates give them)."""
    import operator

    from guetteur.detect.correlation import condition_holds

    compare = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
               "eq": operator.eq, "neq": operator.ne}[op]
    from guetteur.detect.correlation_rule import CorrelationSpec

    [item] = ruleset(VALUE_COUNT_LT.replace("lt: 2", f"{op}: 2")).correlations
    spec = CorrelationSpec.from_sigma(item.rule)
    assert spec.op == op
    for value in (1, 1.5, 2, 2.0, 2.5, 3):
        assert condition_holds(spec, value) is compare(value, 2.0), (op, value)


def test_a_group_keeps_only_the_entries_a_window_can_still_use() -> None:
    """A rising rule's group drops, on each new event of the group, the entries older than its
    newest time - lateness - timespan: one source failing every 20 s for an hour keeps the
    last minute and a half of entries (timespan 1m, lateness 30 s), not all 180."""
    eng, rules = engine(BRUTE_FORCE, lateness=30)
    kept = []
    for i in range(180):
        feed(eng, rules, "ssh_failed", failed(T0 + i * 20))
        kept.append(eng.stats()["entries"])
    assert max(kept[10:]) <= 6  # 90 s of entries, 20 s apart, the new one included
    assert kept[-1] >= 4  # and the window's own entries are kept
