"""The prefilter remembers what it found in a repeated fields text (`prefilter.MEMO_SIZE`, for
every scanner of the process together)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

import guetteur.detect.prefilter as prefilter_module
from guetteur.detect.prefilter import MEMO_TEXT_LIMIT, Prefilter
from guetteur.detect.view import EventView, FieldSlots


@dataclass(eq=False)
class Rule:
    """What the prefilter reads of a compiled rule: its literals, and the slot they come from."""

    need: frozenset[str] | None
    sources: frozenset[int] | None
    full_text: bool = False


def prefilter_over(words: list[str]) -> tuple[FieldSlots, int, list[Rule], Prefilter[Rule]]:
    slots = FieldSlots()
    slot = slots.slot((("url", "path"),))
    rules = [Rule(frozenset({word}), frozenset({slot})) for word in words]
    return slots, slot, rules, Prefilter(rules, slots)


def remembered(pre: Prefilter[Rule]) -> dict[str, frozenset[int]]:
    """The memo's texts for `pre`'s scanner."""
    return {text: found for (scanner, text), found in prefilter_module._memo.items() if scanner == pre._scanner}


def expected(rules: list[Rule], path: str, allowed: set[int] | None = None) -> list[Rule]:
    """What scanning says: every rule whose literal occurs in the lower-cased value."""
    return [r for i, r in enumerate(rules)
            if (allowed is None or i in allowed) and r.need is not None and any(w in path.lower() for w in r.need)]


def test_repeated_texts_give_what_a_scan_gives() -> None:
    words = ["admin", "login", "etc/passwd", "wp-", ".env", "select", "union", "../"]
    slots, _, rules, pre = prefilter_over(words)
    assert pre.fields is not None  # the form whose texts are remembered
    rng = random.Random(7)
    paths = ["/", "/ADMIN/login", "/wp-login.php", "/a/../../etc/passwd", "/.env", "/x?q=union select",
             "/plain", "/Admin", "/static/app.js"]
    for _ in range(2000):
        path = rng.choice(paths)
        assert pre.candidates(EventView({"url": {"path": path}}, slots)) == expected(rules, path)
    assert 0 < len(remembered(pre)) <= len(paths)


def test_a_restricted_clone_shares_the_memo_and_keeps_its_own_rules() -> None:
    words = ["alpha", "beta", "gamma", "delta", "omega"]
    slots, _, rules, pre = prefilter_over(words)
    keep = {0, 2, 3, 4}
    clone = pre.restricted(lambda r: rules.index(r) in keep)
    assert clone is not None and clone is not pre and clone._scanner == pre._scanner
    path = "/alpha/beta/gamma"
    for _ in range(3):  # the first call scans, the others read the memo (filled by either)
        assert pre.candidates(EventView({"url": {"path": path}}, slots)) == expected(rules, path)
        assert clone.candidates(EventView({"url": {"path": path}}, slots)) == expected(rules, path, keep)


def test_long_texts_are_not_remembered_and_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    words = ["needle", "pin", "thread", "hook"]
    slots, _, rules, pre = prefilter_over(words)
    long_path = "/" + "x" * MEMO_TEXT_LIMIT + "needle"
    assert pre.candidates(EventView({"url": {"path": long_path}}, slots)) == expected(rules, long_path)
    assert remembered(pre) == {}
    size = 50
    monkeypatch.setattr(prefilter_module, "MEMO_SIZE", size)
    for i in range(3 * size):
        path = f"/p{i}/{'pin' if i % 2 else 'hook'}"
        assert pre.candidates(EventView({"url": {"path": path}}, slots)) == expected(rules, path)
        assert len(prefilter_module._memo) <= size


def test_many_scanners_share_one_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scanners are made per route, and input can make many routes (a Zeek dataset name is a
    service): the memo's bound holds for all of them together, not for each."""
    size = 64
    monkeypatch.setattr(prefilter_module, "MEMO_SIZE", size)
    words = ["needle", "pin", "thread", "hook"]
    scanners = [prefilter_over(words) for _ in range(40)]
    assert len({pre._scanner for *_, pre in scanners}) == len(scanners)
    for i in range(10):
        for slots, _, rules, pre in scanners:
            path = f"/p{i}/{'pin' if i % 2 else 'needle'}"
            assert pre.candidates(EventView({"url": {"path": path}}, slots)) == expected(rules, path)
            assert len(prefilter_module._memo) <= size
