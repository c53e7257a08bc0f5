"""Silences: data that mutes matching alerts for a while (as Alertmanager's silences).

A silence has matchers, a start and an end (event time), a reason and an author. An alert
matches when **every** matcher does:

- `rule_id`: the rule id, exact or with `*`/`?` wildcards;
- `tags`: any of the rule's tags (`attack.t1110*`, `cve.2021-44228`);
- any other field is an entity field (`host.name`, `user.name`, `source.ip`, a correlation's
  group-by field): a CIDR (`10.0.0.0/8`, `2001:db8::/32`) matches the addresses inside it, a
  value with `*`/`?` is a wildcard, anything else is exact. Texts compare case-insensitively.

A silenced alert is still recorded and counted (`alerts.silenced`), never notified. Parsing
refuses what cannot work (`AlertInputError`, HTTP 422 with the reason).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from guetteur.errors import AlertInputError

MatchKind = Literal["exact", "wildcard", "cidr"]
MAX_MATCHERS = 16
MAX_VALUE = 512
_FIELD = re.compile(r"^[A-Za-z0-9_@][A-Za-z0-9_.@-]{0,127}$")
_CIDR_SHAPE = re.compile(r"^[0-9A-Fa-f:.]+/\d{1,3}$")


@dataclass(frozen=True, slots=True)
class Matcher:
    field: str
    value: str
    kind: MatchKind

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "value": self.value}

    def matches(self, rule_id: str, tags: Sequence[str], entity: Mapping[str, str]) -> bool:
        if self.field == "rule_id":
            return self._text(rule_id)
        if self.field == "tags":
            return any(self._text(tag) for tag in tags)
        value = entity.get(self.field)
        if value is None:
            return False
        if self.kind == "cidr":
            return _in_network(value, self.value)
        return self._text(value)

    def _text(self, text: str) -> bool:
        if self.kind == "wildcard":
            return fnmatch.fnmatchcase(text.casefold(), self.value.casefold())
        return text.casefold() == self.value.casefold()


def _in_network(value: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(value.strip()) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def parse_matcher(raw: Any) -> Matcher:
    """One matcher from `{"field": ..., "value": ...}`; `AlertInputError` says what is wrong."""
    if not isinstance(raw, Mapping):
        raise AlertInputError("a matcher is an object {\"field\": ..., \"value\": ...}")
    name, value = raw.get("field"), raw.get("value")
    if not isinstance(name, str) or not _FIELD.match(name):
        raise AlertInputError(f"matcher field {str(name)[:40]!r}: rule_id, tags or an entity field such as host.name")
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE:
        raise AlertInputError(f"matcher {name}: value must be a non-empty text of at most {MAX_VALUE} characters")
    value = value.strip()
    if value.strip("*?") == "":
        raise AlertInputError(f"matcher {name}: a value of wildcards only would silence everything")
    if _CIDR_SHAPE.match(value):
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise AlertInputError(f"matcher {name}: {value!r} is not a network ({exc})") from None
        if name in ("rule_id", "tags"):
            raise AlertInputError(f"matcher {name}: a network only matches an address field")
        return Matcher(name, value, "cidr")
    kind: MatchKind = "wildcard" if any(c in value for c in "*?[") else "exact"
    return Matcher(name, value, kind)


def parse_matchers(raw: Any) -> list[Matcher]:
    """Every matcher of a silence (1 to `MAX_MATCHERS`)."""
    if not isinstance(raw, list) or not raw:
        raise AlertInputError("a silence needs at least one matcher")
    if len(raw) > MAX_MATCHERS:
        raise AlertInputError(f"a silence has at most {MAX_MATCHERS} matchers")
    return [parse_matcher(item) for item in raw]


def check_window(starts_at: datetime, ends_at: datetime) -> None:
    """A silence's window: aware times, the end after the start."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise AlertInputError("starts_at and ends_at need a time zone (e.g. 2026-12-05T10:00:00Z)")
    if ends_at <= starts_at:
        raise AlertInputError("ends_at must be after starts_at")


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime

    def active_at(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    def matches(self, rule_id: str, tags: Sequence[str], entity: Mapping[str, str]) -> bool:
        return all(m.matches(rule_id, tags, entity) for m in self.matchers)


def silence_from_row(sid: int, matchers: Any, starts_at: datetime, ends_at: datetime) -> Silence | None:
    """A stored silence (None when its matchers no longer parse: it then silences nothing)."""
    try:
        return Silence(sid, tuple(parse_matchers(matchers)), starts_at, ends_at)
    except AlertInputError:
        return None


def first_silence(silences: Iterable[Silence], rule_id: str, tags: Sequence[str], entity: Mapping[str, str],
                  at: datetime) -> Silence | None:
    """The first silence active at event time `at` that matches, or None."""
    for silence in silences:
        if silence.active_at(at) and silence.matches(rule_id, tags, entity):
            return silence
    return None
