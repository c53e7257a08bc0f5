"""Plan -> a SQL condition on `events` with bound parameters only.

Nothing from the query is ever part of the SQL text: field names travel as `text` parameters
of `->` operators (`doc -> %s::text -> %s::text`; a text key never indexes an array), values as
parameters; operators come from a fixed table. Every leaf is wrapped in `coalesce(..., false)`
so that `not` of a missing field is true, as in Kibana.

Document leaves look at the value at the field's path: a scalar, or each element of an array
(`jsonb_path_query(value, 'lax $[*]')`). Equality uses containment (`doc @> ANY(...)`) with the
candidate JSON values: the string, the number when the value is a JSON number, the boolean
when it is `true`/`false`, each as the field's value and as an element of it.

When the store has the optional word index (migration 0600, docs/search.md: it costs ingestion
far more than the 10% budget, so it is not created by default) and the caller says so
(`word_index=True`), a `message` word or phrase outside `not` is also tested against it:
`guetteur_message_words(doc) && words` (any of them) or `@> words` (all of them), ANDed before
the exact test and outside its `coalesce`, where the planner can answer it from the GIN index.
Every row the exact test accepts holds those words, so the answers are unchanged; words the index
may not hold (non-ASCII, or longer than it keeps) skip it.

Two more renderings of the same plan serve counts and histograms (`Compiled`): on the per-minute
counts (`rollup`, migration 0780) and on the message texts (`text`, migration 0790: `m`, the
lower-cased `message` of each event whose message is a string). The latter exists only for plans
of `message` matches and time (with `and`, `or`, `not`) that no event without a message can
match, so counting the rows of `event_text` that meet it, plus the events whose message is not a
string that meet `where`, is counting `events`. A plan no event without a message can match
that also tests other fields gets `text_filter` instead: a condition every match's row meets,
which gives candidates to test with `where` on `events`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from guetteur.search import kql, plan
from guetteur.search.fields import FieldSpec
from guetteur.search.plan import Context
from guetteur.search.values import SMALLINT

_OPS = {op: sql.SQL(op) for op in plan.OPS}
_TRUE = sql.SQL("true")
# Words the index is consulted for: ASCII only (where Python's `\w` and PostgreSQL's
# `[[:alnum:]_]` agree in every locale) and no longer than the index keeps (migration 0600).
_INDEXED_WORD = re.compile(r"[a-z0-9_]{1,256}(?:\.[a-z0-9_]+)*")
_WORD_BYTES = 256
_PLAIN_WORD = re.compile(r"[a-z0-9_.]+")
_FALSE = sql.SQL("false")


@dataclass(frozen=True, slots=True)
class Compiled:
    """A WHERE condition and its parameters, in order; `rollup`: the same condition on the
    per-minute counts (`event_rollup`, migration 0780) when the query only tests the fields they
    keep, else None; `text`: the same condition on `event_text` rows (migration 0790) when the
    query only tests `message` (and time) and no event without a message can match it, else None;
    `text_filter`: for a query no event without a message can match that also tests other fields,
    a condition on `event_text` rows every match meets (its candidates), else None."""

    where: sql.Composable
    params: list[Any]
    rollup: Frag | None = None
    text: Frag | None = None
    text_filter: Frag | None = None


Frag = tuple[sql.Composable, list[Any]]

# Columns of `event_rollup` (migration 0780): the promoted text columns counted per minute.
ROLLUP_COLUMNS = frozenset({"host", "outcome", "source_type"})


def _access(target: FieldSpec) -> Frag:
    path = target.path
    return sql.Composed([sql.SQL("doc"), *(sql.SQL(" -> %s::text") for _ in path)]), list(path)


def _cat(*parts: sql.Composable | Frag) -> Frag:
    """SQL pieces and fragments joined, their parameters in order."""
    out: list[sql.Composable] = []
    params: list[Any] = []
    for part in parts:
        if isinstance(part, tuple):
            out.append(part[0])
            params += part[1]
        else:
            out.append(part)
    return sql.Composed(out), params


Condition = Callable[[Frag], Frag]
_X: Frag = (sql.SQL("x"), [])


def _text_of(x: Frag) -> Frag:
    return _cat(sql.SQL("("), x, sql.SQL(" #>> ARRAY[]::text[])"))


def _type_of(x: Frag) -> Frag:
    return _cat(sql.SQL("jsonb_typeof("), x, sql.SQL(")"))


def _elements(target: FieldSpec, condition: Condition) -> Frag:
    """The condition on the field's value, or on any element of it when it is an array (a
    scalar is tested directly: no set-returning function on the common path)."""
    value = _access(target)
    return _cat(
        sql.SQL("CASE "), _type_of(value), sql.SQL(" WHEN 'array' THEN EXISTS (SELECT FROM jsonb_array_elements("),
        value, sql.SQL(") AS e(x) WHERE "), condition(_X), sql.SQL(") ELSE "), condition(value), sql.SQL(" END"),
    )


def _or_null_column(target: FieldSpec, column_test: sql.Composable, column_params: list[Any], doc: Frag) -> Frag:
    column = sql.Identifier(target.column or "")
    query = sql.Composed([
        sql.SQL("("), column_test, sql.SQL(" OR ("), column, sql.SQL(" IS NULL AND "), doc[0], sql.SQL("))"),
    ])
    return query, [*column_params, *doc[1]]


def _json_key(target: FieldSpec, leaf: str) -> str:
    text = leaf
    for key in reversed(target.path):
        text = "{" + json.dumps(key) + ":" + text + "}"
    return text


def _equals(p: plan.Equals) -> Frag:
    candidates = [json.dumps(p.text)]
    if p.number is not None:
        candidates.append(str(p.number))
    if p.text in ("true", "false"):
        candidates.append(p.text)
    shapes = [_json_key(p.field, c) for c in candidates] + [_json_key(p.field, f"[{c}]") for c in candidates]
    doc: Frag = (sql.SQL("doc @> ANY(%s::text[]::jsonb[])"), [shapes])
    column = sql.Identifier(p.field.column or "")
    if p.field.column_type == "text" and p.number is None:
        return _or_null_column(p.field, sql.Composed([column, sql.SQL(" = %s")]), [p.text], doc)
    if p.field.column_type == "smallint" and _small_int(p.text, p.number):
        return _or_null_column(p.field, sql.Composed([column, sql.SQL(" = %s")]), [int(p.text)], doc)
    return doc


def _small_int(text: str, number: Any) -> bool:
    return number is not None and text.lstrip("-").isdigit() and str(int(text)) == text and int(text) in SMALLINT


def _like(p: plan.Like) -> Frag:
    pattern = plan.like_pattern(p.parts)

    def condition(x: Frag) -> Frag:
        return _cat(_type_of(x), sql.SQL(" IN ('string', 'number', 'boolean') AND "), _text_of(x),
                    (sql.SQL(" LIKE %s"), [pattern]))

    doc = _elements(p.field, condition)
    if p.field.column_type == "text":
        column = sql.Identifier(p.field.column or "")
        return _or_null_column(p.field, sql.Composed([column, sql.SQL(" LIKE %s")]), [pattern], doc)
    return doc


def _compare(p: plan.Compare) -> Frag:
    op = _OPS[p.op]

    def condition(x: Frag) -> Frag:
        text = _cat(sql.SQL("(("), _type_of(x), sql.SQL(" = 'string' AND "), _text_of(x), sql.SQL(' COLLATE "C" '),
                    op, (sql.SQL(" %s)"), [p.text]))
        if p.number is None:
            return _cat(text, sql.SQL(")"))
        return _cat(text, sql.SQL(" OR ("), _type_of(x), sql.SQL(" = 'number' AND ("), x, sql.SQL(")::numeric "), op,
                    (sql.SQL(" %s))"), [p.number]))

    doc = _elements(p.field, condition)
    column = sql.Identifier(p.field.column or "")
    if p.field.column_type == "text" and p.number is None:
        test = sql.Composed([column, sql.SQL(' COLLATE "C" '), op, sql.SQL(" %s")])
        return _or_null_column(p.field, test, [p.text], doc)
    if p.field.column_type == "smallint" and _small_int(p.text, p.number):
        return _or_null_column(p.field, sql.Composed([column, sql.SQL(" "), op, sql.SQL(" %s")]), [int(p.text)], doc)
    return doc


def _present(p: plan.Present) -> Frag:
    access, path = _access(p.field)
    doc = (sql.Composed([
        sql.SQL("(jsonb_typeof("), access, sql.SQL(") <> 'null' AND "), access, sql.SQL(" <> '[]'::jsonb)"),
    ]), [*path, *path])
    if p.field.column is not None:
        column = sql.Identifier(p.field.column)
        return sql.Composed([sql.SQL("("), column, sql.SQL(" IS NOT NULL OR "), doc[0], sql.SQL(")")]), doc[1]
    return doc


def _time_in(p: plan.TimeIn) -> Frag:
    parts: list[sql.Composable] = []
    params: list[Any] = []
    if p.start is not None:
        parts.append(sql.SQL("ts >= %s"))
        params.append(p.start)
    if p.end is not None:
        parts.append(sql.SQL("ts < %s"))
        params.append(p.end)
    if not parts:
        return _TRUE, []
    return sql.SQL("(") + sql.SQL(" AND ").join(parts) + sql.SQL(")"), params


def _address_test(target: FieldSpec, op: sql.Composable, value: str) -> Frag:
    def condition(x: Frag) -> Frag:
        return _cat(_type_of(x), sql.SQL(" = 'string' AND guetteur_try_inet"), _text_of(x), sql.SQL(" "), op,
                    (sql.SQL(" %s::inet"), [value]))

    doc = _elements(target, condition)
    if target.column_type == "inet":
        column = sql.Identifier(target.column or "")
        return _or_null_column(target, sql.Composed([column, sql.SQL(" "), op, sql.SQL(" %s::inet")]), [value], doc)
    return doc


def _in_network(p: plan.InNetwork) -> Frag:
    return _address_test(p.field, sql.SQL("<<="), str(p.network))


def _compare_address(p: plan.CompareAddress) -> Frag:
    return _address_test(p.field, _OPS[p.op], str(p.address.network_address))


def _lowered_match(lowered: Frag, p: plan.TextMatch) -> Frag:
    """The text match on a lower-cased string: a cheap substring test first (the words the
    regex needs), then the regex. In a CASE, which fixes that order: in a plain AND the planner
    sorts the tests by its cost estimates, which put the regex (one operator) before the
    substring tests (a function and a comparison each): 15 s instead of 1 s over 5M messages."""
    regex = _cat(lowered, (sql.SQL(" ~ %s"), [p.postgres]))
    options = [_cat(sql.SQL("("), *_and([_cat(sql.SQL("strpos("), lowered, (sql.SQL(", %s) > 0"), [w]))
                                        for w in words]), sql.SQL(")"))
               for words in p.required]
    if not options:
        return regex
    return _cat(sql.SQL("CASE WHEN "), *_or(options), sql.SQL(" THEN "), regex, sql.SQL(" ELSE false END"))


def _text_match(p: plan.TextMatch) -> Frag:
    def condition(x: Frag) -> Frag:
        return _cat(_type_of(x), sql.SQL(" = 'string' AND "), _lowered_match(_cat(sql.SQL("lower"), _text_of(x)), p))

    return _elements(p.field, condition)


def _prefilter(p: plan.TextMatch) -> Frag | None:
    """A cheap condition every row the text match accepts meets, or None: its words as
    substrings of the lower-cased text of the field's whole value (`#>>`: a string itself, an
    array as JSON text, where word characters are never escaped). One lower() and a substring search per
    word instead of a type test per branch, and the regular expression only for rows holding every
    word of every match of an `and` (their tests are put first). ASCII words only: lower() maps a
    character the same way in the element and in the whole text."""
    options = p.required
    if not options or not all(_PLAIN_WORD.fullmatch(w) for option in options for w in option):
        return None
    tests = [_like_all(p.field.path, list(option)) for option in options]
    return _cat(sql.SQL("("), *_or(tests), sql.SQL(")"))


def _hoisted(matches: list[plan.TextMatch]) -> list[Frag]:
    """The prefilters of the text matches of an `and`, to test before any of them: the words
    of matches with a single option in one test per field (one lower() for them all)."""
    if len(matches) < 2:
        return []
    words: dict[tuple[str, ...], list[str]] = {}
    out: list[Frag] = []
    for p in matches:
        if len(p.required) == 1 and all(_PLAIN_WORD.fullmatch(w) for w in p.required[0]):
            words.setdefault(p.field.path, []).extend(p.required[0])
        elif (guard := _prefilter(p)) is not None:
            out.append(guard)
    return [_like_all(path, found) for path, found in words.items()] + out


def _like_all(path: tuple[str, ...], words: list[str]) -> Frag:
    """The lower-cased text of the field's whole value holds every word (LIKE ALL: lower() once)."""
    patterns = ["%" + w.replace("_", "\\_") + "%" for w in dict.fromkeys(words)]
    return sql.SQL("lower(doc #>> %s::text[]) LIKE ALL (%s::text[])"), [list(path), patterns]


def _and(frags: list[Frag]) -> list[Frag | sql.Composable]:
    return _interleave(frags, sql.SQL(" AND "))


def _or(frags: list[Frag]) -> list[Frag | sql.Composable]:
    return _interleave(frags, sql.SQL(" OR "))


def _interleave(frags: list[Frag], word: sql.Composable) -> list[Frag | sql.Composable]:
    out: list[Frag | sql.Composable] = []
    for i, frag in enumerate(frags):
        if i:
            out.append(word)
        out.append(frag)
    return out


def _join(items: tuple[plan.Plan, ...], word: str, empty: sql.Composable, positive: bool) -> Frag:
    if not items:
        return empty, []
    frags = [_render(i, positive) for i in items]
    if word == "AND":  # the cheap tests of every text match first, before any regular expression
        frags = _hoisted([i for i in items if isinstance(i, plan.TextMatch)]) + frags
    query = sql.SQL("(") + sql.SQL(f" {word} ").join(f[0] for f in frags) + sql.SQL(")")
    return query, [p for f in frags for p in f[1]]


_LEAVES: dict[type, Any] = {
    plan.Equals: _equals, plan.Like: _like, plan.Compare: _compare, plan.Present: _present,
    plan.InNetwork: _in_network, plan.CompareAddress: _compare_address, plan.TextMatch: _text_match,
}


def _word_index(p: plan.TextMatch) -> Frag | None:
    """The word-index test implied by a `message` match, or None when it cannot be used."""
    words = [w for option in p.tokens for w in option]
    if p.field.path != ("message",) or not words or not all(
            len(w) <= _WORD_BYTES and _INDEXED_WORD.fullmatch(w) for w in words):
        return None
    if all(len(option) == 1 for option in p.tokens):
        return sql.SQL("guetteur_message_words(doc) && %s::text[]"), [sorted(set(words))]
    if len(p.tokens) == 1:
        return sql.SQL("guetteur_message_words(doc) @> %s::text[]"), [sorted(set(words))]
    return None


def _render(p: plan.Plan, positive: bool) -> Frag:
    match p:
        case plan.Const(value):
            return (_TRUE if value else _FALSE), []
        case plan.AllOf(items):
            return _join(items, "AND", _TRUE, positive)
        case plan.AnyOf(items):
            return _join(items, "OR", _FALSE, positive)
        case plan.NoneOf(item):
            inner, params = _render(item, not positive)
            return sql.Composed([sql.SQL("NOT "), inner]), params
        case plan.TimeIn():
            return _time_in(p)
    query, params = _LEAVES[type(p)](p)
    leaf: sql.Composable = sql.Composed([sql.SQL("coalesce("), query, sql.SQL(", false)")])
    guard = _prefilter(p) if isinstance(p, plan.TextMatch) else None
    if guard is not None:
        leaf, params = _cat(sql.SQL("("), guard, sql.SQL(" AND "), (leaf, params), sql.SQL(")"))
    # Under `not` the index cannot narrow anything: the test would only cost time there.
    index = _word_index(p) if positive and isinstance(p, plan.TextMatch) else None
    if index is not None:
        return _cat(sql.SQL("("), index, sql.SQL(" AND "), (leaf, params), sql.SQL(")"))
    return leaf, params


def _translate(p: plan.Plan, leaf: Callable[[plan.Plan], Frag | None]) -> Frag | None:
    """The plan as a condition on another table, its leaves rendered by `leaf` (None: that leaf
    cannot be answered there, nor then the plan)."""
    match p:
        case plan.Const(value):
            return (_TRUE if value else _FALSE), []
        case plan.AllOf(items) | plan.AnyOf(items):
            parts = [_translate(i, leaf) for i in items]
            if any(part is None for part in parts):
                return None
            word = " AND " if isinstance(p, plan.AllOf) else " OR "
            if not parts:
                return (_TRUE if isinstance(p, plan.AllOf) else _FALSE), []
            frags = [part for part in parts if part is not None]
            return (sql.SQL("(") + sql.SQL(word).join(f[0] for f in frags) + sql.SQL(")"),
                    [x for f in frags for x in f[1]])
        case plan.NoneOf(item):
            inner = _translate(item, leaf)
            return None if inner is None else (sql.Composed([sql.SQL("NOT "), inner[0]]), inner[1])
    return leaf(p)


def _rollup_leaf(p: plan.Plan) -> Frag | None:
    """A leaf on `event_rollup` rows, equivalent to the leaf on events, or None.

    Only exact values of host.name, event.outcome, event.dataset (not numbers: those are read
    from the document). On events the test is `column = value`, or the document's value when the
    column is NULL; rollup rows are only used where every such NULL column means "no value in the
    document" (`irregular` false, checked by the store), so `column = value` alone is the same."""
    if (isinstance(p, plan.Equals) and p.field.column in ROLLUP_COLUMNS and p.field.column_type == "text"
            and p.number is None):
        return sql.Composed([sql.SQL("coalesce("), sql.Identifier(p.field.column or ""),
                             sql.SQL(" = %s, false)")]), [p.text]
    return None


_M: Frag = (sql.SQL("m"), [])


def _text_leaf(p: plan.Plan) -> Frag | None:
    """A leaf on `event_text` rows (migration 0790: `m`, the lower-cased `message` of an event
    whose message is a string), equivalent to the leaf on that event, or None."""
    if isinstance(p, plan.TextMatch) and p.field.path == ("message",):
        return _cat(sql.SQL("("), _lowered_match(_M, p), sql.SQL(")"))
    if isinstance(p, plan.TimeIn):
        return _time_in(p)
    return None


def _necessary(p: plan.Plan) -> Frag | None:
    """A condition on `event_text` rows that the row of every event matching the plan (and whose
    message is a string) meets, or None when the plan implies none: the exact condition where
    there is one, else the conditions of the parts of an `and` that have one (`host.name:x and
    failed` -> `failed`), or of every branch of an `or`."""
    exact = _translate(p, _text_leaf)
    if exact is not None or not isinstance(p, plan.AllOf | plan.AnyOf):
        return exact
    parts = [_necessary(i) for i in p.items]
    if isinstance(p, plan.AnyOf) and (not parts or any(part is None for part in parts)):
        return None
    frags = [part for part in parts if part is not None]
    if not frags:
        return None
    word = " AND " if isinstance(p, plan.AllOf) else " OR "
    return (sql.SQL("(") + sql.SQL(word).join(f[0] for f in frags) + sql.SQL(")"), [x for f in frags for x in f[1]])


def _needs_message(p: plan.Plan) -> bool:
    """No event without a `message` matches the plan."""
    match p:
        case plan.Const(value):
            return not value
        case plan.AllOf(items):
            return any(_needs_message(i) for i in items)
        case plan.AnyOf(items):
            return all(_needs_message(i) for i in items)
        case plan.TextMatch():
            return p.field.path == ("message",)
    return False


def compile_plan(p: plan.Plan, *, word_index: bool = False) -> Compiled:
    """The SQL condition of a plan; `word_index`: the store has the word index on `message`
    (without it, the index test would only cost time)."""
    query, params = _render(p, word_index)
    # With the word index, `events` answers free text faster than a scan of `event_text`.
    text = text_filter = None
    if not word_index and _needs_message(p):
        text = _translate(p, _text_leaf)
        text_filter = None if text is not None else _necessary(p)
    return Compiled(query, params, _translate(p, _rollup_leaf), text, text_filter)


def compile_query(text: str, *, known: tuple[str, ...], now: datetime, word_index: bool = False) -> Compiled:
    """The SQL condition of a KQL query. Raises `KqlError` (a `QueryError`)."""
    return compile_plan(plan.build(kql.parse(text), Context(known, now)), word_index=word_index)
