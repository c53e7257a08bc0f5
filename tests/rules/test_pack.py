"""The built-in rule pack: it loads cleanly, follows its conventions, and every rule's test
logs fire (or stay silent) through the real parsers, detector and correlation engine.

The pack is loaded once per module; each rule file's cases run as one parametrised test.
"""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from pathlib import Path

import pytest
from rule_pack import PACK, PLATFORMS, RuleFile, pack_files, run_case

from guetteur.detect import attack
from guetteur.detect.engine import Detector
from guetteur.detect.hits import LEVELS
from guetteur.detect.logsource import route_is_mapped, rule_route_key
from guetteur.detect.rules import RuleSet, builtin_rules_dir, load_rules, validate_rules
from guetteur.stats.first_seen_rule import is_first_seen

FILES = pack_files() if PACK.is_dir() else []
MIN_RULES = 40
# Log sources the pack uses before `detect/logsource.py` routes any parser's events to them
# (application logs: json_lines, python_logging, uvicorn_access have no Sigma log source yet).
# Their rules load; their tests are expected failures until the routing exists, and run for
# real as soon as it does.
AWAITING_ROUTING = {(None, "application", None)}
MIN_DESCRIPTION = 120  # a triage note, not a title repeated
STATUSES = {"stable", "test", "experimental"}


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_rules([PACK])


@pytest.fixture(scope="module")
def detector(ruleset: RuleSet) -> Detector:
    return Detector(ruleset, timing=False)


def _ids() -> list[str]:
    return [f.label for f in FILES]


def _xfail_if_unrouted(rule_file: RuleFile, detector: Detector) -> None:
    unrouted = {e.file for e in detector.unrouted}
    if str(rule_file.path) in unrouted:
        pytest.xfail(f"{rule_file.label}: its log source is not routed yet ({AWAITING_ROUTING})")


# --- the pack as a whole ------------------------------------------------------------------------

def test_pack_loads_without_errors(ruleset: RuleSet, detector: Detector) -> None:
    assert FILES, f"no rule files under {PACK}"
    assert not ruleset.errors, ruleset.errors
    assert not detector.errors, detector.errors
    by_source = {r.source: r for r in ruleset.rules}
    unexpected = [e for e in detector.unrouted
                  if rule_route_key(by_source[e.file].rule.logsource) not in AWAITING_ROUTING]
    assert not unexpected, f"rules no parser's events can reach: {unexpected}"


def test_pack_passes_pysigma_validators(ruleset: RuleSet) -> None:
    assert validate_rules(ruleset) == []


def test_pack_has_enough_rules(ruleset: RuleSet) -> None:
    alerting = [f for f in FILES if f.main.get("id")]
    assert len(alerting) >= MIN_RULES, len(alerting)
    assert len(ruleset.rules) + len(ruleset.correlations) >= MIN_RULES


def test_pack_is_the_builtin_pack() -> None:
    """A source checkout finds this folder as the built-in pack (unless overridden)."""
    found = builtin_rules_dir()
    assert found is not None
    assert found.resolve() == PACK.resolve() or "GUETTEUR_RULES_DIR" in os.environ


def test_ids_and_names_are_unique() -> None:
    ids = Counter(str(d.get("id")) for f in FILES for d in f.documents)
    assert not [i for i, n in ids.items() if n > 1], ids.most_common(3)
    names = Counter(d["name"] for f in FILES for d in f.documents if d.get("name"))
    assert not [n for n, c in names.items() if c > 1], names.most_common(3)


def test_every_rule_file_has_tests() -> None:
    missing = [f.label for f in FILES if not f.tests_found or not f.must_fire or not f.must_not_fire]
    assert not missing, f"rule files without must_fire and must_not_fire cases: {missing}"


def test_no_stray_files() -> None:
    """Only rule files and their tests (and the README) live in the pack."""
    allowed = {".yml", ".tests", ".md"}
    stray = [str(p.relative_to(PACK)) for p in PACK.rglob("*") if p.is_file() and p.suffix not in allowed]
    assert not stray, stray
    orphans = [str(p.relative_to(PACK)) for p in PACK.rglob("*.tests") if not p.with_suffix(".yml").is_file()]
    assert not orphans, orphans


# --- conventions, file by file ------------------------------------------------------------------

@pytest.mark.parametrize("rule_file", FILES, ids=_ids())
def test_conventions(rule_file: RuleFile) -> None:
    platform = rule_file.path.parent.name
    assert rule_file.path.parent.parent == PACK and platform in PLATFORMS, rule_file.label
    assert re.fullmatch(r"[a-z]+(_[a-z0-9]+)+\.yml", rule_file.path.name), rule_file.label
    names = {d.get("name") for d in rule_file.documents if d.get("name")}
    for doc in rule_file.documents:
        title = doc.get("title", "?")
        assert uuid.UUID(str(doc.get("id"))).version == 4, title
        assert doc.get("author") == "Guetteur", title
        assert doc.get("status") in STATUSES, title
        assert doc.get("level") in LEVELS, title
        assert doc.get("date"), title
        assert len(str(doc.get("description", ""))) >= 40, f"{title}: description too short"
        if "correlation" in doc:
            for ref in doc["correlation"]["rules"]:
                assert ref in names, f"{title}: references {ref!r} outside its file"
    main = rule_file.main
    # The tactic in the file name is the first tactic tag of the alerting rule.
    tactics = [t for t in main.get("tags", []) if attack.lookup(t).kind == "tactic"]
    assert tactics, f"{rule_file.label}: no ATT&CK tactic tag"
    tactic = tactics[0].removeprefix("attack.").replace("-", "_")
    assert rule_file.path.stem.startswith(tactic + "_"), f"{rule_file.label}: first tactic is {tactic}"
    techniques = [t for t in main["tags"] if attack.lookup(t).kind == "technique"]
    assert techniques, f"{rule_file.label}: no ATT&CK technique tag"
    assert len(str(main.get("description", ""))) >= MIN_DESCRIPTION, f"{rule_file.label}: triage note too short"
    assert main.get("falsepositives"), rule_file.label
    # Base rules that only feed the file's correlation are not alerts: nothing else references them.
    if len(rule_file.documents) > 1:
        assert "correlation" in main, f"{rule_file.label}: several documents but the last is no correlation"


@pytest.mark.parametrize("rule_file", FILES, ids=_ids())
def test_attack_tags_are_known(rule_file: RuleFile) -> None:
    for doc in rule_file.documents:
        for tag in doc.get("tags", []):
            if not tag.startswith("attack."):
                continue
            ref = attack.lookup(tag)
            assert ref.status == "known", f"{rule_file.label}: {tag} is {ref.status}"


@pytest.mark.parametrize("rule_file", FILES, ids=_ids())
def test_log_sources_are_routed(rule_file: RuleFile, ruleset: RuleSet) -> None:
    """Every stateless rule's log source is one our parsers produce."""
    by_id = {r.id: r for r in ruleset.rules}
    for doc in rule_file.documents:
        if "correlation" in doc or is_first_seen(doc):  # first-seen rules read any event with their fields
            continue
        loaded = by_id[str(doc["id"])]
        key = rule_route_key(loaded.rule.logsource)
        if key in AWAITING_ROUTING and not route_is_mapped(key):
            pytest.xfail(f"{rule_file.label}: log source {key} awaits routing")
        assert route_is_mapped(rule_route_key(loaded.rule.logsource)), f"{rule_file.label}: {doc['title']}"


# --- the test logs ------------------------------------------------------------------------------

@pytest.mark.parametrize("rule_file", FILES, ids=_ids())
def test_rule_fires_on_its_logs(rule_file: RuleFile, ruleset: RuleSet, detector: Detector) -> None:
    _xfail_if_unrouted(rule_file, detector)
    for case in rule_file.must_fire:
        target = rule_file.rule_key(case.rule)
        events, hits = run_case(detector, ruleset, case)
        assert not [e for e in events if "unparsed" in (e.get("tags") or [])], f"{case.name}: unparsed line"
        assert hits[target] == case.count, (
            f"{rule_file.label} / {case.name}: {hits[target]} hits, expected {case.count}; all hits {dict(hits)}"
        )


@pytest.mark.parametrize("rule_file", FILES, ids=_ids())
def test_rule_stays_silent_on_its_negative_logs(rule_file: RuleFile, ruleset: RuleSet, detector: Detector) -> None:
    target = rule_file.rule_key()
    for case in rule_file.must_not_fire:
        events, hits = run_case(detector, ruleset, case)
        assert events, case.name
        assert not [e for e in events if "unparsed" in (e.get("tags") or [])], f"{case.name}: unparsed line"
        assert hits[target] == 0, f"{rule_file.label} / {case.name}: fired {hits[target]} times"


def test_helpers_see_a_broken_rule(tmp_path: Path) -> None:
    """The harness can fail: a rule whose field is misspelt does not fire on the logs it should."""
    source = next(f for f in FILES if f.path.name == "credential_access_ssh_brute_force.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text(source.path.read_text().replace("system.auth.ssh.event", "system.auth.ssh.evnt"))
    rules = load_rules([broken])
    det = Detector(rules, timing=False)
    case = source.must_fire[0]
    _, hits = run_case(det, rules, case)
    assert hits[source.rule_key()] == 0
