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
            if not any(str(v) in accepted for v in value if type(v) in _SCALARS):
                return False
        elif type(value) not in _SCALARS or str(value) not in accepted:
            return False
    return True


def _first_seen(events: list[Event], rule: FirstSeenRule, found: dict[tuple[Any, ...], tuple[Any, Any]]) -> None:
    paths = rule.paths
    for event in events:
        if rule.where and not _holds(event, rule):
            continue
        combo = tuple(_lookup(event, p) for p in paths)
        if any(type(v) not in _SCALARS for v in combo):
            continue  # a field missing, a list or an object: not a value to remember
        combo = tuple(_clean(v) for v in combo)
        if combo not in found:
            meta = event.get("event")
            found[combo] = (event.get("@timestamp"), meta.get("id") if type(meta) is dict else None)


def collect_batch(events: list[Event], rules: Sequence[FirstSeenRule] = ()) -> StatsBatch:
    """Count the batch's events per `CountKey` and find each first-seen rule's combinations."""
    counts: dict[CountKey, int] = {}
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
    found: FirstSeenFound = {}
    for rule in rules:
        per_rule: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        _first_seen(events, rule, per_rule)
        if per_rule:
            found[rule.id] = per_rule
    return StatsBatch(counts, found)
