"""`check_rule_text` (the API's and the console's validation) and `LocalRules` (the managed
rules folder), without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from guetteur.detect.local_rules import LocalRules, disabled_rules, valid_rule_id
from guetteur.detect.rule_check import check_rule_text
from guetteur.detect.rules import load_rule_texts

BASE_RULE = """\
title: Base
id: 5b0c1d2e-0000-4000-8000-0000000000b1
name: base_failure
logsource: {product: linux, service: sshd}
detection:
  selection:
    event.outcome: failure
  condition: selection
"""


def test_errors_of_each_document_point_into_that_document() -> None:
    """Two documents: the second one's bad level is reported on its own line (6), not the
    first document's."""
    text = BASE_RULE + "---\ntitle: Second\nid: 5b0c1d2e-0000-4000-8000-0000000000b2\nlevel: unheard\n" \
        "logsource: {product: linux}\ndetection: {sel: {a: b}, condition: sel}\n"
    check = check_rule_text(text)
    assert [(f.line, f.column, "unheard" in f.message) for f in check.errors] == [(12, 8, True)]
    assert check.ids == ["5b0c1d2e-0000-4000-8000-0000000000b1"]


def test_correlation_of_a_base_rule_validates_and_its_main_id_is_the_correlation() -> None:
    base = load_rule_texts([("base.yml", BASE_RULE)])
    text = ("title: Burst\nid: 5b0c1d2e-0000-4000-8000-0000000000c1\ncorrelation:\n  type: event_count\n"
            "  rules: [base_failure]\n  group-by: [source.ip]\n  timespan: 5m\n  condition: {gte: 10}\n")
    check = check_rule_text(text, base)
    assert check.errors == [] and check.main_id == "5b0c1d2e-0000-4000-8000-0000000000c1"
    alone = check_rule_text(text)  # without the base rule it cannot resolve
    assert [f.line for f in alone.errors] == [5]
    assert base.correlations == []  # the base is not modified


def test_first_seen_rules_are_checked_too() -> None:
    good = ("type: first_seen\nid: fs-1\ntitle: New program\nlevel: low\n"
            "first_seen:\n  fields: [process.name]\n  history: 7d\n")
    check = check_rule_text(good)
    assert check.errors == [], check.findings
    assert check.ids == ["fs-1"] and check.main_id == "fs-1"
    assert check_rule_text("type: first_seen\nid: fs-2\n").errors


@pytest.mark.parametrize("text", ["", "# only a comment\n", "just a string", "- a\n- list\n", "a: *undefined\n",
                                  "{" * 3000, "x: !!python/object:os.system ls\n"])
def test_hostile_or_empty_texts_are_findings_not_exceptions(text: str) -> None:
    assert check_rule_text(text).errors


def test_local_rules_write_atomically_and_refuse_unsafe_ids(tmp_path: Path) -> None:
    local = LocalRules(tmp_path / "rules")
    path = local.save("5b0c1d2e-0000-4000-8000-0000000000b1", BASE_RULE)
    assert path.read_text() == BASE_RULE and [p.name for p in path.parent.iterdir()] == [path.name]
    assert local.local_ids() == ["5b0c1d2e-0000-4000-8000-0000000000b1"]
    for unsafe in ("../x", "..", "a/b", "", ".hidden", "a\x00b", "x" * 129):
        assert not valid_rule_id(unsafe)
        with pytest.raises(ValueError):
            local.save(unsafe, BASE_RULE)
    assert local.delete("5b0c1d2e-0000-4000-8000-0000000000b1") and not local.delete("5b0c1d2e-0000-4000-8000-0000000000b1")


def test_switches_override_the_configured_disabled_rules(tmp_path: Path) -> None:
    local = LocalRules(tmp_path)
    assert disabled_rules(["a", "b"], local.switches_path) == {"a", "b"}
    local.switch("a", True)
    local.switch("c", False)
    assert disabled_rules(["a", "b"], local.switches_path) == {"b", "c"}
    local.switches_path.write_text("not json")  # a damaged file: the configuration alone
    assert disabled_rules(["a"], local.switches_path) == {"a"}
