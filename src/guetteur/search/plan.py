"""Query tree -> plan: every decision of meaning taken once, for both back ends.

The plan's leaves say exactly what is compared with what (field, kind, decoded value, number,
date interval, network, token patterns); `compile.py` renders a plan as SQL and `evaluate.py`
runs it on a document in Python. Both therefore agree by construction on everything but the
comparison itself, and the tests check that too on a fixed data set.

Errors (a wildcard on an address field, a value that is not a date...) are `KqlError`s with
the position of the value. Where a field name holds `*`, fields of another kind that cannot
take the value are skipped instead, as Elasticsearch's lenient multi-field queries do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from guetteur.search import kql, values
from guetteur.search.fields import FieldSpec, resolve, spec
from guetteur.search.kql import KqlError, Text

OPS = ("<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


@dataclass(frozen=True, slots=True)
class Equals:
    """Keyword equality: a string element equal to `text`, a number element equal to `number`,
    a boolean element whose name is `text`."""

    field: FieldSpec
    text: str
    number: Decimal | None


@dataclass(frozen=True, slots=True)
class Like:
    """Keyword wildcard: the text form of a string, number or boolean element matches."""

    field: FieldSpec
    parts: tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    """Keyword range: strings compare by code point, numbers as numbers."""

    field: FieldSpec
    op: str
    text: str
    number: Decimal | None


@dataclass(frozen=True, slots=True)
class Present:
    field: FieldSpec


@dataclass(frozen=True, slots=True)
class TimeIn:
    """`@timestamp` in [start, end) (either bound may be None)."""

    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True)
class InNetwork:
    field: FieldSpec
    network: values.Network


@dataclass(frozen=True, slots=True)
class CompareAddress:
    field: FieldSpec
    op: str
    address: values.Network  # a single address (/32 or /128)


@dataclass(frozen=True, slots=True)
class TextMatch:
    """A `message` element, lower-cased, contains a match of `pattern` (token boundaries
    included); `pattern` is given in both regex dialects."""

    field: FieldSpec
    python: str
    postgres: str
    required: tuple[tuple[str, ...], ...] = ()  # alternatives of words a match must contain (a cheap pre-test)
    tokens: tuple[tuple[str, ...], ...] = ()  # the same as whole message tokens (not for wildcards): the word index


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[Plan, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Plan, ...]


@dataclass(frozen=True, slots=True)
class NoneOf:
    item: Plan


Plan = Const | Equals | Like | Compare | Present | TimeIn | InNetwork | CompareAddress | TextMatch | AllOf | AnyOf | NoneOf


@dataclass(frozen=True, slots=True)
class Context:
    """What a query is planned against: the known field names (for `*` in field names) and
    the moment `now` means."""

    known: tuple[str, ...]
    now: datetime


# Token regexes in the two dialects: a token is `\w+(\.\w+)*` (see values.TOKEN).
_W = {"python": r"\w", "postgres": "[[:alnum:]_]"}
_NON_W = {"python": r"[^\w.]", "postgres": "[^[:alnum:]_.]"}


def _boundaries(body: str, dialect: str) -> str:
    w = _W[dialect]
    return f"(?<!{w})(?<!{w}\\.){body}(?!{w})(?!\\.{w})"


def _escape(token: str) -> str:
    return token.replace(".", "\\.")


def _token_pattern(pattern: str, dialect: str) -> str:
    w = _W[dialect]
    any_chars = f"(?:{w}|\\.(?={w}))*"
    return "".join(any_chars if c == "*" else _escape(c) for c in pattern)


def _separator(dialect: str) -> str:
    w = _W[dialect]
    return f"(?:{_NON_W[dialect]}|\\.(?!{w})|(?<!{w})\\.)+"


def _text_match(target: FieldSpec, value: Text) -> Plan:
    if value.quoted:
        words = values.tokens(value.plain)
        if not words:
            return Const(False)
        pick = {d: _boundaries(_separator(d).join(_escape(t) for t in words), d) for d in _W}
        required: tuple[tuple[str, ...], ...] = (tuple(words),)
        return TextMatch(target, pick["python"], pick["postgres"], required, required)
    elif value.wildcard:
        patterns = values.wildcard_tokens(value)
        if not patterns:
            return Const(False)
        pick = {d: _boundaries("(?:" + "|".join(_token_pattern(p, d) for p in patterns) + ")", d) for d in _W}
        chunks = [tuple(c for c in p.split("*") if c) for p in patterns]
        required = tuple(chunks) if all(chunks) else ()
    else:
        words = sorted(set(values.tokens(value.plain)))
        if not words:
            return Const(False)
        pick = {d: _boundaries("(?:" + "|".join(_escape(t) for t in words) + ")", d) for d in _W}
        required = tuple((w,) for w in words)
        return TextMatch(target, pick["python"], pick["postgres"], required, required)
    return TextMatch(target, pick["python"], pick["postgres"], required)


def _is(target: FieldSpec, value: Text, ctx: Context, lenient: bool) -> Plan:
    if target.kind == "text":
        return _text_match(target, value)
    if target.kind == "date":
        if value.wildcard:
            if lenient:
                return Const(False)
            raise KqlError("wildcards are not supported on the date field @timestamp", value.position)
        try:
            start, end = values.date_interval(value, ctx.now)
        except KqlError:
            if lenient:
                return Const(False)
            raise
        return TimeIn(start, end)
    if target.kind == "ip":
        network = None if value.wildcard else values.as_network(value.plain.strip())
        if network is None:
            if lenient:
                return Const(False)
            raise KqlError(f"{target.name} takes an IP address or a CIDR network (IPv6 in quotes), "
                           f"not {value.plain[:40]!r}", value.position)
        return InNetwork(target, network)
    if value.wildcard:
        return Like(target, value.parts)
    return Equals(target, value.plain, values.as_number(value.plain))


def _range(target: FieldSpec, op: str, value: Text, ctx: Context, lenient: bool) -> Plan:
    text = value.plain
    if target.kind == "date":
        try:
            start, end = values.date_interval(value, ctx.now)
        except KqlError:
            if lenient:
                return Const(False)
            raise
        bounds = {"<": (None, start), "<=": (None, end), ">": (end, None), ">=": (start, None)}[op]
        return TimeIn(*bounds)
    if target.kind == "ip":
        network = values.as_network(text.strip())
        if network is None or network.num_addresses != 1:
            if lenient:
                return Const(False)
            raise KqlError(f"{target.name} compares with an IP address, not {text[:40]!r}", value.position)
        return CompareAddress(target, op, network)
    return Compare(target, op, text, values.as_number(text))


def _fields(name: Text, ctx: Context) -> tuple[list[FieldSpec], bool]:
    specs = resolve(name, ctx.known)
    return specs, name.wildcard


def _any(items: list[Plan]) -> Plan:
    if not items:
        return Const(False)
    return items[0] if len(items) == 1 else AnyOf(tuple(items))


def _holds_nul(*texts: Text | None) -> bool:
    return any(t is not None and any(p is not None and "\x00" in p for p in t.parts) for t in texts)


def build(node: kql.Node, ctx: Context) -> Plan:
    """The plan of a query tree. Raises KqlError. A field name or value holding NUL (written
    `\u0000`) matches nothing: the store never holds one (it is replaced on the way in)."""
    match node:
        case kql.Is(name, value) | kql.Range(name, _, value) if _holds_nul(name, value):
            return Const(False)
        case kql.Exists(name) if _holds_nul(name):
            return Const(False)
        case kql.MatchAll():
            return Const(True)
        case kql.And(items):
            return AllOf(tuple(build(i, ctx) for i in items))
        case kql.Or(items):
            return AnyOf(tuple(build(i, ctx) for i in items))
        case kql.Not(item):
            return NoneOf(build(item, ctx))
        case kql.Is(None, value):
            return _text_match(spec("message"), value)
        case kql.Is(name, value) if name is not None:
            specs, lenient = _fields(name, ctx)
            return _any([_is(s, value, ctx, lenient) for s in specs])
        case kql.Exists(name):
            specs, _ = _fields(name, ctx)
            return _any([Const(True) if s.kind == "date" else Present(s) for s in specs])
        case kql.Range(name, op, value):
            specs, lenient = _fields(name, ctx)
            return _any([_range(s, op, value, ctx, lenient) for s in specs])
    raise KqlError("unsupported query", 0)  # pragma: no cover


def like_regex(parts: tuple[str | None, ...]) -> re.Pattern[str]:
    """A Python regex for a wildcard value (the evaluator's LIKE)."""
    return re.compile("".join(".*" if p is None else re.escape(p) for p in parts), re.DOTALL)


def like_pattern(parts: tuple[str | None, ...]) -> str:
    """The SQL LIKE pattern of a wildcard value (escape character: backslash)."""
    out = []
    for p in parts:
        if p is None:
            out.append("%")
        else:
            out.append(p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
    return "".join(out)
