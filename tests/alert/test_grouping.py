"""Hits -> alerts by event time (`alert.grouping.Grouper`), without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from alert_helpers import BRUTE_FORCE, EXFIL, T0, stored

from guetteur.alert.grouping import Grouper
from guetteur.alert.model import AlertRecord, attack_of, entity_of, severity_of
from guetteur.alert.silences import Silence, parse_matchers

HOUR = timedelta(hours=1)


def test_levels_map_to_three_severities_and_a_rule_can_be_overridden() -> None:
    assert [severity_of("r", lv) for lv in ("informational", "low", "medium", "high", "critical", "weird")] == [
        "low", "low", "medium", "critical", "critical", "medium"]
    assert severity_of("r", "low", {"r": "critical"}) == "critical"
    assert severity_of("other", "low", {"r": "critical"}) == "low"


def test_entity_is_the_group_by_else_the_events_host_user_and_address() -> None:
    assert entity_of({"source.ip": "10.0.0.1", "destination.ip": "1.2.3.4"}, {"entity": {"host.name": "x"}}) == {
        "source.ip": "10.0.0.1", "destination.ip": "1.2.3.4"}
    assert entity_of(None, {"entity": {"host.name": "web-01", "user.name": ""}}) == {"host.name": "web-01"}
    assert entity_of(None, None) == {}


def test_techniques_and_tactics_come_from_the_attack_tags() -> None:
    assert attack_of(["attack.credential-access", "attack.t1110.001"]) == (["T1110.001"], ["credential-access"])
    assert attack_of(["attack.t1048"]) == (["T1048"], ["exfiltration"])  # tactic implied by the technique
    assert attack_of(["cve.2021-4034"]) == ([], [])


def test_four_brute_force_hits_of_one_burst_are_one_alert() -> None:
    """20 failed logins give 4 event_count hits (5 each) for one host/address/user: one alert."""
    hits = [stored(at=30.0 * i, events=5) for i in range(4)]
    changes = Grouper(HOUR).group(hits, {})
    assert len(changes) == 1
    alert = changes[0].alert
    assert changes[0].created and alert.count == 4 and alert.event_total == 20
    assert alert.first_seen == hits[0].first_time and alert.last_seen == hits[-1].last_time
    assert alert.severity == "medium" and alert.techniques == ["T1110.001"]
    assert [link[0] for link in changes[0].links] == [h.id for h in hits]


def test_large_outbound_transfer_fired_nine_times_in_28_seconds_is_one_alert() -> None:
    group = {"source.ip": "10.0.20.15", "destination.ip": "185.199.110.153"}
    hits = [stored(EXFIL, at=3.5 * i, level="high", group=group, tags=["attack.exfiltration", "attack.t1048"],
                   title="Large Outbound Data Transfer") for i in range(9)]
    changes = Grouper(HOUR).group(hits, {})
    assert len(changes) == 1 and changes[0].alert.count == 9 and changes[0].alert.severity == "critical"


def test_other_entity_or_rule_makes_another_alert() -> None:
    changes = Grouper(HOUR).group([stored(), stored(group={"host.name": "db-01"}),
                                   stored("other-rule")], {})
    assert [c.created for c in changes] == [True, True, True]


def test_a_hit_past_the_window_opens_a_new_alert() -> None:
    first, late = stored(at=0), stored(at=3601 + 1)
    changes = Grouper(HOUR).group([first, late], {})
    assert [c.alert.count for c in changes] == [1, 1]


def _existing(status: str = "open", severity: str = "medium", count: int = 3) -> AlertRecord:
    hit = stored(at=-60)
    change = Grouper(HOUR).group([hit], {})[0]
    return replace(change.alert, id=41, status=status, severity=severity, count=count)  # type: ignore[arg-type]


def test_an_open_or_acknowledged_alert_is_updated_not_duplicated() -> None:
    for status in ("open", "acknowledged"):
        alert = _existing(status)
        changes = Grouper(HOUR).group([stored(at=0), stored(at=10)], {alert.key: alert})
        assert len(changes) == 1 and not changes[0].created and not changes[0].escalated
        assert changes[0].alert.id == 41 and changes[0].alert.count == 5


def test_a_closed_alerts_next_hit_opens_a_new_one() -> None:
    alert = _existing("closed")
    changes = Grouper(HOUR).group([stored(at=0)], {alert.key: alert})
    assert changes[0].created and changes[0].alert.id is None


def test_a_higher_severity_escalates_and_a_lower_one_never_lowers() -> None:
    alert = _existing(severity="medium")
    up = Grouper(HOUR).group([stored(at=0, level="high")], {alert.key: alert})[0]
    assert up.escalated and up.severity_before == "medium" and up.alert.severity == "critical"
    alert = _existing(severity="critical")
    down = Grouper(HOUR).group([stored(at=0, level="low")], {alert.key: alert})[0]
    assert not down.escalated and down.alert.severity == "critical"


def test_event_ids_are_bounded_and_every_event_counted() -> None:
    hits = [stored(at=i, events=5) for i in range(10)]
    alert = Grouper(HOUR, max_event_ids=7).group(hits, {})[0].alert
    assert len(alert.event_ids) == 7 and alert.event_total == 50


def test_silences_apply_by_event_time() -> None:
    silence = Silence(5, tuple(parse_matchers([{"field": "source.ip", "value": "203.0.113.0/24"}])),
                      T0, T0 + timedelta(minutes=10))
    grouper = Grouper(HOUR, silences=[silence])
    inside = grouper.group([stored(at=60)], {})[0]
    assert inside.alert.silenced and inside.alert.silence_id == 5 and inside.newly_silenced
    after = grouper.group([stored(at=601)], {})[0]
    assert not after.alert.silenced
    before = grouper.group([stored(at=-1)], {})[0]
    assert not before.alert.silenced


def test_an_open_alert_is_silenced_by_its_next_matching_hit() -> None:
    silence = Silence(9, tuple(parse_matchers([{"field": "rule_id", "value": BRUTE_FORCE}])), T0, T0 + HOUR)
    alert = _existing()
    change = Grouper(HOUR, silences=[silence]).group([stored(at=5)], {alert.key: alert})[0]
    assert change.newly_silenced and change.alert.silence_id == 9


def test_risk_score_is_the_max_of_the_hits() -> None:
    scores = iter([30, 80, 50])
    grouper = Grouper(HOUR, risk_of=lambda hit, tactics, entity: next(scores))
    assert grouper.group([stored(at=0), stored(at=1), stored(at=2)], {})[0].alert.risk_score == 80
