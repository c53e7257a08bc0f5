"""The streaming Sigma matcher: `Detector.match(event) -> [Hit]`.

Per event, the work is:

1. *route* — the event's signature (`logsource.event_signature`: module, dataset, Windows
   channel / event id / provider...) is looked up in a cache; on a miss the event is
   classified into Sigma log sources and the rules that can see it are gathered, minus the
   Windows rules whose condition requires another `EventID`/`Channel`/`Provider_Name`
   (their key literals, found at compile time). The result — a `Prefilter` over those rules —
   is cached per signature, so routing is one tuple build and one dict lookup;
2. *prefilter* — when many rules remain, one Aho-Corasick pass over the event's lower-cased
   text selects those whose required literals occur (`detect.prefilter`);
3. *evaluate* the few candidates' compiled conditions (`detect.compiler`) on an `EventView`
   that resolves and lower-cases each field once.

Nothing here loops over every loaded rule per event. Hot reload (`reload`, `update`,
`remove`) builds a new immutable state and swaps it in one assignment, so a concurrent
`match` sees either the old or the new rules, never a mix; statistics and enable/disable
switches survive reloads by rule id. The correlation engine keeps its own state and only
needs the base-rule hits this class returns (hits of rules that exist only to feed a
correlation carry `alert=False`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from re import error as re_error
from typing import Any

from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from guetteur.detect.compiler import Compiled, CompileError, RuleCompiler
from guetteur.detect.hits import Hit
from guetteur.detect.logsource import (
    RouteKey,
    classify,
    event_signature,
    route_is_mapped,
    rule_route_key,
)
from guetteur.detect.prefilter import Prefilter
from guetteur.detect.rules import LoadedFilter, LoadedRule, RuleError, RuleSet
from guetteur.detect.view import EventView, FieldSlots
from guetteur.model import Event

log = logging.getLogger(__name__)

SIGNATURE_CACHE_MAX = 20_000
# Per-rule time is measured on one event in this many (each measure counts this many times):
# an unbiased estimate of the time spent, without two clock reads per rule and event.
TIMING_SAMPLE = 16
# Windows key fields whose required values prune rules at routing time.
_KEY_FIELDS = ("EventID", "Channel", "Provider_Name")


@dataclass(slots=True)
class RuleStats:
    """Counters of one rule since the detector started (kept across reloads)."""

    hits: int = 0
    errors: int = 0
    evaluations: int = 0
    time_ns: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "errors": self.errors,
            "evaluations": self.evaluations,
            "time_ms": round(self.time_ns / 1e6, 3),
        }


class CompiledRule:
    """One rule ready to run: identity, route, compiled condition, switches and stats."""

    __slots__ = (
        "alert",
        "enabled",
        "id",
        "keys",
        "level",
        "loaded",
        "match",
        "name",
        "need",
        "order",
        "full_text",
        "sources",
        "route",
        "source",
        "stats",
        "tags",
        "title",
    )

    def __init__(
        self,
        loaded: LoadedRule,
        route: RouteKey,
        compiled: Compiled,
        stats: RuleStats,
        full_text: bool = False,
    ) -> None:
        rule = loaded.rule
        self.loaded = loaded
        self.id = loaded.id
        self.title = rule.title or self.id
        self.level = rule.level.name.lower() if rule.level is not None else "medium"
        self.tags = [str(t) for t in rule.tags]
        self.name = rule.name
        self.source = loaded.source
        self.route = route
        self.match = compiled.match
        self.need = compiled.need
        self.keys = compiled.keys
        self.full_text = full_text  # it has keywords (see detect.prefilter)
        self.sources = compiled.sources  # the slots whose values hold the need's literals
        self.enabled = loaded.enabled
        self.alert = True
        self.stats = stats
        self.order = 0

    def hit(self, event: Event) -> Hit:
        meta = event.get("event")
        event_id = meta.get("id") if isinstance(meta, dict) else None
        return Hit(
            rule_id=self.id,
            rule_title=self.title,
            level=self.level,
            tags=list(self.tags),
            event_ids=[event_id],  # type: ignore[list-item]  # None until the store assigns ids
            event_times=[event.get("@timestamp")],  # type: ignore[list-item]
            event=event,
            rule_name=self.name,
            source=self.source,
            alert=self.alert,
        )


_NO_RULES: Prefilter[CompiledRule] = Prefilter([])


@dataclass(slots=True)
class _State:
    """Everything `match` reads; replaced whole on reload."""

    rules: dict[str, CompiledRule]
    routes: dict[RouteKey, list[CompiledRule]]
    slots: FieldSlots
    by_signature: dict[tuple[object, ...], Prefilter[CompiledRule]] = field(default_factory=dict)
    # One prefilter (one Hyperscan database) per set of log sources; the signatures routed
    # to it share it, restricted to the rules their key values allow (`Prefilter.restricted`).
    by_source: dict[tuple[RouteKey, ...], Prefilter[CompiledRule]] = field(default_factory=dict)


class Detector:
    """Stateless Sigma detection over a `RuleSet` (see the module docstring).

    placeholders: values for `%name%` placeholders of `expand` rules (name -> values).
    timing:       measure the time spent per rule (sampled: `TIMING_SAMPLE`).

    After construction: `errors` lists rules that parse but cannot compile (with reasons);
    `unrouted` lists rules whose log source no event of ours can carry.
    """

    def __init__(
        self,
        ruleset: RuleSet,
        *,
        placeholders: Mapping[str, Sequence[str]] | None = None,
        timing: bool = True,
    ) -> None:
        self.placeholders = dict(placeholders or {})
        self.timing = timing
        self.errors: list[RuleError] = []
        self.unrouted: list[RuleError] = []
        self._stats: dict[str, RuleStats] = {}
        self._switches: dict[str, bool] = {}
        self._sampled = 0
        self._ruleset = RuleSet()
        self._state = _State({}, {}, FieldSlots())
        self.reload(ruleset)

    # --- loading ------------------------------------------------------------------------

    def reload(self, ruleset: RuleSet) -> None:
        """Replace every rule and filter. Stats and enable switches are kept by rule id."""
        self._ruleset = RuleSet(
            list(ruleset.rules), list(ruleset.correlations), list(ruleset.filters), list(ruleset.errors)
        )
        self.errors = []
        self.unrouted = []
        slots = FieldSlots()
        compiler = RuleCompiler(slots, self.placeholders)
        silent = _correlation_only(ruleset)
        compiled: dict[str, CompiledRule] = {}
        for loaded in ruleset.rules:
            rule = self._compile(loaded, compiler, ruleset.filters)
            if rule is not None:
                rule.alert = rule.id not in silent and (rule.name or "") not in silent
                compiled[rule.id] = rule
        self._state = self._index(compiled, slots)

    def update(self, rules: Iterable[LoadedRule] = (), remove: Iterable[str] = ()) -> list[RuleError]:
        """Add or replace some rules and remove others by id, without touching the rest.

        Returns the compile errors of the rules given (they are not added).
        """
        state = self._state
        compiler = RuleCompiler(state.slots, self.placeholders)
        current = dict(state.rules)
        for rule_id in remove:
            current.pop(rule_id, None)
        errors_before = len(self.errors)
        by_id = {r.id: r for r in self._ruleset.rules}
        for rule_id in remove:
            by_id.pop(rule_id, None)
        for loaded in rules:
            new = self._compile(loaded, compiler, self._ruleset.filters)
            if new is not None:
                current[new.id] = new
                by_id[loaded.id] = loaded
        self._ruleset.rules = list(by_id.values())
        silent = _correlation_only(self._ruleset)
        for rule in current.values():
            rule.alert = rule.id not in silent and (rule.name or "") not in silent
        self._state = self._index(current, state.slots)
        return self.errors[errors_before:]

    def remove(self, rule_id: str) -> None:
        self.update(remove=[rule_id])

    def _compile(
        self, loaded: LoadedRule, compiler: RuleCompiler, filters: list[LoadedFilter]
    ) -> CompiledRule | None:
        key = rule_route_key(loaded.rule.logsource)
        if not route_is_mapped(key):
            self.unrouted.append(RuleError(loaded.source, f"log source {_route_text(key)} is not mapped"))
            return None
        try:
            compiled = compiler.compile_rule(loaded.rule, key)
            applied = [f for f in filters if _filter_applies(f, loaded.rule)]
            if applied:
                parts = [compiled]
                for sigma_filter in applied:
                    parts.append(compiler.compile_detections(sigma_filter.filter.filter, key))
                compiled = _and_filters(parts)
        except (CompileError, SigmaError, RecursionError, re_error) as exc:
            self.errors.append(RuleError(loaded.source, f"{loaded.id}: {exc}"))
            return None
        stats = self._stats.setdefault(loaded.id, RuleStats())
        rule = CompiledRule(loaded, key, compiled, stats, compiler.full_text)
        switch = self._switches.get(rule.id)
        if switch is not None:
            rule.enabled = switch
        return rule

    def _index(self, rules: dict[str, CompiledRule], slots: FieldSlots) -> _State:
        routes: dict[RouteKey, list[CompiledRule]] = {}
        for order, rule in enumerate(rules.values()):
            rule.order = order
            if rule.enabled:
                routes.setdefault(rule.route, []).append(rule)
        return _State(rules, routes, slots)

    # --- switches and figures -------------------------------------------------------------

    def enable(self, rule_id: str, enabled: bool = True) -> bool:
        """Turn one rule on or off; False when no such rule is loaded. Survives reloads."""
        self._switches[rule_id] = enabled
        state = self._state
        rule = state.rules.get(rule_id)
        if rule is None:
            return False
        rule.enabled = enabled
        rule.loaded.enabled = enabled
        self._state = self._index(state.rules, state.slots)
        return True

    @property
    def rules(self) -> dict[str, CompiledRule]:
        """The compiled rules by id (enabled or not)."""
        return self._state.rules

    @property
    def ruleset(self) -> RuleSet:
        return self._ruleset

    def stats(self) -> dict[str, RuleStats]:
        """Per-rule counters by rule id (hits, errors, evaluations, time)."""
        return {rule_id: rule.stats for rule_id, rule in self._state.rules.items()}

    def candidates_for(self, event: Event) -> list[CompiledRule]:
        """The rules routing and the prefilter would evaluate on this event (diagnostics)."""
        state = self._state
        prefilter = self._prefilter(state, event)
        return prefilter.candidates(EventView(event, state.slots))

    # --- matching ---------------------------------------------------------------------------

    def match(self, event: Event) -> list[Hit]:
        """Hits of every enabled rule whose condition holds on `event` (base rules of
        correlations included, flagged `alert=False` when they exist only for them)."""
        return [rule.hit(event) for rule in self.matching_rules(event)]

    def matching_rules(self, event: Event) -> list[CompiledRule]:
        """The rules `match` would make hits of, in the same order (and with the same
        statistics), without building the `Hit`s: for callers that need only some of them."""
        state = self._state
        try:  # `_prefilter`'s cache hit, inline: this runs for every event
            prefilter = state.by_signature.get(event_signature(event))
        except TypeError:  # an unhashable value where a scalar belongs: route without caching
            prefilter = self._route(state, event)
        if prefilter is None:
            prefilter = self._prefilter(state, event)
        if prefilter is _NO_RULES:
            return []
        view = EventView(event, state.slots)
        candidates = prefilter.candidates(view)
        if not candidates:
            return []
        if self.timing:
            self._sampled += 1
            if self._sampled >= TIMING_SAMPLE:
                self._sampled = 0
                return self._evaluate_timed(candidates, view)
        matching: list[CompiledRule] = []
        for rule in candidates:
            try:
                matched = rule.match(view)
            except Exception:  # a matcher bug must not stop detection for the other rules
                matched = _failed(rule)
            stats = rule.stats
            stats.evaluations += 1
            if matched:
                stats.hits += 1
                matching.append(rule)
        return matching

    def _evaluate_timed(self, candidates: list[CompiledRule], view: EventView) -> list[CompiledRule]:
        """The loop of `matching_rules`, timing each rule; the time counts for the
        `TIMING_SAMPLE` evaluations this one stands for."""
        matching: list[CompiledRule] = []
        clock = time.perf_counter_ns
        for rule in candidates:
            started = clock()
            try:
                matched = rule.match(view)
            except Exception:  # a matcher bug must not stop detection for the other rules
                matched = _failed(rule)
            stats = rule.stats
            stats.time_ns += (clock() - started) * TIMING_SAMPLE
            stats.evaluations += 1
            if matched:
                stats.hits += 1
                matching.append(rule)
        return matching

    def match_batch(self, events: Iterable[Event]) -> list[Hit]:
        """`match` over a batch, hits in event order."""
        hits: list[Hit] = []
        match = self.match
        for event in events:
            found = match(event)
            if found:
                hits.extend(found)
        return hits

    def _prefilter(self, state: _State, event: Event) -> Prefilter[CompiledRule]:
        try:
            signature = event_signature(event)
            cached = state.by_signature.get(signature)
        except TypeError:  # an unhashable value where a scalar belongs: route without caching
            return self._route(state, event)
        if cached is not None:
            return cached
        prefilter = self._route(state, event)
        if len(state.by_signature) >= SIGNATURE_CACHE_MAX:
            state.by_signature.clear()
        state.by_signature[signature] = prefilter
        return prefilter

    def _route(self, state: _State, event: Event) -> Prefilter[CompiledRule]:
        keys = classify(event).route_keys()
        base = state.by_source.get(keys)
        if base is None:
            seen: set[int] = set()
            rules: list[CompiledRule] = []
            for key in keys:
                for rule in state.routes.get(key, ()):
                    if id(rule) not in seen:
                        seen.add(id(rule))
                        rules.append(rule)
            rules.sort(key=lambda r: r.order)
            base = Prefilter(rules, state.slots) if rules else _NO_RULES
            if len(state.by_source) >= SIGNATURE_CACHE_MAX:
                state.by_source.clear()
            state.by_source[keys] = base
        if base is _NO_RULES:
            return _NO_RULES
        known = _key_values(event)
        if not known:
            return base
        restricted = base.restricted(lambda r: _keys_allow(r.keys, known))
        return restricted if restricted is not None else _NO_RULES


def _failed(rule: CompiledRule) -> bool:
    """Count a matcher's exception (logged once per rule); the rule did not match."""
    rule.stats.errors += 1
    if rule.stats.errors == 1:
        log.exception("rule %s failed on an event", rule.id)
    return False


def _key_values(event: Event) -> dict[str, str]:
    winlog = event.get("winlog")
    if not isinstance(winlog, dict):
        return {}
    known: dict[str, str] = {}
    for name, key in (("EventID", "event_id"), ("Channel", "channel"), ("Provider_Name", "provider_name")):
        value = winlog.get(key)
        if value is not None and not isinstance(value, dict | list):
            known[name] = str(value).lower()
    return known


def _keys_allow(keys: dict[str, frozenset[str]] | None, known: dict[str, str]) -> bool:
    if not keys:
        return True
    for name in _KEY_FIELDS:
        wanted = keys.get(name)
        if wanted is not None and name in known and known[name] not in wanted:
            return False
    return True


def _and_filters(parts: list[Compiled]) -> Compiled:
    rule, *filters = parts
    rule_match = rule.match
    filter_matches = tuple(f.match for f in filters)

    def filtered(view: EventView) -> bool:
        if not rule_match(view):
            return False
        for f in filter_matches:
            if not f(view):
                return False
        return True

    return Compiled(filtered, rule.need, rule.keys, rule.sources)


def _filter_applies(loaded: LoadedFilter, rule: SigmaRule) -> bool:
    """Sigma filter semantics (as pySigma): same or narrower log source, and listed rule."""
    sigma_filter = loaded.filter
    try:
        if rule.logsource not in sigma_filter.logsource:
            return False
    except SigmaError:
        return False
    refs = sigma_filter.filter.rules
    if isinstance(refs, str):
        return refs.lower() == "any"
    names = {str(rule.id) if rule.id else None, rule.name, rule.title}
    return any(ref.reference in names for ref in refs or ())


def _correlation_only(ruleset: RuleSet) -> set[str]:
    """Ids and names of rules referenced only by correlations that do not `generate` them."""
    silent: set[str] = set()
    loud: set[str] = set()
    for corr in ruleset.correlations:
        for ref in corr.rule.rules or ():
            target = getattr(ref, "rule", None)
            names = {ref.reference}
            if target is not None:
                if target.id is not None:
                    names.add(str(target.id))
                if target.name:
                    names.add(target.name)
            (loud if corr.rule.generate else silent).update(names)
    return silent - loud


def _route_text(key: RouteKey) -> str:
    product, category, service = key
    parts = [f"product={product}" if product else "", f"category={category}" if category else ""]
    parts.append(f"service={service}" if service else "")
    return " ".join(p for p in parts if p) or "(empty)"

