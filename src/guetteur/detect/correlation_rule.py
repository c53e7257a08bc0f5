"""A Sigma correlation rule compiled for streaming evaluation (`CorrelationSpec`).

`CorrelationSpec.from_sigma` turns a pySigma `SigmaCorrelationRule` (references resolved, field
names already mapped to ECS by the processing pipeline) into the plain, hashable facts the
correlation engine needs: which base hits feed it, which event field gives each `group-by`
value for each referenced rule (aliases resolved), the window length, and the condition.

Supported types (Sigma correlation spec 2.1, as parsed by pySigma 2.0.1): `event_count`,
`value_count`, `temporal`, `temporal_ordered`, `value_sum`, `value_avg`, `value_percentile`
(needs `condition.percentile`), `value_median`; temporal types also accept pySigma's extended
string conditions (`rule_a and not rule_b`).

Evaluation mode (see docs/correlation.md):
- *rising*: the aggregate can only grow as events arrive (`gt`/`gte` on event_count,
  value_count, value_sum, temporal, temporal_ordered; extended conditions without `not`).
  Checked on every contributing event over the sliding window ending at it; fires at once.
- *closing*: anything else (`lt`, `lte`, `eq`, `neq`, averages, percentiles, `not`). Checked
  once per window, when the window (opened by the group's first event) has closed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)
from sigma.rule import SigmaRule

from guetteur.detect.logsource import RouteKey, field_paths, rule_route_key

# Where a field lives in our nested events: paths to try in order (see logsource.field_paths).
FieldPaths = tuple[tuple[str, ...], ...]

RISING_TYPES = frozenset({"event_count", "value_count", "value_sum", "temporal", "temporal_ordered"})
VALUE_TYPES = frozenset({"value_count", "value_sum", "value_avg", "value_percentile", "value_median"})
NUMERIC_TYPES = frozenset({"value_sum", "value_avg", "value_percentile", "value_median"})
TEMPORAL_TYPES = frozenset({"temporal", "temporal_ordered"})

# the condition operators; `correlation.condition_holds` evaluates them
OPERATORS = frozenset({"gt", "gte", "lt", "lte", "eq", "neq"})

# Extended condition tree, rule references replaced by their index in `CorrelationSpec.rules`:
# int | ("and", (...)) | ("or", (...)) | ("not", (x,))
ConditionTree = Any


class CorrelationRuleError(ValueError):
    """A correlation rule Guetteur cannot evaluate; the message says why."""


def rule_keys(rule: Any) -> frozenset[str]:
    """Every text a hit of `rule` may carry in `Hit.rule_id` / `Hit.rule_name`."""
    keys = set()
    for attr in ("id", "name"):
        value = getattr(rule, attr, None)
        if value:
            keys.add(str(value))
    return frozenset(keys)


def rule_identity(rule: Any) -> str:
    """The id a correlation rule's own hits carry: its `id`, else `name`, else its title."""
    for attr in ("id", "name", "title"):
        value = getattr(rule, attr, None)
        if value:
            return str(value)
    return "correlation"


@dataclass(frozen=True, slots=True)
class CorrelationSpec:
    """One correlation rule, ready for the engine. Immutable; compare by `fingerprint`."""

    rule_id: str
    title: str
    name: str | None
    level: str
    tags: tuple[str, ...]
    type: str
    timespan: float  # seconds
    group_by: tuple[str, ...]  # names as written (alias or field), the keys of Hit.group_key
    rules: tuple[frozenset[str], ...]  # per referenced rule: the ids/names its hits carry
    rule_labels: tuple[str, ...]  # per referenced rule: the reference as written
    group_fields: tuple[tuple[str, ...], ...]  # per referenced rule: event field per group-by entry
    value_fields: tuple[tuple[str, ...], ...]  # per referenced rule: event field(s) for value_* types
    group_paths: tuple[tuple[FieldPaths, ...], ...]  # group_fields resolved to event paths
    value_paths: tuple[tuple[FieldPaths, ...], ...]  # value_fields resolved to event paths
    op: str  # gt gte lt lte eq neq
    threshold: float
    percentile: float | None
    extended: ConditionTree | None
    generate: bool  # its own `generate`: True keeps the referenced rules' own alerts
    rising: bool
    source: str | None = None
    fingerprint: str = field(default="", compare=False)

    @property
    def min_events(self) -> int:
        """Entries a group must keep to ever satisfy the condition (used to size the window cap)."""
        if self.type == "event_count" and self.op in ("gt", "gte", "eq"):
            return int(self.threshold) + (1 if self.op == "gt" else 0)
        return 0

    @classmethod
    def from_sigma(
        cls, rule: Any, *, rule_id: str | None = None, source: str | None = None
    ) -> CorrelationSpec:
        """Compile a resolved pySigma correlation rule. Raises `CorrelationRuleError`."""
        if not isinstance(rule, SigmaCorrelationRule):
            raise CorrelationRuleError(f"not a Sigma correlation rule: {type(rule).__name__}")
        ctype = str(getattr(rule.type, "name", rule.type)).lower()
        if ctype not in RISING_TYPES | VALUE_TYPES | TEMPORAL_TYPES:
            raise CorrelationRuleError(f"unsupported correlation type {ctype!r}")
        refs: list[SigmaRuleReference] = list(rule.referenced_rules or rule.rules or [])
        if not refs:
            raise CorrelationRuleError("correlation rule references no rules")
        resolved = [getattr(ref, "rule", None) for ref in refs]
        keys = tuple(
            rule_keys(target) | {ref.reference} if target is not None else frozenset({ref.reference})
            for ref, target in zip(refs, resolved, strict=True)
        )
        labels = tuple(ref.reference for ref in refs)
        group_by = tuple(rule.group_by or ())
        aliases = _alias_table(rule, refs)
        group_fields = tuple(
            tuple(aliases.get(name, {}).get(i, name) for name in group_by) for i in range(len(refs))
        )
        condition = rule.condition
        extended: ConditionTree | None = None
        percentile: float | None = None
        value_fields: tuple[tuple[str, ...], ...] = tuple(() for _ in refs)
        if isinstance(condition, SigmaExtendedCorrelationCondition):
            if ctype not in TEMPORAL_TYPES:
                raise CorrelationRuleError("extended (string) conditions need a temporal correlation")
            extended = _tree(condition.parsed, labels)
            op, threshold = "gte", 1.0
            rising = not _has_not(extended)
        elif isinstance(condition, SigmaCorrelationCondition):
            op = condition.op.name.lower()
            if op not in OPERATORS:
                raise CorrelationRuleError(f"unsupported condition operator {op!r}")
            threshold = float(condition.count)
            if ctype in VALUE_TYPES:
                names = condition.fieldref
                if not names:
                    raise CorrelationRuleError(f"{ctype} needs condition.field")
                names = [names] if isinstance(names, str) else list(names)
                if ctype in NUMERIC_TYPES and len(names) != 1:
                    raise CorrelationRuleError(f"{ctype} needs exactly one condition.field")
                value_fields = tuple(
                    tuple(aliases.get(n, {}).get(i, n) for n in names) for i in range(len(refs))
                )
            if ctype == "value_percentile":
                if condition.percentile is None:
                    raise CorrelationRuleError("value_percentile needs condition.percentile (0-100)")
                percentile = float(condition.percentile)
                if not 0 <= percentile <= 100:
                    raise CorrelationRuleError("condition.percentile must be between 0 and 100")
            elif ctype == "value_median":
                percentile = 50.0
            rising = ctype in RISING_TYPES and op in ("gt", "gte")
        else:
            raise CorrelationRuleError("correlation rule without a usable condition")
        seconds = float(getattr(rule.timespan, "seconds", 0) or 0)
        if seconds <= 0:
            raise CorrelationRuleError("correlation timespan must be positive")
        route_keys = [_route_key(target) for target in resolved]
        group_paths = tuple(
            tuple(field_paths(name, route_keys[i]) for name in names) for i, names in enumerate(group_fields)
        )
        value_paths = tuple(
            tuple(field_paths(name, route_keys[i]) for name in names) for i, names in enumerate(value_fields)
        )
        level = getattr(rule, "level", None)
        level_name = str(getattr(level, "name", level)).lower() if level is not None else "medium"
        spec = cls(
            rule_id=rule_id or rule_identity(rule),
            title=str(rule.title or rule_identity(rule)),
            name=rule.name,
            level=level_name,
            tags=tuple(f"{t.namespace}.{t.name}" for t in (rule.tags or ())),
            type=ctype,
            timespan=seconds,
            group_by=group_by,
            rules=keys,
            rule_labels=labels,
            group_fields=group_fields,
            value_fields=value_fields,
            group_paths=group_paths,
            value_paths=value_paths,
            op=op,
            threshold=threshold,
            percentile=percentile,
            extended=extended,
            generate=bool(rule.generate),
            rising=rising,
            source=source,
        )
        object.__setattr__(spec, "fingerprint", spec._digest())
        return spec

    def _digest(self) -> str:
        """Changes whenever the window semantics change (state of a changed rule is dropped)."""
        parts = [
            self.type,
            repr(self.timespan),
            repr(self.group_by),
            repr(self.rule_labels),
            repr(self.group_fields),
            repr(self.value_fields),
            self.op,
            repr(self.threshold),
            repr(self.percentile),
            repr(self.extended),
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _route_key(target: Any) -> RouteKey:
    """The log source of a referenced base rule; open for a referenced correlation."""
    if isinstance(target, SigmaRule):
        return rule_route_key(target.logsource)
    return (None, None, None)


def _alias_table(rule: SigmaCorrelationRule, refs: Sequence[SigmaRuleReference]) -> dict[str, dict[int, str]]:
    """alias -> {index of referenced rule -> event field}."""
    table: dict[str, dict[int, str]] = {}
    if not rule.aliases:
        return table
    for alias in rule.aliases:
        per_rule: dict[int, str] = {}
        for ref, field_name in alias.mapping.items():
            target = getattr(ref, "rule", None)
            target_keys = rule_keys(target) | {ref.reference} if target is not None else {ref.reference}
            for i, candidate in enumerate(refs):
                candidate_target = getattr(candidate, "rule", None)
                candidate_keys = (
                    rule_keys(candidate_target) | {candidate.reference}
                    if candidate_target is not None
                    else {candidate.reference}
                )
                if target_keys & candidate_keys:
                    per_rule[i] = str(field_name)
        table[alias.alias] = per_rule
    return table


def _tree(node: Any, labels: Sequence[str]) -> ConditionTree:
    if isinstance(node, SigmaRuleReference):
        try:
            return labels.index(node.reference)
        except ValueError as exc:
            raise CorrelationRuleError(f"extended condition names unknown rule {node.reference!r}") from exc
    if isinstance(node, CorrelationConditionNOT):
        return ("not", (_tree(node.args[0], labels),))
    if isinstance(node, CorrelationConditionAND):
        return ("and", tuple(_tree(a, labels) for a in node.args))
    if isinstance(node, CorrelationConditionOR):
        return ("or", tuple(_tree(a, labels) for a in node.args))
    raise CorrelationRuleError(f"unsupported extended condition node {type(node).__name__}")


def _has_not(tree: ConditionTree) -> bool:
    if isinstance(tree, int):
        return False
    kind, args = tree
    return kind == "not" or any(_has_not(a) for a in args)


def evaluate_tree(tree: ConditionTree, present: Iterable[int] | set[int]) -> bool:
    """Extended condition over the set of referenced-rule indexes seen in the window."""
    seen = present if isinstance(present, set) else set(present)
    if isinstance(tree, int):
        return tree in seen
    kind, args = tree
    if kind == "not":
        return not evaluate_tree(args[0], seen)
    if kind == "and":
        return all(evaluate_tree(a, seen) for a in args)
    return any(evaluate_tree(a, seen) for a in args)
