"""Plan -> a test on one ECS document in Python: the live stream's filter, and a second
implementation the tests hold the SQL compiler to.

It follows `compile.py` exactly: a field's value is found by walking objects only (never into
arrays); a scalar is its own only element, an array's elements are looked at one level deep;
`null` and `[]` are absent.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from guetteur.search import kql, plan
from guetteur.search.fields import FieldSpec
from guetteur.search.plan import Context
from guetteur.search.values import SMALLINT

_MISSING = object()
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _value(doc: dict[str, Any], target: FieldSpec) -> Any:
    node: Any = doc
    for key in target.path:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def elements(doc: dict[str, Any], target: FieldSpec) -> list[Any]:
    value = _value(doc, target)
    if value is _MISSING or value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _text_form(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return str(value)
    return None


def _severity_column(value: Any) -> Any:
    """What the `severity` column makes of a document value (store/encoding.py)."""
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit() and int(value) in SMALLINT:
        return int(value)
    return value


def _equals(p: plan.Equals, doc: dict[str, Any], ts: datetime) -> bool:
    for element in elements(doc, p.field):
        if isinstance(element, bool):
            if p.text == ("true" if element else "false"):
                return True
        elif isinstance(element, str):
            if element == p.text:
                return True
            if p.field.column_type == "smallint" and p.number is not None and str(_severity_column(element)) == p.text:
                return True
        elif p.number is not None and _number(element) == p.number:
            return True
    return False


@cache
def _like_regex(parts: tuple[str | None, ...]) -> re.Pattern[str]:
    return plan.like_regex(parts)


def _like(p: plan.Like, doc: dict[str, Any], ts: datetime) -> bool:
    pattern = _like_regex(p.parts)
    return any(t is not None and pattern.fullmatch(t) for t in map(_text_form, elements(doc, p.field)))


def _compare(p: plan.Compare, doc: dict[str, Any], ts: datetime) -> bool:
    test = _COMPARE[p.op]
    for element in elements(doc, p.field):
        if p.field.column_type == "smallint" and p.number is not None:
            element = _severity_column(element)
        if isinstance(element, str) and not isinstance(element, bool):
            if test(element, p.text):
                return True
        elif p.number is not None and (n := _number(element)) is not None and test(n, p.number):
            return True
    return False


def _present(p: plan.Present, doc: dict[str, Any], ts: datetime) -> bool:
    value = _value(doc, p.field)
    return value is not _MISSING and value is not None and value != []


def _address(element: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(element, str) or "/" in element or "%" in element or len(element) > 64:
        return None
    try:
        return ipaddress.ip_address(element)
    except ValueError:
        return None


def _in_network(p: plan.InNetwork, doc: dict[str, Any], ts: datetime) -> bool:
    return any((a := _address(e)) is not None and a in p.network for e in elements(doc, p.field))


def _compare_address(p: plan.CompareAddress, doc: dict[str, Any], ts: datetime) -> bool:
    test = _COMPARE[p.op]
    ref = p.address.network_address
    key = (ref.version, int(ref))
    return any((a := _address(e)) is not None and test((a.version, int(a)), key) for e in elements(doc, p.field))


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _text_match(p: plan.TextMatch, doc: dict[str, Any], ts: datetime) -> bool:
    pattern = _regex(p.python)
    return any(isinstance(e, str) and pattern.search(e.lower()) for e in elements(doc, p.field))


def _time_in(p: plan.TimeIn, doc: dict[str, Any], ts: datetime) -> bool:
    return (p.start is None or ts >= p.start) and (p.end is None or ts < p.end)


_LEAVES: dict[type, Callable[[Any, dict[str, Any], datetime], bool]] = {
    plan.Equals: _equals, plan.Like: _like, plan.Compare: _compare, plan.Present: _present,
    plan.InNetwork: _in_network, plan.CompareAddress: _compare_address, plan.TextMatch: _text_match,
    plan.TimeIn: _time_in,
}


def matches(p: plan.Plan, doc: dict[str, Any], ts: datetime) -> bool:
    """Whether the document (with its stored time `ts`, the `@timestamp` column) matches."""
    match p:
        case plan.Const(value):
            return value
        case plan.AllOf(items):
            return all(matches(i, doc, ts) for i in items)
        case plan.AnyOf(items):
            return any(matches(i, doc, ts) for i in items)
        case plan.NoneOf(item):
            return not matches(item, doc, ts)
    return _LEAVES[type(p)](p, doc, ts)


def event_time(doc: dict[str, Any], fallback: datetime) -> datetime:
    """The `@timestamp` of a document as the store reads it (`fallback` when unusable)."""
    value = doc.get("@timestamp")
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return fallback
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return fallback


def compile_filter(text: str, *, known: tuple[str, ...], now: datetime) -> plan.Plan:
    """The plan of a KQL query, for `matches`. Raises `KqlError`."""
    return plan.build(kql.parse(text), Context(known, now))
