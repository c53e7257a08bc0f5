"""The SigmaHQ community rule set: parse, compile, routing coverage, and regression samples.

Prints the compatibility figures. Skips cleanly without `../shared/data`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from guetteur.detect.engine import Detector
from guetteur.detect.rules import RuleSet, load_rules
from guetteur.detect.view import EventView

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SIGMA = DATA / "sigma"

pytestmark = pytest.mark.skipif(not SIGMA.is_dir(), reason="shared test data not available")


@pytest.fixture(scope="module")
def community() -> tuple[RuleSet, Detector]:
    ruleset = load_rules(sorted(SIGMA.glob("rules*")))
    return ruleset, Detector(ruleset, placeholders={})


def test_every_rule_parses_or_is_listed(community: tuple[RuleSet, Detector]) -> None:
    ruleset, detector = community
    files = sorted(p for d in SIGMA.glob("rules*") for p in d.rglob("*.yml"))
    listed = {e.file for e in ruleset.errors}
    loaded = {r.source for r in ruleset.rules}
    assert {str(p) for p in files} <= loaded | listed
    mapped = len(detector.rules) + len(detector.errors)
    ratio = len(detector.rules) / mapped
    print(
        f"\nSigmaHQ: {len(files)} rule files, {len(ruleset.rules)} parsed, {len(ruleset.errors)} parse errors; "
        f"{len(detector.unrouted)} with an unmapped log source; of {mapped} mapped, {len(detector.rules)} "
        f"compile and run ({ratio:.2%}), {len(detector.errors)} do not:"
    )
    for error in detector.errors:
        print(f"  {Path(error.file).name}: {error.reason}")
    assert ratio >= 0.98
    # every compile error is explained (placeholders without configured values here)
    assert all("placeholder" in e.reason for e in detector.errors), detector.errors


def _regression_cases() -> list[tuple[str, Path, int]]:
    cases = []
    for info in sorted(SIGMA.glob("regression_data/**/info.yml")):
        meta = yaml.safe_load(info.read_text())
        rule_id = str(meta["rule_metadata"][0]["id"])
        for test in meta.get("regression_tests_info") or []:
            path = SIGMA / test["path"]
            if path.suffix == ".evtx" and path.is_file():
                cases.append((rule_id, path, int(test.get("match_count", 1))))
    return cases


def test_regression_samples_fire_through_the_evtx_parser(community: tuple[RuleSet, Detector]) -> None:
    from guetteur.collect.files import iter_file_records
    from guetteur.parse import parse_batch

    _, detector = community
    cases = _regression_cases()
    assert len(cases) >= 200
    failures = []
    for rule_id, path, wanted in cases:
        events = parse_batch(iter_file_records([path], "windows_evtx")).events
        got = sum(1 for event in events for hit in detector.match(event) if hit.rule_id == rule_id)
        if got < wanted:
            failures.append((rule_id, path.parent.name, got, wanted))
    print(f"\nregression samples: {len(cases) - len(failures)}/{len(cases)} fire at least match_count times")
    for failure in failures:
        print("  FAIL", failure)
    assert not failures


def _mixed_events() -> list[dict[str, object]]:
    """Windows EVTX samples, web access, Linux auth, syslog and auditd logs, parsed."""
    from guetteur.collect.files import iter_file_records
    from guetteur.parse import parse_batch

    paths = sorted((SIGMA / "regression_data").rglob("*.evtx"))[:120]
    logs = DATA / "logs" / "windows-evtx" / "deepbluecli"
    paths += sorted(logs.glob("*.evtx"))[:6] if logs.is_dir() else []
    events = parse_batch(iter_file_records(paths, "windows_evtx")).events
    crowdsec = DATA / "logs" / "crowdsec-hub" / "tests"
    others = [
        DATA / "logs" / "web-access" / "elastic-examples-apache_logs" / "apache_logs",
        *(crowdsec / name for name in ("sshd-logs", "ssh-bf", "auditd-logs", "auditd-base64-exec", "syslog-logs")),
    ]
    files = [p for folder in others if folder.exists()
             for p in ([folder] if folder.is_file() else sorted(folder.rglob("*.log")))]
    events += parse_batch(iter_file_records(files, None)).events[:4000]
    return events


def _assert_prefilter_is_exact(detector: Detector, events: list[dict[str, object]]) -> dict[str, int]:
    """Routing + prefilter give exactly the hits of evaluating every routed rule; returns how
    many events were prefiltered with each form of text."""
    state = detector._state
    forms = {"fields": 0, "projection": 0, "full": 0}
    for event in events:
        routed = detector._prefilter(state, event)
        if routed.gated:
            form = "fields" if routed.fields is not None else "projection" if routed.projection else "full"
            forms[form] += 1
        # every rule of the event's log sources, those its key values exclude included
        everything = dict.fromkeys([*routed.always, *routed.gated])
        view = EventView(event, state.slots)
        brute = sorted(r.id for r in everything if r.match(view))
        assert sorted(h.rule_id for h in detector.match(event)) == brute, event
    return forms


def test_prefilter_never_hides_a_match(
    community: tuple[RuleSet, Detector], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On real events of every family, with the community rules (keyword rules included: the
    whole event is scanned), without their keyword rules (the values of the fields their
    literals come from are scanned, or a projection of the event when they are many) and
    with the built-in pack."""
    from guetteur.detect import prefilter
    from guetteur.detect.rules import default_rule_paths

    ruleset, detector = community
    events = _mixed_events()
    assert len(events) > 2000
    forms = _assert_prefilter_is_exact(detector, events)
    assert forms["full"] > 100
    without_keywords = RuleSet([r for r in ruleset.rules if r.id not in
                                {rule.id for rule in detector.rules.values() if rule.full_text}])
    forms = _assert_prefilter_is_exact(Detector(without_keywords, placeholders={}), events)
    assert forms["fields"] > 100
    forms = _assert_prefilter_is_exact(Detector(load_rules(default_rule_paths())), events)
    assert forms["fields"] > 100
    monkeypatch.setattr(prefilter, "SLOT_LIMIT", 0)  # every route scans a projection
    forms = _assert_prefilter_is_exact(Detector(without_keywords, placeholders={}), events)
    assert forms["projection"] > 100


def test_windows_keywords_and_level_compare_the_record_values() -> None:
    """Sigma's `Keywords`/`Level` are the System values of the record (`0x8010000000000000`,
    `0`), not the names Winlogbeat shows (`Audit Failure`, `information`)."""
    from guetteur.collect.files import iter_file_records
    from guetteur.parse import parse_batch

    sample = DATA / "logs" / "windows-evtx" / "deepbluecli" / "mimikatz-privesc-hashdump.evtx"
    if not sample.is_file():
        pytest.skip("sample EVTX not available")
    events = parse_batch(iter_file_records([sample], "windows_evtx")).events
    event = next(e for e in events if e["winlog"]["event_id"] == "4673"
                 and "0x8010000000000000" in e["event"]["original"])
    assert event["winlog"]["keywords"] == ["Audit Failure"]
    rule = ("title: t\nid: 6daac7fc-0000-449a-a71a-e6b4d59a0e54\nlogsource: {product: windows, service: security}\n"
            "detection:\n  sel:\n    EventID: 4673\n    Keywords: '0x8010000000000000'\n    Level: {level}\n"
            "  condition: sel\n")
    from guetteur.detect.rules import load_rule_texts

    fires = Detector(load_rule_texts([("t.yml", rule.replace("{level}", "0"))]))
    assert [h.rule_title for h in fires.match(event)] == ["t"]
    silent = Detector(load_rule_texts([("t.yml", rule.replace("{level}", "4"))]))
    assert silent.match(event) == []
