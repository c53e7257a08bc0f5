"""Condition compilation: boolean structure, selection patterns, regex literals, bad rules."""

from __future__ import annotations

import pytest
from tests.detect.sigma_helpers import detector, fires, proc_rule, ruleset, sysmon1

from guetteur.detect.compiler import regex_literals
from guetteur.detect.engine import Detector

RID = "00000000-0000-0000-0000-000000000001"

DETECTION = """
  sel_img:
    Image|endswith: '\\cmd.exe'
  sel_cli:
    CommandLine|contains: ' /c '
  sel_user:
    User|contains: 'admin'
  filter_parent:
    ParentImage|endswith: '\\explorer.exe'
  condition: {condition}
"""

EVENTS = {
    "cmd_from_explorer": sysmon1(Image="C:\\W\\cmd.exe", CommandLine="cmd /c dir", ParentImage="C:\\explorer.exe", User="bob"),
    "cmd_from_word": sysmon1(Image="C:\\W\\cmd.exe", CommandLine="cmd /c dir", ParentImage="C:\\winword.exe", User="admin"),
    "other": sysmon1(Image="C:\\W\\notepad.exe", CommandLine="notepad x", ParentImage="C:\\explorer.exe", User="bob"),
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("sel_img and sel_cli", {"cmd_from_explorer", "cmd_from_word"}),
        ("sel_img and not filter_parent", {"cmd_from_word"}),
        ("all of sel_*", {"cmd_from_word"}),
        ("1 of sel_*", {"cmd_from_explorer", "cmd_from_word"}),
        ("any of sel_*", {"cmd_from_explorer", "cmd_from_word"}),
        ("1 of sel_* and not 1 of filter_*", {"cmd_from_word"}),
        ("all of them", {"cmd_from_explorer"} - {"cmd_from_explorer"}),
        ("1 of them", {"cmd_from_explorer", "cmd_from_word", "other"}),
        ("not sel_img", {"other"}),
        ("(sel_img or sel_user) and not (filter_parent and sel_cli)", {"cmd_from_word"}),
        ("sel_user or filter_parent and sel_img", {"cmd_from_word", "cmd_from_explorer"}),
    ],
)
def test_condition(condition: str, expected: set[str]) -> None:
    det = detector(proc_rule(DETECTION.format(condition=condition)))
    got = {name for name, event in EVENTS.items() if fires(det, event) == [RID]}
    assert got == expected


def test_multiple_conditions_are_ored() -> None:
    rule = proc_rule(DETECTION.replace("condition: {condition}", "condition:\n    - sel_user\n    - not sel_img"))
    det = detector(rule)
    assert {n for n, e in EVENTS.items() if fires(det, e)} == {"cmd_from_word", "other"}


def test_selection_list_of_maps_is_or() -> None:
    rule = proc_rule(
        "  sel:\n    - Image|endswith: '\\notepad.exe'\n    - User: admin\n  condition: sel\n"
    )
    det = detector(rule)
    assert {n for n, e in EVENTS.items() if fires(det, e)} == {"cmd_from_word", "other"}


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        ("\\w+`(?:\\w+|-|.)`[\\w+|\\s]", set()),  # "`" is too short to be worth it
        ("abc|def", {"abc", "def"}),
        ("abc|de", set()),  # a branch without a useful literal proves nothing
        ("(a|b)xyz", {"axyz", "bxyz"}),
        ("foo(bar)?baz", {"foobaz", "foobarbaz"}),
        ("ab?cde", {"acde", "abcde"}),
        ("(?i)abcdef", {"abcdef"}),
        ("c:\\\\windows\\\\sys+", {"c:\\windows\\sy"}),
        ("\\.exe$", {".exe"}),
        ("[a-z]+\\.ps1", {".ps1"}),
        ("a{", set()),
        ("x{2,3}yzw", {"yzw"}),
        ("(?:xyz){0,2}abc", {"abc", "xyzabc", "xyzxyzabc"}),
        ("(?:xyz){0,3}abc", {"abc"}),  # too many repetitions to expand: the run restarts
        ("(?:wxyz)+ab", {"wxyz"}),
        ("/(patients?|records?)/\\d+", {"/patient/", "/patients/", "/record/", "/records/"}),
        ("[?&](cmd|c)=", {"?cmd=", "&cmd=", "?c=", "&c="}),  # small classes and groups expand
        ("[a-z](cmd|c)=", set()),
        ("(unclosed", set()),
    ],
)
def test_regex_literals(pattern: str, literals: set[str]) -> None:
    assert regex_literals(pattern) == literals


def test_regex_literals_are_in_every_match() -> None:
    """Property: for regexes with literals, every match found in sample texts holds one."""
    import re

    samples = ["powershell -e `i`e`x", "c:\\windows\\sysss", "abc.exe", "foobaz", "xxyz", "abdcde acde",
               "/patients/12", "/RECORD/3", "abcxyz", "defxyz", "/x?c=id", "/y?a=1&CMD=ls"]
    patterns = ["\\w+`(?:\\w+|-|.)`", "c:\\\\windows\\\\sys+", "foo(bar)?baz", "ab?cde", "\\.exe$",
                "(a|b)xyz", "/(patients?|records?)/\\d+", "(abc|def)xyz", "[?&](cmd|c)=(id|ls)"]
    checked = 0
    for pattern in patterns:
        literals = regex_literals(pattern, re.IGNORECASE)
        for text in samples:
            found = re.search(pattern, text, re.IGNORECASE)
            if found and literals:
                assert any(lit.lower() in found.group(0).lower() for lit in literals), (pattern, text)
                checked += 1
    assert checked >= 6


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("title: x\nlogsource: {product: windows}\ndetection:\n  sel: {a: 1}\n  condition: sel and nope\n", "nope"),
        ("title: x\nlogsource: {product: windows}\ndetection:\n  sel: {a: 1}\n  condition: sel | count() > 5\n", "pipe"),
        ("title: x\nlogsource: {product: windows}\ndetection:\n  sel: {a|re: '(unclosed'}\n  condition: sel\n", ""),
        ("title: x\nlogsource: {product: windows}\ndetection:\n  sel: {a|nosuchmodifier: 1}\n  condition: sel\n", ""),
        ("{{{{ not yaml", ""),
        ("- just\n- a list\n", ""),
        ("title: x\n", ""),
        ("\x00\x01binary", ""),
    ],
)
def test_bad_rules_are_reported_not_raised(text: str, reason: str) -> None:
    rs = ruleset(text)
    det = Detector(rs)
    problems = [*rs.errors, *det.errors]
    assert problems, "a broken rule must be reported"
    assert det.rules == {}
    if reason:
        assert any(reason in p.reason.lower() for p in problems), problems


def test_every_bad_rule_reported_in_one_run() -> None:
    good = proc_rule("  sel:\n    User: bob\n  condition: sel\n")
    bad1 = "title: a\nlogsource: {product: windows}\ndetection:\n  sel: {x: 1}\n  condition: missing\n"
    bad2 = "title: b\n"
    rs = ruleset(bad1, good, bad2)
    det = Detector(rs)
    assert list(det.rules) == [RID]
    files = {e.file for e in [*rs.errors, *det.errors]}
    assert files == {"rule0.yml", "rule2.yml"}


def test_deeply_nested_condition_does_not_crash() -> None:
    condition = "(" * 200 + "sel" + ")" * 200
    rs = ruleset(proc_rule(f"  sel:\n    User: bob\n  condition: '{condition}'\n"))
    det = Detector(rs)
    assert len(det.rules) + len(det.errors) + len(rs.errors) >= 1


def test_huge_value_list_and_long_values() -> None:
    values = "\n".join(f"      - 'tool{i}.exe'" for i in range(3000))
    det = detector(proc_rule(f"  sel:\n    Image|endswith:\n{values}\n  condition: sel\n"))
    assert fires(det, sysmon1(Image="C:\\x\\TOOL2999.exe")) == [RID]
    assert fires(det, sysmon1(Image="C:\\x\\" + "a" * 1_000_000)) == []


def test_odd_field_names_compile_and_match() -> None:
    """A 150-step dotted field and a name full of quotes compile (the generated getters fall
    back to the plain lookup) and match where the value is."""
    deep = ".".join(["a"] * 150)
    text = (
        "title: odd\nid: 2a7c7a43-4c41-4a8e-9a2b-0f6f1f0c2d11\nlogsource: {category: application}\n"
        f"detection:\n  sel:\n    {deep}: x\n    'q''\"); import os #': y\n  condition: sel\n"
    )
    det = Detector(ruleset(text))
    assert not det.errors and len(det.rules) == 1
    node: dict[str, object] = {"a": "x"}
    for _ in range(149):
        node = {"a": node}
    event = {**node, "q'\"); import os #": "y", "event": {"module": "application", "dataset": "python_logging"}}
    assert [h.rule_title for h in det.match(event)] == ["odd"]
    assert det.match({**event, "q'\"); import os #": "z"}) == []
