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


def test_prefilter_never_hides_a_match(community: tuple[RuleSet, Detector]) -> None:
    """On real events, routing+prefilter give exactly the hits of evaluating every routed rule."""
    from guetteur.collect.files import iter_file_records
    from guetteur.parse import parse_batch

    _, detector = community
    paths = sorted((SIGMA / "regression_data").rglob("*.evtx"))[:120]
    logs = DATA / "logs" / "windows-evtx" / "deepbluecli"
    paths += sorted(logs.glob("*.evtx"))[:6] if logs.is_dir() else []
    events = parse_batch(iter_file_records(paths, "windows_evtx")).events
    state = detector._state
    checked = 0
    for event in events:
        routed = detector._prefilter(state, event)
        everything = [*routed.always, *routed.gated]
        view = EventView(event, state.slots)
        brute = sorted(r.id for r in everything if r.match(view))
        assert sorted(h.rule_id for h in detector.match(event)) == brute
        checked += 1
    assert checked > 150
