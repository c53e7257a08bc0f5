"""What a worker hands the statistical detectors for one batch: counts and first-seen candidates.

Per event the worker does one tuple build and one dict increment (`counts`), plus, per
first-seen rule, the rule's `where` test and field lookups: no per-event message crosses to
the main process. The main process (`stats.stage.StatsStage`) turns the batch into minute
counts per series (frequency), arrivals per host and source type (silent sources) and
first-seen checks. Values are passed as the event holds them; the main process cleans them
(text, length) once per distinct key, not per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from guetteur.model import Event
from guetteur.stats.first_seen_rule import FirstSeenRule

# (minute "YYYY-MM-DDTHH:MM" of @timestamp, host.name, user.name, source.ip,
#  first event.category, event.outcome, event.dataset)
CountKey = tuple[Any, Any, Any, Any, Any, Any, Any]
# first-seen: rule id -> combination of the rule's fields -> (@timestamp, event.id) of its first event
FirstSeenFound = dict[str, dict[tuple[Any, ...], tuple[Any, Any]]]
_SCALARS = (str, int, float)
MAX_TEXT = 256  # longer values are cut in keys (hostile input stays small)


@dataclass(slots=True)
class StatsBatch:
    """Per batch: events per `CountKey`, and the first occurrence of each first-seen combination."""

    counts: dict[CountKey, int] = field(default_factory=dict)
    first_seen: FirstSeenFound = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.counts or self.first_seen)


def _clean(value: Any) -> Any:
    if value is None:
        return None
    return (value if type(value) is str else str(value))[:MAX_TEXT]


def _lookup(event: Event, path: tuple[str, ...]) -> Any:
    node: Any = event
    for part in path:
        if type(node) is not dict:
            return None
        node = node.get(part)
    return node


def _holds(event: Event, rule: FirstSeenRule) -> bool:
    for path, accepted in rule.where:
        value = _lookup(event, path)
        if type(value) is list:
            for item in value:
                if type(item) in _SCALARS and str(item) in accepted:
                    break
            else:
                return False
        elif type(value) not in _SCALARS or str(value) not in accepted:
            return False
    return True


class FirstSeenIndex:
    """The first-seen rules indexed by the value of their first `where` field, so an event costs
    one lookup per distinct first field (usually `event.action` or `event.category`), not a
    test per rule; rules without `where` are candidates for every event."""

    def __init__(self, rules: Sequence[FirstSeenRule]) -> None:
        self.rules = tuple(rules)
        self.always = tuple(r for r in rules if not r.where)
        by_path: dict[tuple[str, ...], dict[str, list[FirstSeenRule]]] = {}
        for rule in rules:
            if rule.where:
                path, accepted = rule.where[0]
                index = by_path.setdefault(path, {})
                for value in accepted:
                    index.setdefault(value, []).append(rule)
        self.by_path = tuple((path, {v: tuple(rs) for v, rs in index.items()}) for path, index in by_path.items())

    def __bool__(self) -> bool:
        return bool(self.rules)


def _remember(event: Event, rule: FirstSeenRule, found: FirstSeenFound) -> None:
    if len(rule.where) > 1 and not _holds(event, rule):
        return
    combo = tuple(_lookup(event, p) for p in rule.paths)
    for value in combo:
        if type(value) not in _SCALARS:
            return  # a field missing, a list or an object: not a value to remember
    combo = tuple(_clean(v) for v in combo)
    per_rule = found.setdefault(rule.id, {})
    if combo not in per_rule:
        meta = event.get("event")
        per_rule[combo] = (event.get("@timestamp"), meta.get("id") if type(meta) is dict else None)


def collect_batch(events: list[Event], rules: FirstSeenIndex | Sequence[FirstSeenRule] = ()) -> StatsBatch:
    """Count the batch's events per `CountKey` and find each first-seen rule's combinations."""
    index = rules if isinstance(rules, FirstSeenIndex) else FirstSeenIndex(rules)
    counts: dict[CountKey, int] = {}
    found: FirstSeenFound = {}
    get = counts.get
    for event in events:
        ts = event.get("@timestamp")
        host = event.get("host")
        user = event.get("user")
        source = event.get("source")
        meta = event.get("event")
        if type(meta) is dict:
            category = meta.get("category")
            if type(category) is list:
                category = category[0] if category else None
            key: CountKey = (ts[:16] if type(ts) is str else None,
                             host.get("name") if type(host) is dict else None,
                             user.get("name") if type(user) is dict else None,
                             source.get("ip") if type(source) is dict else None,
                             category, meta.get("outcome"), meta.get("dataset"))
        else:
            key = (ts[:16] if type(ts) is str else None,
                   host.get("name") if type(host) is dict else None,
                   user.get("name") if type(user) is dict else None,
                   source.get("ip") if type(source) is dict else None, None, None, None)
        try:
            counts[key] = get(key, 0) + 1
        except TypeError:  # an unhashable value (a list or an object where text belongs): its text
            key = (key[0] if type(key[0]) is str else None, *(_clean(v) for v in key[1:]))
            counts[key] = get(key, 0) + 1
        if not index:
            continue
        for rule in index.always:
            _remember(event, rule, found)
        for path, by_value in index.by_path:
            value = _lookup(event, path)
            if type(value) is list:
                for item in value:
                    for rule in by_value.get(item if type(item) is str else str(item), ()):
                        _remember(event, rule, found)
            elif value is not None:
                for rule in by_value.get(value if type(value) is str else str(value), ()):
                    _remember(event, rule, found)
    return StatsBatch(counts, found)
