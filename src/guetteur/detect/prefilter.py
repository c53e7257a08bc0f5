"""Multi-pattern prefilter: find the few rules worth evaluating on an event in one pass.

Each compiled rule carries a *need* (`compiler.Compiled.need`): a set of lower-case
literals at least one of which occurs in any event the rule matches, or None. For the rules
that can see a given kind of event, `Prefilter` puts every literal of every need into one
multi-literal matcher: Hyperscan (SIMD, each literal reported once per event) when the
`hyperscan` wheel is importable, else a pyahocorasick automaton. Per event it scans one
lower-cased text of the event and returns the rules whose literal occurred, plus the rules
without a need, which are always evaluated. The per-event cost grows with the size of that
text and the distinct literals found in it, not with the number of rules.

The text is as small as the rules allow, in one of three forms:

- *fields*: when the literals of the gated rules come from few fields (`SLOT_LIMIT`; each
  need knows the slots its literals are compared with, `Compiled.sources`), their
  lower-cased values joined by NUL. These are exactly the values the rules then compare
  (`EventView.lower` caches them), so the text costs almost nothing extra and holds no key
  names that would make false candidates;
- *projection*: when they come from many, the parts of the event those fields are looked up at
  (`view.Projection`: `winlog`, `process`... not `message`, `log` or `event.original`) as
  lower-cased JSON, usually a quarter of the event;
- *full*: when some gated rule has keywords (full-text search), the whole event as
  lower-cased JSON, original record included (`EventView.full_text`).

Literals are JSON-escaped for the two JSON forms (`view.json_literal`). Below
`DIRECT_LIMIT` gated rules, building the text costs more than evaluating them, so they are
evaluated directly.

The *fields* text repeats from event to event (methods, status codes, program names, the same
few paths): the literals found in it are remembered by scanner and text, so a repeated text costs
one dictionary lookup instead of encoding and scanning it. One memo serves every scanner of the
process, `MEMO_SIZE` texts of at most `MEMO_TEXT_LIMIT` characters in all (cleared when full):
scanners are made per route, and input that makes many routes must not multiply it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

import ahocorasick

try:  # optional accelerator: ~50x faster than pyahocorasick on 3 KB events with 5,000 literals
    import hyperscan
except ImportError:  # pragma: no cover - the wheel is a pinned dependency
    hyperscan = None

from guetteur.detect.view import SEPARATOR, EventView, FieldSlots, Projection, json_literal

DIRECT_LIMIT = 2
SLOT_LIMIT = 16
MEMO_SIZE = 16_384
MEMO_TEXT_LIMIT = 256
_NOTHING: frozenset[int] = frozenset()
# (scanner number, fields text) -> positions in `gated` whose literals occur in the text
_memo: dict[tuple[int, str], frozenset[int]] = {}
_scanner_numbers = itertools.count(1)


class Gateable(Protocol):
    need: frozenset[str] | None
    full_text: bool
    sources: frozenset[int] | None


R = TypeVar("R", bound=Gateable)


class Prefilter(Generic[R]):
    """Candidate selection over a fixed, ordered list of rules (module docstring)."""

    __slots__ = ("_literals", "_scan", "_scanner", "allowed", "always", "fields", "gated", "projection")

    def __init__(self, rules: Sequence[R], slots: FieldSlots | None = None) -> None:
        gated = [r for r in rules if r.need is not None]
        if len(gated) <= DIRECT_LIMIT:
            gated = []
        gated_ids = {id(r) for r in gated}
        self.always: tuple[R, ...] = tuple(r for r in rules if id(r) not in gated_ids)
        self.gated: tuple[R, ...] = tuple(gated)
        # Positions in `gated` this prefilter may return (None: all); see `restricted`.
        self.allowed: frozenset[int] | None = None
        # The text scanned: `fields` (slots) or `projection` set, or neither for the full event.
        self.fields: tuple[int, ...] | None = None
        self.projection: Projection | None = None
        self._scan: Callable[[bytes], set[int]] | None = None
        # this scanner's number in the memo (module docstring); its `restricted` clones, which
        # scan with the same scanner, share it
        self._scanner = 0
        self._literals = 0
        if not gated:
            return
        escape: Callable[[str], str] = json_literal
        if not any(r.full_text or r.sources is None for r in gated):
            read = sorted({slot for r in gated for slot in r.sources or ()})
            if len(read) <= SLOT_LIMIT or slots is None:
                self.fields = tuple(read)
                escape = str
            else:
                self.projection = Projection(path for slot in read for path in slots.paths[slot])
        by_literal: dict[str, list[int]] = {}
        for position, rule in enumerate(gated):
            assert rule.need is not None
            for literal in rule.need:
                by_literal.setdefault(escape(literal), []).append(position)
        literals = list(by_literal)
        table = [tuple(by_literal[lit]) for lit in literals]
        if hyperscan is not None:
            self._scan = _hyperscan_scanner(literals, table)
        else:
            self._scan = _aho_scanner(literals, table)
        self._literals = len(literals)
        self._scanner = next(_scanner_numbers)

    def restricted(self, keep: Callable[[R], bool]) -> Prefilter[R] | None:
        """This prefilter for the subset of its rules `keep` accepts, sharing its scanner
        (events of one log source differing by event id: one Hyperscan database for all);
        None when no rule is kept."""
        always = tuple(r for r in self.always if keep(r))
        allowed = frozenset(i for i, r in enumerate(self.gated) if keep(r))
        if len(always) == len(self.always) and len(allowed) == len(self.gated):
            return self
        if not always and not allowed:
            return None
        clone: Prefilter[R] = Prefilter(())  # no rules: built without a scanner, filled below
        clone.gated, clone.fields, clone.projection, clone._literals, clone._scanner = (
            self.gated, self.fields, self.projection, self._literals, self._scanner
        )
        if len(allowed) <= DIRECT_LIMIT:  # too few left to be worth a scan
            clone.always = always + tuple(self.gated[i] for i in sorted(allowed))
            clone.allowed = None
            clone._scan = None
        else:
            clone.always, clone.allowed, clone._scan = always, allowed, self._scan
        return clone

    def candidates(self, view: EventView) -> list[R]:
        """The rules to evaluate on this event, in rule order within each group."""
        scan = self._scan
        if scan is None:
            return list(self.always)
        found: set[int] | frozenset[int]
        if self.fields is not None:
            lower = view.lower
            text = SEPARATOR.join([value for slot in self.fields for value in lower(slot)])
            key = (self._scanner, text)
            known = _memo.get(key)
            if known is None:
                found = scan(text.encode("utf-8", "surrogatepass"))
                if len(text) <= MEMO_TEXT_LIMIT:
                    if len(_memo) >= MEMO_SIZE:
                        _memo.clear()
                    _memo[key] = frozenset(found) if found else _NOTHING
            else:
                found = known
        elif self.projection is not None:
            found = scan(view.projected(self.projection))
        else:
            found = scan(view.full_text())
        if found and self.allowed is not None:
            found = found & self.allowed
        if not found:
            return list(self.always)
        gated = self.gated
        return [*self.always, *(gated[i] for i in sorted(found))]

    @property
    def literal_count(self) -> int:
        return self._literals


def any_literal(literals: Sequence[str]) -> Callable[[bytes], bool]:
    """A test: does a (lower-cased, UTF-8) text contain any of these literals?"""
    unique = list(dict.fromkeys(literals))
    build = _hyperscan_scanner if hyperscan is not None else _aho_scanner
    scan = build(unique, [(0,)] * len(unique))

    def contains_any(text: bytes) -> bool:
        return bool(scan(text))

    return contains_any


def _hyperscan_scanner(literals: list[str], table: list[tuple[int, ...]]) -> Callable[[bytes], set[int]]:
    database = hyperscan.Database()
    database.compile(
        expressions=[lit.encode("utf-8", "surrogatepass") for lit in literals],
        ids=list(range(len(literals))),
        elements=len(literals),
        flags=hyperscan.HS_FLAG_SINGLEMATCH,
        literal=True,
    )
    scratch = hyperscan.Scratch(database)
    database.scratch = scratch

    def on_match(pattern: int, _start: int, _end: int, _flags: int, found: set[int]) -> None:
        found.update(table[pattern])

    def scan(text: bytes) -> set[int]:
        found: set[int] = set()
        database.scan(text, match_event_handler=on_match, context=found)
        return found

    return scan


def _aho_scanner(literals: list[str], table: list[tuple[int, ...]]) -> Callable[[bytes], set[int]]:
    automaton = ahocorasick.Automaton()
    for literal, positions in zip(literals, table, strict=True):
        automaton.add_word(literal, positions)
    automaton.make_automaton()

    def scan(text: bytes) -> set[int]:
        found: set[int] = set()
        for _end, positions in automaton.iter(text.decode("utf-8", "surrogatepass")):
            found.update(positions)
        return found

    return scan
