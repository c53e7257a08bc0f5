"""First-seen rules: our small YAML format beside Sigma (Elastic's "new terms", Wazuh's `if_fts`).

A rule file of the pack holds one document with `type: first_seen`; the loader of
`detect/rules.py` routes it here instead of to pySigma. The metadata is Sigma's (title, id,
status, description, author, date, tags, level, falsepositives), so the pack's conventions
and tests apply unchanged; the detection is:

    first_seen:
      fields: [host.name, process.name]   # 1 to 3 ECS fields: the combination watched
      history: 30d                        # fires when the combination was not seen in this window
      learning: 7d                        # after the rule's first event, record without firing
      where:                              # optional: only events where every field equals one
        event.category: process           #   of its values (a list field: any element)
        event.type: [start]

Durations are `<number><s|m|h|d>`. An event lacking any of the fields (or holding a value
that is not a string or number) does not count.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from guetteur.errors import ConfigError

RULE_TYPE = "first_seen"
MAX_FIELDS = 3
MAX_WHERE_VALUES = 100
_LEVELS = ("informational", "low", "medium", "high", "critical")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_FIELD = re.compile(r"^[A-Za-z0-9_@][A-Za-z0-9_.@-]{0,199}$")


class FirstSeenRuleError(ConfigError):
    """A first-seen rule document that cannot be used (the reason says why)."""


Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FirstSeenRule:
    """One validated first-seen rule.

    fields:   the dotted ECS names watched, in order (the combination's key).
    paths:    the same, split for the worker's lookups.
    history:  seconds a combination stays known after it was last seen.
    learning: seconds after the rule's first event during which it records without firing.
    where:    (path, accepted values) pairs, all of which must hold.
    """

    id: str
    title: str
    level: str
    tags: tuple[str, ...]
    description: str
    fields: tuple[str, ...]
    paths: tuple[Path, ...]
    history: float
    learning: float
    where: tuple[tuple[Path, frozenset[str]], ...]
    source: str

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], source: str) -> FirstSeenRule:
        """Validate one YAML document; `FirstSeenRuleError` with every reason when it is wrong."""
        problems: list[str] = []
        title = doc.get("title")
        if not isinstance(title, str) or not title.strip():
            problems.append("`title` is required")
        rule_id = doc.get("id")
        if not isinstance(rule_id, str) or not rule_id.strip():
            problems.append("`id` is required")
        level = doc.get("level", "medium")
        if level not in _LEVELS:
            problems.append(f"`level` must be one of {', '.join(_LEVELS)}")
        tags = doc.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            problems.append("`tags` must be a list of strings")
            tags = []
        spec = doc.get(RULE_TYPE)
        fields: list[str] = []
        history = learning = 0.0
        where: list[tuple[Path, frozenset[str]]] = []
        if not isinstance(spec, Mapping):
            problems.append(f"`{RULE_TYPE}` must be a mapping with `fields` and `history`")
        else:
            fields = _fields(spec.get("fields"), problems)
            history = _duration(spec.get("history"), "history", problems)
            learning = _duration(spec.get("learning", "0s"), "learning", problems, zero=True)
            where = _where(spec.get("where"), problems)
        if problems:
            raise FirstSeenRuleError(f"first_seen rule: {'; '.join(problems)}")
        return cls(id=str(rule_id), title=str(title), level=str(level), tags=tuple(tags),
                   description=" ".join(str(doc.get("description", "")).split()), fields=tuple(fields),
                   paths=tuple(tuple(f.split(".")) for f in fields), history=history, learning=learning,
                   where=tuple(where), source=source)


def is_first_seen(doc: object) -> bool:
    """Whether a YAML document is a first-seen rule (and not Sigma)."""
    return isinstance(doc, Mapping) and doc.get("type") == RULE_TYPE


def _fields(value: Any, problems: list[str]) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_FIELDS:
        problems.append(f"`fields` must list 1 to {MAX_FIELDS} field names")
        return []
    bad = [f for f in value if not isinstance(f, str) or not _FIELD.match(f)]
    if bad:
        problems.append(f"bad field name(s): {', '.join(repr(b)[:60] for b in bad)}")
        return []
    if len(set(value)) != len(value):
        problems.append("`fields` repeats a field")
        return []
    return [str(f) for f in value]


def _duration(value: Any, name: str, problems: list[str], zero: bool = False) -> float:
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        problems.append(f"`{name}` must be a duration such as 30d, 12h, 15m")
        return 0.0
    seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if seconds <= 0 and not zero:
        problems.append(f"`{name}` must be longer than zero")
    if seconds > 3650 * 86400.0:
        problems.append(f"`{name}` is longer than ten years")
    return seconds


def _where(value: Any, problems: list[str]) -> list[tuple[Path, frozenset[str]]]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        problems.append("`where` must map field names to a value or a list of values")
        return []
    out: list[tuple[Path, frozenset[str]]] = []
    for field, accepted in value.items():
        if not isinstance(field, str) or not _FIELD.match(field):
            problems.append(f"bad field name in `where`: {str(field)[:60]!r}")
            continue
        items = accepted if isinstance(accepted, list) else [accepted]
        if not items or len(items) > MAX_WHERE_VALUES or not all(isinstance(v, str | int) for v in items):
            problems.append(f"`where.{field}` must be a string or a list of 1 to {MAX_WHERE_VALUES} strings")
            continue
        out.append((tuple(field.split(".")), frozenset(str(v) for v in items)))
    return out
