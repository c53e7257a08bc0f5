"""Multi-pattern prefilter: find the few rules worth evaluating on an event in one pass.

Each compiled rule carries a *need* (`compiler.Compiled.need`): a set of lower-case
literals at least one of which occurs in any event the rule matches, or None. For the rules
that can see a given kind of event, `Prefilter` puts every literal of every need into one
Aho-Corasick automaton (pyahocorasick, C). Per event it scans the event's lower-cased text
once (`EventView.haystack`) and returns the rules whose literal occurred, plus the rules
without a need, which are always evaluated. The per-event cost grows with the event's size
and the literals found in it, not with the number of rules.

Below `DIRECT_LIMIT` gated rules, building the haystack costs more than evaluating them, so
they are evaluated directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

import ahocorasick

from guetteur.detect.view import EventView

DIRECT_LIMIT = 6


class Gateable(Protocol):
    need: frozenset[str] | None
    reads_original: bool


R = TypeVar("R", bound=Gateable)


class Prefilter(Generic[R]):
    """Candidate selection over a fixed, ordered list of rules."""

    __slots__ = ("_automaton", "always", "gated", "with_original")

    def __init__(self, rules: Sequence[R]) -> None:
        gated = [r for r in rules if r.need is not None]
        if len(gated) <= DIRECT_LIMIT:
            gated = []
        gated_ids = {id(r) for r in gated}
        self.always: tuple[R, ...] = tuple(r for r in rules if id(r) not in gated_ids)
        self.gated: tuple[R, ...] = tuple(gated)
        self.with_original = any(r.reads_original for r in gated)
        self._automaton: ahocorasick.Automaton | None = None
        if gated:
            by_literal: dict[str, list[int]] = {}
            for position, rule in enumerate(gated):
                assert rule.need is not None
                for literal in rule.need:
                    by_literal.setdefault(literal, []).append(position)
            automaton = ahocorasick.Automaton()
            for literal, positions in by_literal.items():
                automaton.add_word(literal, tuple(positions))
            automaton.make_automaton()
            self._automaton = automaton

    def candidates(self, view: EventView) -> list[R]:
        """The rules to evaluate on this event, in rule order within each group."""
        automaton = self._automaton
        if automaton is None:
            return list(self.always)
        found: set[int] = set()
        for _end, positions in automaton.iter(view.haystack(self.with_original)):
            found.update(positions)
        if not found:
            return list(self.always)
        gated = self.gated
        return [*self.always, *(gated[i] for i in sorted(found))]

    @property
    def literal_count(self) -> int:
        return 0 if self._automaton is None else len(self._automaton)
