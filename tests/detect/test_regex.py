"""Rule regexes on Hyperscan answer exactly as Python's `re`, and the backtracking ones run
on Hyperscan (linear time) instead of `re`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sigma.types import SigmaRegularExpression

from guetteur.detect.regex import linear, regex_search

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SIGMA = DATA / "sigma"


@pytest.mark.parametrize(
    ("pattern", "flags", "texts", "fast"),
    [
        (r"\w+`(?:\w+|-|.)`[\w+|\s]", 0, ["IN`V`o`Ke-eXp", "plain", "a" * 5000 + "`", "é`x`y"], True),
        ("^abc$", re.IGNORECASE, ["ABC", "abc\n", "abc\n\n", "xabc", ""], True),
        ("a.c", re.DOTALL, ["a\nc", "abc", "ac"], True),
        ("^b", re.MULTILINE, ["a\nb", "ab"], True),
        (r"a\sb", 0, ["a b", "a\x1cb", "a\x1fb", "ab", "a\u2003b"], True),  # Python's \s: \x1c-\x1f too
        (r"\bword\b", 0, ["a word.", "swordfish", "éword"], True),
        ("x*", 0, ["", "abc"], True),  # matches the empty string everywhere
        (r"a\Z", 0, ["a", "a\n"], False),  # \Z is PCRE's \z: left to re
        ("a{,2}b", 0, ["aab", "a{,2}b"], False),  # {,n}: a quantifier in Python, text in PCRE
        ("(?<=x)y", 0, ["xy", "y"], False),  # look-behind: Hyperscan refuses it
        (r"(a)\1", 0, ["aa", "ab"], False),
        ("café", re.IGNORECASE, ["CAFÉ", "cafe"], False),  # non-ASCII pattern
        (r"\v", 0, ["\x0b", "\n"], False),  # \v: one character in Python, a class in PCRE
    ],
)
def test_same_answer_as_python(pattern: str, flags: int, texts: list[str], fast: bool) -> None:
    search = regex_search(pattern, flags)
    assert linear(search) is fast
    for text in texts:
        assert search(text) is (re.search(pattern, text, flags) is not None), (pattern, text)


def _community_regexes() -> list[tuple[str, int]]:
    from guetteur.detect.rules import load_rules

    found: dict[tuple[str, int], None] = {}
    ruleset = load_rules(sorted(SIGMA.glob("rules*")))
    for loaded in ruleset.rules:
        for detection in loaded.rule.detection.detections.values():
            stack = list(detection.detection_items)
            while stack:
                item = stack.pop()
                if hasattr(item, "detection_items"):
                    stack.extend(item.detection_items)
                    continue
                for value in item.value:
                    if isinstance(value, SigmaRegularExpression):
                        flags = 0
                        for flag in value.flags:
                            flags |= SigmaRegularExpression.sigma_to_python_flags[flag]
                        found[(str(value.regexp), flags)] = None
    return list(found)


def _sample_texts() -> list[str]:
    from guetteur.collect.files import iter_file_records
    from guetteur.parse import parse_batch

    paths = sorted((SIGMA / "regression_data").rglob("*.evtx"))
    paths += sorted((DATA / "logs" / "windows-evtx" / "deepbluecli").glob("*.evtx"))
    texts: dict[str, None] = {}
    for event in parse_batch(iter_file_records(paths, "windows_evtx")).events:
        for value in event["winlog"].get("event_data", {}).values():
            if isinstance(value, str) and value:
                texts[value] = None
    return list(texts)


@pytest.mark.skipif(not SIGMA.is_dir(), reason="shared test data not available")
def test_community_regexes_answer_as_python_on_real_values() -> None:
    """Every regex of the SigmaHQ rules, on every EventData value of the EVTX samples (the
    regression samples are the events those rules were written for)."""
    patterns = _community_regexes()
    texts = _sample_texts()
    assert len(patterns) > 100 and len(texts) > 1000
    linear_count = matches = 0
    for pattern, flags in patterns:
        search = regex_search(pattern, flags)
        linear_count += linear(search)
        python = re.compile(pattern, flags).search
        for text in texts:
            expected = python(text) is not None
            assert search(text) is expected, (pattern, text)
            matches += expected
    print(f"\n{len(patterns)} community regexes, {linear_count} on Hyperscan; "
          f"{len(texts)} values; {matches} matches, all equal to re's")
    assert linear_count > 0.9 * len(patterns)
    assert matches > 100
