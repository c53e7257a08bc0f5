"""Sigma detection -> an in-memory matcher: a tree of small Python closures over an `EventView`.

pySigma has already parsed the rule and applied the value modifiers: each
`rule.detection.parsed_condition[i].parsed` is a tree of `ConditionAND/OR/NOT` whose leaves
are `ConditionFieldEqualsValueExpression` (field + value) or `ConditionValueExpression`
(keyword, full-text). `compile_node` walks that tree with one `match` per node type and
returns, for each node, a `Compiled(match, need)`:

- `match(view) -> bool` evaluates the node on one event;
- `need` is the prefilter's view of the node (`detect.prefilter`): a set of lower-case
  literals at least one of which must occur in the event's text for the node to hold, or
  None when no such set exists (negations, numbers, regexes...).

Matching semantics (sigma-rules-specification.md, sigma-appendix-modifiers.md):

- strings compare case-insensitively (on values lower-cased once per event) with `*`/`?`
  wildcards and `\\` escapes already resolved by pySigma; `cased` compares case-sensitively;
- `re` is case-sensitive unless `i`; `m`/`s` map to Python's MULTILINE/DOTALL;
- numbers and booleans compare by their text (`4688` equals `"4688"`);
- `null` holds when the field is absent, null or empty; `exists` tests presence only;
- a field holding a list matches when any element matches;
- keywords (values without a field) match anywhere in any string of the event, the
  original record included;
- `fieldref` compares with another field of the same event; `cidr`, `gt/gte/lt/lte/neq`,
  the time-part modifiers (`minute`...`year`) and the expansions of `windash`,
  `base64offset` (a `SigmaExpansion`, OR-ed whatever the enclosing linking) are supported;
- `expand` placeholders (`%name%`) are replaced by the configured value lists before
  compiling; a placeholder without configured values is a compile error for that rule.
"""

from __future__ import annotations

import importlib
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import ahocorasick
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetections, SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
    TimestampPart,
)

from guetteur.detect.logsource import RouteKey, field_paths
from guetteur.detect.prefilter import any_literal
from guetteur.detect.regex import regex_search
from guetteur.detect.view import SEPARATOR, EventView, FieldSlots, json_literal

Matcher = Callable[[EventView], bool]
Need = frozenset[str] | None

# Literals shorter than this make a useless prefilter (they occur in nearly every event).
MIN_LITERAL = 3


class CompileError(Exception):
    """A rule (or one of its values) this engine cannot evaluate; the message says why."""


@dataclass(slots=True)
class Compiled:
    """A compiled condition node: its matcher and its prefilter need (see module docstring)."""

    match: Matcher
    need: Need
    # (field, values) equality constraints the node implies, for key-field indexing.
    keys: dict[str, frozenset[str]] | None = None
    # The slots whose values hold the need's literals (None with keywords: anywhere).
    sources: frozenset[int] | None = None


def _true(_view: EventView) -> bool:
    return True


def _false(_view: EventView) -> bool:
    return False


# --- the condition tree -----------------------------------------------------------------


class RuleCompiler:
    """Compiles the conditions of rules that share one field-slot table.

    `slots` interns field lookups so that an event resolves and lower-cases each field
    once, whatever the number of rules reading it. `placeholders` maps `%name%` to values.
    """

    def __init__(self, slots: FieldSlots, placeholders: Mapping[str, Sequence[str]] | None = None) -> None:
        self.slots = slots
        self.placeholders = {k.lower(): list(v) for k, v in (placeholders or {}).items()}
        # Set while compiling a rule with keywords (full-text search over the whole event):
        # the prefilter must then scan the whole event for it. Reset by `compile_rule`.
        self.full_text = False

    def compile_rule(self, rule: SigmaRule, key: RouteKey) -> Compiled:
        """The matcher of a whole rule (its conditions OR-ed). Sets `full_text`."""
        self.full_text = False
        return self.compile_detections(rule.detection, key)

    def compile_detections(self, detections: SigmaDetections, key: RouteKey) -> Compiled:
        """The matcher of a detection section (a rule's or a global filter's)."""
        try:
            trees = [cond.parsed for cond in detections.parsed_condition]
        except SigmaError as exc:
            raise CompileError(f"condition: {exc}") from exc
        except RecursionError as exc:
            raise CompileError("condition nested too deeply") from exc
        parts = [self.compile_node(tree, key) for tree in trees if tree is not None]
        if not parts:
            raise CompileError("empty detection")
        return parts[0] if len(parts) == 1 else _or(parts)

    def compile_node(self, node: Any, key: RouteKey) -> Compiled:
        """One node of pySigma's condition tree (dispatch on its type)."""
        match node:
            case ConditionAND():
                return _and([self.compile_node(arg, key) for arg in node.args])
            case ConditionOR():
                return self._compile_or(node.args, key)
            case ConditionNOT():
                inner = self.compile_node(node.args[0], key)
                inner_match = inner.match
                return Compiled(lambda view: not inner_match(view), None)
            case ConditionFieldEqualsValueExpression():
                return self.compile_field(node.field, node.value, key)
            case ConditionValueExpression():
                return self.compile_keyword(node.value)
            case None:
                return Compiled(_false, None)
            case _:
                raise CompileError(f"unsupported condition node {type(node).__name__}")

    def _compile_or(self, args: list[Any], key: RouteKey) -> Compiled:
        # A selection's value list (`Image|endswith: [a, b, c]`) arrives as OR of leaves on
        # one field: group plain strings per field into one test (a set / a tuple).
        grouped: dict[str, list[Any]] = {}
        keywords: list[str] = []
        others: list[Any] = []
        for arg in args:
            if isinstance(arg, ConditionFieldEqualsValueExpression) and _plain_string(arg.value):
                grouped.setdefault(arg.field, []).append(arg.value)
            elif (
                isinstance(arg, ConditionValueExpression)
                and _plain_string(arg.value)
                and _shape(arg.value)[0] in ("eq", "infix", "prefix", "suffix")  # type: ignore[arg-type]
            ):
                keywords.append(_shape(arg.value)[1])  # type: ignore[arg-type]
            else:
                others.append(arg)
        parts: list[Compiled] = []
        for field, values in grouped.items():
            parts.extend(self._string_group(field, values, key))
        if keywords:
            self.full_text = True
            parts.append(_keywords_contain(keywords))
        parts.extend(self.compile_node(arg, key) for arg in others)
        return parts[0] if len(parts) == 1 else _or(parts)

    # --- field = value ----------------------------------------------------------------

    def compile_field(self, field: str, value: Any, key: RouteKey) -> Compiled:
        """One `field: value` leaf, after modifiers (the value's type says what to do)."""
        slot = self.slots.slot(field_paths(field, key))
        return _sourced(self._compile_value(field, slot, value, key), slot)

    def _compile_value(self, field: str, slot: int, value: Any, key: RouteKey) -> Compiled:
        match value:
            case SigmaExpansion():
                return _or([self.compile_field(field, v, key) for v in value.values])
            case SigmaCasedString():
                return self._cased(slot, value)
            case SigmaString():
                if value.contains_placeholder():
                    return _or([self.compile_field(field, v, key) for v in self._expand(value)])
                return self._string_group(field, [value], key)[0]
            case SigmaRegularExpression():
                if value.regexp.contains_placeholder():
                    raise CompileError(f"placeholder in regular expression of field {field!r}")
                return _regex(slot, value, field)
            case SigmaBool():
                text = "true" if value.boolean else "false"
                return _equals_text(slot, frozenset({text}))
            case SigmaTimestampPart():
                return _timestamp_part(slot, value.timestamp_part, int(value.number))
            case SigmaNumber():
                text = str(value.number)
                keys = {field: frozenset({text})}
                return Compiled(_equals_text(slot, frozenset({text})).match, _need_of(text), keys)
            case SigmaNull():
                return _null(slot)
            case SigmaExists():
                return _exists(slot, bool(value))
            case SigmaCIDRExpression():
                return _cidr(slot, value.network)
            case SigmaCompareExpression():
                return _compare(slot, value.op, value.number.number)
            case SigmaFieldReference():
                other = self.slots.slot(field_paths(value.field, key))
                return _fieldref(slot, other, value.starts_with, value.ends_with)
            case _:
                raise CompileError(f"unsupported value type {type(value).__name__} for field {field!r}")

    def _expand(self, value: SigmaString) -> list[SigmaString]:
        def values_of(placeholder: Placeholder) -> list[str]:
            found = self.placeholders.get(placeholder.name.lower())
            if found is None:
                raise CompileError(f"placeholder %{placeholder.name}% has no configured values")
            return found

        try:
            return value.replace_placeholders(lambda p: iter(values_of(p)))
        except SigmaError as exc:
            raise CompileError(str(exc)) from exc

    def _string_group(self, field: str, values: list[SigmaString], key: RouteKey) -> list[Compiled]:
        """Plain (case-insensitive) strings OR-ed on one field, grouped by shape."""
        slot = self.slots.slot(field_paths(field, key))
        equal: set[str] = set()
        prefixes: list[str] = []
        suffixes: list[str] = []
        infixes: list[str] = []
        patterns: list[tuple[str, str]] = []
        anything = False
        for value in values:
            if value.contains_placeholder():
                # Expanded values are plain strings again; compile them the same way.
                return [_or([self.compile_field(field, v, key) for v in values])]
            shape, text = _shape(value)
            if shape == "eq":
                equal.add(text)
            elif shape == "prefix":
                prefixes.append(text)
            elif shape == "suffix":
                suffixes.append(text)
            elif shape == "infix":
                infixes.append(text)
            elif shape == "any":
                anything = True
            else:
                patterns.append((text, _longest_part(value)))
        parts: list[Compiled] = []
        all_texts = [*equal, *prefixes, *suffixes, *infixes]
        if anything:
            parts.append(_exists_value(slot))
        if equal:
            frozen = frozenset(equal)
            keys = {field: frozen}
            parts.append(Compiled(_equals_text(slot, frozen).match, _need_of(*equal), keys))
        if prefixes:
            parts.append(_startswith(slot, tuple(prefixes)))
        if suffixes:
            parts.append(_endswith(slot, tuple(suffixes)))
        if infixes:
            parts.append(_contains(slot, tuple(infixes)))
        for pattern, literal in patterns:
            parts.append(_wildcard(slot, pattern, literal))
        if not parts:
            return [Compiled(_false, None)]
        for part in parts:
            _sourced(part, slot)
        if len(parts) == 1:
            return parts
        del all_texts
        return [_or(parts)]

    def _cased(self, slot: int, value: SigmaString) -> Compiled:
        shape, _ = _shape(value)
        raw = _plain_text(value, lower=False)
        if shape == "eq":
            return _cased_test(slot, lambda v: v == raw, raw)
        if shape == "prefix":
            return _cased_test(slot, lambda v: v.startswith(raw), raw)
        if shape == "suffix":
            return _cased_test(slot, lambda v: v.endswith(raw), raw)
        if shape == "infix":
            return _cased_test(slot, lambda v: raw in v, raw)
        if shape == "any":
            return _exists_value(slot)
        regex = re.compile(_wildcard_regex(value, lower=False), re.DOTALL)
        return _cased_test(slot, lambda v: regex.fullmatch(v) is not None, None)

    # --- keywords ---------------------------------------------------------------------

    def compile_keyword(self, value: Any) -> Compiled:
        """A value without a field: full-text search over every string of the event."""
        self.full_text = True
        match value:
            case SigmaExpansion():
                return _or([self.compile_keyword(v) for v in value.values])
            case SigmaString():
                if value.contains_placeholder():
                    return _or([self.compile_keyword(v) for v in self._expand(value)])
                shape, text = _shape(value)
                if shape in ("eq", "infix") or (shape in ("prefix", "suffix")):
                    # Full-text search: a keyword matches inside a value, as in every backend.
                    needle = text
                    cased = isinstance(value, SigmaCasedString)
                    if cased:
                        needle = _plain_text(value, lower=False)
                    return _keyword_contains(needle, cased)
                if shape == "any":
                    return Compiled(_true, None)
                regex = re.compile(_wildcard_regex(value, lower=True, anchored=False), re.DOTALL)
                return _keyword_regex(regex, _longest_literal(value))
            case SigmaRegularExpression():
                search = regex_search(str(value.regexp), _regex_flags(value))

                def keyword_re(view: EventView) -> bool:
                    for text in view.texts():
                        if search(text):
                            return True
                    return False

                return Compiled(keyword_re, None)
            case SigmaNumber():
                return _keyword_contains(str(value.number), False)
            case _:
                raise CompileError(f"unsupported keyword value {type(value).__name__}")


# --- leaf matchers ----------------------------------------------------------------------
# Each builder returns a Compiled whose closure reads the view's per-event caches:
# `view.lower(slot)` (lower-cased text values, resolved once per event), `view.raw(slot)`.


def _plain_string(value: Any) -> bool:
    return type(value) is SigmaString and not value.contains_placeholder()


def _shape(value: SigmaString) -> tuple[str, str]:
    """eq / prefix / suffix / infix / any / pattern, with the lower-cased literal."""
    parts = value.s
    multi = SpecialChars.WILDCARD_MULTI
    if not parts:
        return "eq", ""
    if all(isinstance(p, str) for p in parts):
        return "eq", "".join(parts).lower()  # type: ignore[arg-type]
    if all(p is multi for p in parts):
        return "any", ""
    if len(parts) == 2:
        first, second = parts
        if isinstance(first, str) and second is multi:
            return "prefix", first.lower()
        if first is multi and isinstance(second, str):
            return "suffix", second.lower()
    if len(parts) == 3:
        first, middle, last = parts
        if first is multi and last is multi and isinstance(middle, str):
            return "infix", middle.lower()
    return "pattern", _wildcard_regex(value, lower=True)


def _plain_text(value: SigmaString, lower: bool) -> str:
    text = "".join(p for p in value.s if isinstance(p, str))
    return text.lower() if lower else text


def _wildcard_regex(value: SigmaString, lower: bool, anchored: bool = True) -> str:
    out: list[str] = []
    for part in value.s:
        if isinstance(part, str):
            out.append(re.escape(part.lower() if lower else part))
        elif part is SpecialChars.WILDCARD_MULTI:
            out.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            out.append(".")
        else:
            raise CompileError(f"unexpanded placeholder in {value.original!r}")
    del anchored  # fullmatch anchors field values; keywords use search (unanchored)
    return "".join(out)


def _longest_part(value: SigmaString) -> str:
    """The longest literal run of a wildcard string, lower-cased ("" when none)."""
    texts = [p.lower() for p in value.s if isinstance(p, str)]
    return max(texts, key=len) if texts else ""


def _longest_literal(value: SigmaString) -> Need:
    text = _longest_part(value)
    return _need_of(text) if text else None


def _need_of(*texts: str) -> Need:
    """The need of an OR of literals: all of them, unless one is too short to be useful."""
    if not texts:
        return None
    for text in texts:
        if _weight(text) < MIN_LITERAL or SEPARATOR in text:
            return None
    return frozenset(texts)


def _weight(text: str) -> int:
    """How selective a literal is, roughly: its length, non-ASCII characters (emoji,
    homoglyphs: rare in logs) counting three."""
    if text.isascii():
        return len(text)
    return sum(1 if ord(c) < 128 else 3 for c in text)


def _equals_text(slot: int, values: frozenset[str]) -> Compiled:
    if len(values) == 1:
        (only,) = values

        def eq_one(view: EventView) -> bool:
            return only in view.lower(slot)

        return Compiled(eq_one, _need_of(only))

    isdisjoint = values.isdisjoint

    def eq_any(view: EventView) -> bool:
        return not isdisjoint(view.lower(slot))

    return Compiled(eq_any, _need_of(*values))


def _startswith(slot: int, prefixes: tuple[str, ...]) -> Compiled:
    def starts(view: EventView) -> bool:
        for v in view.lower(slot):
            if v.startswith(prefixes):
                return True
        return False

    return Compiled(starts, _need_of(*prefixes))


def _endswith(slot: int, suffixes: tuple[str, ...]) -> Compiled:
    def ends(view: EventView) -> bool:
        for v in view.lower(slot):
            if v.endswith(suffixes):
                return True
        return False

    return Compiled(ends, _need_of(*suffixes))


def _contains(slot: int, infixes: tuple[str, ...]) -> Compiled:
    if len(infixes) == 1:
        (needle,) = infixes

        def contains_one(view: EventView) -> bool:
            for v in view.lower(slot):
                if needle in v:
                    return True
            return False

        return Compiled(contains_one, _need_of(needle))
    if len(infixes) > 8:
        # Many literals: one Aho-Corasick pass over each value (a regex alternation of
        # hundreds of literals backtracks through every branch at every position).
        automaton = _automaton(infixes)

        def contains_many(view: EventView) -> bool:
            for v in view.lower(slot):
                for _found in automaton.iter(v):
                    return True
            return False

        return Compiled(contains_many, _need_of(*infixes))

    def contains_any(view: EventView) -> bool:
        for v in view.lower(slot):
            for needle in infixes:
                if needle in v:
                    return True
        return False

    return Compiled(contains_any, _need_of(*infixes))


def _wildcard(slot: int, pattern: str, literal: str) -> Compiled:
    """A wildcard string (`*`/`?` inside): a full match of its regex, tried only on values
    holding its longest literal part (every match holds it)."""
    regex = re.compile(pattern, re.DOTALL)
    fullmatch = regex.fullmatch
    if not literal:

        def wildcard(view: EventView) -> bool:
            for v in view.lower(slot):
                if fullmatch(v) is not None:
                    return True
            return False

        return Compiled(wildcard, None)

    def wildcard_checked(view: EventView) -> bool:
        for v in view.lower(slot):
            if literal in v and fullmatch(v) is not None:
                return True
        return False

    return Compiled(wildcard_checked, _need_of(literal))


def _cased_test(slot: int, test: Callable[[str], bool], literal: str | None) -> Compiled:
    def cased(view: EventView) -> bool:
        for v in view.text(slot):
            if test(v):
                return True
        return False

    return Compiled(cased, _need_of(literal.lower()) if literal else None)


def _regex_flags(value: SigmaRegularExpression) -> int:
    flags = 0
    for flag in value.flags:
        flags |= SigmaRegularExpression.sigma_to_python_flags[flag]
    return flags


def _regex(slot: int, value: SigmaRegularExpression, field: str) -> Compiled:
    pattern = str(value.regexp)
    flags = _regex_flags(value)
    try:
        search = regex_search(pattern, flags)
    except re.error as exc:
        raise CompileError(f"invalid regular expression for {field!r}: {exc}") from exc
    literals = regex_literals(pattern, flags)
    # The prefilter's text is lower-cased, so literals of a case-sensitive regex are a valid need too.
    need = _need_of(*(lit.lower() for lit in literals)) if literals else None
    if len(literals) != 1:

        def regex_match(view: EventView) -> bool:
            for v in view.text(slot):
                if search(v):
                    return True
            return False

        return Compiled(regex_match, need)
    # A literal every match contains is a cheap test before running the regex.
    (literal,) = literals
    if flags & re.IGNORECASE:
        low = literal.lower()

        def regex_checked_nocase(view: EventView) -> bool:
            for v, lv in zip(view.text(slot), view.lower(slot), strict=False):
                if low in lv and search(v):
                    return True
            return False

        return Compiled(regex_checked_nocase, need)

    def regex_checked(view: EventView) -> bool:
        for v in view.text(slot):
            if literal in v and search(v):
                return True
        return False

    return Compiled(regex_checked, need)


def regex_literals(pattern: str, flags: int = 0) -> frozenset[str]:
    """Literals one of which every match of `pattern` contains, when that is easy to prove
    from the parsed pattern; empty when nothing is proven.

    Walks the tree of CPython's own regex parser. A run of nodes that match one of a few
    known strings (characters, small classes such as `[?&]`, groups and alternations of
    such, optional parts) is required as that set of strings (`?c=` or `&cmd=` for
    `[?&](c|cmd)=`); so is what a group, or a repetition of at least once, requires; an
    alternation requires one of what each of its branches requires (when every branch
    requires something). Of all the required sets, the most selective is kept (longest
    shortest literal, then fewest). The literals keep the pattern's case. A node the walk
    does not know proves nothing.
    """
    try:
        tree = _sre.parse(pattern, flags)
        best = _best_literals(_required_literals(list(tree), 0))
    except Exception:  # a parser change or an odd pattern: no literal, the regex still runs
        return frozenset()
    return best or frozenset()


# CPython's regex parser (private, no type stubs in every mypy): regex literals for the prefilter
_sre: Any = importlib.import_module("re._parser")

_EXPAND_MAX = 64  # strings a run of nodes may stand for before it is cut
_CLASS_MAX = 8  # characters a class may hold to be expanded


def _required_literals(items: list[Any], depth: int) -> list[frozenset[str]]:
    if depth > 50:
        return []
    found: list[frozenset[str]] = []
    run: list[str] = [""]  # the strings the current run of known nodes can match

    def flush() -> None:
        if all(run):  # a set holding "" requires nothing
            found.append(frozenset(run))

    for op, av in items:
        options = _options(op, av, depth)
        if options is not None:
            grown = [r + o for r in run for o in options]
            if len(grown) <= _EXPAND_MAX:
                run = grown
                continue
            flush()
            run = options if len(options) <= _EXPAND_MAX else [""]
            continue
        flush()
        run = [""]
        if op is _sre.SUBPATTERN:
            found.extend(_required_literals(list(av[-1]), depth + 1))
        elif op is _sre.ATOMIC_GROUP:
            found.extend(_required_literals(list(av), depth + 1))
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
            low, _high, body = av
            if low >= 1:
                found.extend(_required_literals(list(body), depth + 1))
        elif op is _sre.BRANCH:
            union: set[str] = set()
            for branch in av[1]:
                best = _best_literals(_required_literals(list(branch), depth + 1))
                if best is None:
                    break
                union |= best
            else:
                found.append(frozenset(union))
    flush()
    return found


def _options(op: Any, av: Any, depth: int) -> list[str] | None:
    """Every string one node can match, when they are few and known; else None."""
    if depth > 50:
        return None
    if op is _sre.LITERAL:
        return [chr(av)]
    if op is _sre.IN:
        if len(av) <= _CLASS_MAX and all(kind is _sre.LITERAL for kind, _ in av):
            return [chr(code) for _, code in av]
        return None
    if op is _sre.SUBPATTERN:
        return _sequence_options(list(av[-1]), depth + 1)
    if op is _sre.BRANCH:
        out: list[str] = []
        for branch in av[1]:
            options = _sequence_options(list(branch), depth + 1)
            if options is None:
                return None
            out.extend(options)
        return out if len(out) <= _EXPAND_MAX else None
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
        low, high, body = av
        if high > 2:
            return None
        once = _sequence_options(list(body), depth + 1)
        if once is None:
            return None
        out = [""] if low == 0 else []
        out.extend(once)
        if high == 2:
            out.extend(a + b for a in once for b in once)
        return out if len(out) <= _EXPAND_MAX else None
    return None


def _sequence_options(items: list[Any], depth: int) -> list[str] | None:
    run = [""]
    for op, av in items:
        options = _options(op, av, depth)
        if options is None:
            return None
        run = [r + o for r in run for o in options]
        if len(run) > _EXPAND_MAX:
            return None
    return run


def _best_literals(candidates: list[frozenset[str]]) -> frozenset[str] | None:
    best: frozenset[str] | None = None
    best_score = (MIN_LITERAL - 1, 0)
    for literals in candidates:
        if not literals:
            continue
        score = (min(_weight(t.lower()) for t in literals), -len(literals))
        if score > best_score:
            best, best_score = literals, score
    return best


def _null(slot: int) -> Compiled:
    def is_null(view: EventView) -> bool:
        values = view.raw(slot)
        if values is None:
            return True
        for v in values:
            if v is None or v == "":
                return True
        return not values

    return Compiled(is_null, None)


def _exists(slot: int, wanted: bool) -> Compiled:
    def exists(view: EventView) -> bool:
        return (view.raw(slot) is not None) is wanted

    return Compiled(exists, None)


def _exists_value(slot: int) -> Compiled:
    """`field: '*'`: the field holds some value (not null)."""

    def has_value(view: EventView) -> bool:
        values = view.raw(slot)
        if not values:
            return False
        return any(v is not None for v in values)

    return Compiled(has_value, None)


@lru_cache(maxsize=65536)
def _address_number(text: str) -> tuple[int, int] | None:
    """(IP version, address as an integer) of a value the `cidr` modifier tests, or None when
    it is no address. Cached: the same addresses come back event after event, and every `cidr`
    rule tests them (bounded, so a flood of distinct values only evicts)."""
    try:
        address = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    return address.version, int(address)


def _cidr(slot: int, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Compiled:
    version, first, mask = network.version, int(network.network_address), int(network.netmask)

    def in_network(view: EventView) -> bool:
        for v in view.text(slot):
            address = _address_number(v)
            if address is not None and address[0] == version and address[1] & mask == first:
                return True
        return False

    return Compiled(in_network, None)


_COMPARATORS: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: operator.lt,
    CompareOperators.LTE: operator.le,
    CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge,
    CompareOperators.NEQ: operator.ne,
}


def _to_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(int(text, 0)) if text[:2].lower() == "0x" else float(text)
        except ValueError:
            return None
    return None


def _compare(slot: int, op: CompareOperators, number: float) -> Compiled:
    compare = _COMPARATORS[op]

    def compare_values(view: EventView) -> bool:
        values = view.raw(slot)
        if not values:
            return False
        for v in values:
            if type(v) is int:  # the common case (parsers store counts and codes as ints)
                if compare(v, number):
                    return True
                continue
            n = _to_number(v)
            if n is not None and compare(n, number):
                return True
        return False

    return Compiled(compare_values, None)


def _fieldref(slot: int, other: int, starts_with: bool, ends_with: bool) -> Compiled:
    def refers(view: EventView) -> bool:
        theirs = view.lower(other)
        if not theirs:
            return False
        for mine in view.lower(slot):
            for ref in theirs:
                if starts_with and ends_with:
                    if ref in mine:
                        return True
                elif starts_with:
                    if mine.startswith(ref):
                        return True
                elif ends_with:
                    if mine.endswith(ref):
                        return True
                elif mine == ref:
                    return True
        return False

    return Compiled(refers, None)


def _timestamp_part(slot: int, part: TimestampPart, number: int) -> Compiled:
    def extract(moment: datetime) -> int:
        match part:
            case TimestampPart.MINUTE:
                return moment.minute
            case TimestampPart.HOUR:
                return moment.hour
            case TimestampPart.DAY:
                return moment.day
            case TimestampPart.WEEK:
                return moment.isocalendar().week
            case TimestampPart.MONTH:
                return moment.month
            case TimestampPart.YEAR:
                return moment.year
        return -1

    def time_part(view: EventView) -> bool:
        for v in view.text(slot):
            try:
                moment = datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                continue
            if extract(moment) == number:
                return True
        return False

    return Compiled(time_part, None)


def _automaton(literals: Sequence[str]) -> Any:
    automaton = ahocorasick.Automaton()
    for literal in literals:
        automaton.add_word(literal, literal)
    automaton.make_automaton()
    return automaton


def _keyword_contains(needle: str, cased: bool) -> Compiled:
    # Most events do not hold the keyword: one C-level search of the event's lower-cased
    # JSON text rejects them; only then are the event's strings checked one by one.
    quick = json_literal(needle).encode("utf-8", "surrogatepass")
    if cased:

        def keyword_cased(view: EventView) -> bool:
            if quick not in view.full_text():
                return False
            for text in view.texts():
                if needle in text:
                    return True
            return False

        return Compiled(keyword_cased, _need_of(needle.lower()))
    low = needle.lower()

    def keyword(view: EventView) -> bool:
        if quick not in view.full_text():
            return False
        for text in view.lower_texts():
            if low in text:
                return True
        return False

    return Compiled(keyword, _need_of(low))


def _keywords_contain(needles: list[str]) -> Compiled:
    """A list of keywords (OR): one multi-literal pass over the JSON text, then confirmation."""
    if len(needles) == 1:
        return _keyword_contains(needles[0], False)
    quick = any_literal([json_literal(n) for n in needles])
    exact = _automaton(needles)

    def keywords(view: EventView) -> bool:
        if not quick(view.full_text()):
            return False
        for text in view.lower_texts():
            for _found in exact.iter(text):
                return True
        return False

    return Compiled(keywords, _need_of(*needles))


def _keyword_regex(regex: re.Pattern[str], need: Need) -> Compiled:
    search = regex.search

    def keyword_pattern(view: EventView) -> bool:
        for text in view.lower_texts():
            if search(text) is not None:
                return True
        return False

    return Compiled(keyword_pattern, need)


# --- boolean nodes ------------------------------------------------------------------------


def _sourced(compiled: Compiled, slot: int) -> Compiled:
    """Mark a leaf's need as found in `slot`'s values (unless its parts said otherwise)."""
    if compiled.need is not None and compiled.sources is None:
        compiled.sources = frozenset({slot})
    return compiled


def _best_need(parts: list[Compiled]) -> Compiled | None:
    """For an AND: the child with the most selective need (longest shortest literal, then
    fewest), or None when no child has one."""
    best: Compiled | None = None
    best_score: tuple[int, int] = (-1, 0)
    for part in parts:
        need = part.need
        if need is None:
            continue
        score = (min(len(t) for t in need), -len(need))
        if score > best_score:
            best, best_score = part, score
    return best


def _merge_keys_and(parts: list[Compiled]) -> dict[str, frozenset[str]] | None:
    merged: dict[str, frozenset[str]] = {}
    for part in parts:
        if not part.keys:
            continue
        for field, values in part.keys.items():
            merged[field] = merged[field] & values if field in merged else values
    return merged or None


def _merge_keys_or(parts: list[Compiled]) -> dict[str, frozenset[str]] | None:
    if not parts or any(not p.keys for p in parts):
        return None
    common = set(parts[0].keys or {})
    for part in parts[1:]:
        common &= set(part.keys or {})
    if not common:
        return None
    return {f: frozenset().union(*((p.keys or {})[f] for p in parts)) for f in common}


def _and(parts: list[Compiled]) -> Compiled:
    if len(parts) == 1:
        return parts[0]
    matchers = tuple(p.match for p in parts)
    best = _best_need(parts)
    need, sources = (best.need, best.sources) if best is not None else (None, None)
    keys = _merge_keys_and(parts)
    if len(matchers) == 2:
        first, second = matchers

        def and2(view: EventView) -> bool:
            return first(view) and second(view)

        return Compiled(and2, need, keys, sources)

    def and_all(view: EventView) -> bool:
        for m in matchers:
            if not m(view):
                return False
        return True

    return Compiled(and_all, need, keys, sources)


def _or(parts: list[Compiled]) -> Compiled:
    if len(parts) == 1:
        return parts[0]
    matchers = tuple(p.match for p in parts)
    needs = [p.need for p in parts]
    need: Need = None if any(n is None for n in needs) else frozenset().union(*needs)  # type: ignore[arg-type]
    sources: frozenset[int] | None = None
    part_sources = [p.sources for p in parts]
    if need is not None and all(ps is not None for ps in part_sources):
        sources = frozenset(slot for ps in part_sources for slot in ps or ())
    keys = _merge_keys_or(parts)
    if len(matchers) == 2:
        first, second = matchers

        def or2(view: EventView) -> bool:
            return first(view) or second(view)

        return Compiled(or2, need, keys, sources)

    def or_any(view: EventView) -> bool:
        for m in matchers:
            if m(view):
                return True
        return False

    return Compiled(or_any, need, keys, sources)
