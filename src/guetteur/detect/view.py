"""`EventView`: one event as the matchers read it, each field resolved and lower-cased once.

Rules read fields through integer *slots* (`FieldSlots`): a slot is one field lookup (an
ordered list of dotted paths, see `logsource.field_paths`) shared by every rule that reads
the same field the same way. The view caches, per slot, the values found (`raw`), their text
(`text`) and lower-cased text (`lower`), so a field is resolved and lower-cased once per
event however many rules test it. Full-text forms (`texts`, `full_text`, `projected`) are built on first
use only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from guetteur.detect.logsource import NO_SPACE
from guetteur.model import Event

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS

Path = tuple[str, ...]
_MISSING: Any = object()
MISSING: Any = _MISSING  # what `lookup` returns for a field the event does not have
# Between the values of the texts the prefilter scans; a literal holding it is never required.
SEPARATOR = "\x00"
_EMPTY: tuple[str, ...] = ()


class FieldSlots:
    """Interns field lookups: equal path lists get the same slot number.

    Each slot also gets a *getter*, `getters[slot](event) -> value or MISSING`: for plain
    paths (no no-space step) a small function generated from the paths, a chain of inline
    `dict.get` calls, several times faster than walking the paths in a loop; otherwise a
    call of `lookup`.
    """

    __slots__ = ("_index", "getters", "paths")

    def __init__(self) -> None:
        self.paths: list[tuple[Path, ...]] = []
        self.getters: list[Callable[[Event], Any]] = []
        self._index: dict[tuple[Path, ...], int] = {}

    def slot(self, paths: tuple[Path, ...]) -> int:
        found = self._index.get(paths)
        if found is None:
            found = len(self.paths)
            self.paths.append(paths)
            self.getters.append(make_getter(paths))
            self._index[paths] = found
        return found

    def __len__(self) -> int:
        return len(self.paths)


def make_getter(paths: tuple[Path, ...]) -> Callable[[Event], Any]:
    """A function returning the value at the first of `paths` present in an event, or
    `MISSING` (the same answer as `lookup`, generated as straight-line code).

    The generated source only ever contains the path steps as `repr()` string literals, so a
    field name cannot inject code; anything unusual falls back to `lookup`.
    """
    plain = all(type(part) is str and part and not part.startswith(NO_SPACE) for path in paths for part in path)
    if not paths or not plain or len(paths) > 32 or any(not 0 < len(path) <= 16 for path in paths):
        return lambda event: lookup(event, paths)
    lines = ["def get(event):"]
    for path in paths:
        indent = "    "
        node = "event"
        for depth, part in enumerate(path[:-1]):
            lines.append(f"{indent}n{depth} = {node}.get({part!r})")
            lines.append(f"{indent}if type(n{depth}) is dict:")
            indent += "    "
            node = f"n{depth}"
        lines.append(f"{indent}v = {node}.get({path[-1]!r}, M)")
        lines.append(f"{indent}if v is not M:")
        lines.append(f"{indent}    return v")
    lines.append("    return M")
    namespace: dict[str, Any] = {"M": _MISSING}
    try:
        exec(compile("\n".join(lines), "<field getter>", "exec"), namespace)  # the source holds repr() literals only
    except (SyntaxError, RecursionError, MemoryError):  # an odd field name the compiler refuses
        return lambda event: lookup(event, paths)
    getter: Callable[[Event], Any] = namespace["get"]
    return getter


def lookup(event: Event, paths: tuple[Path, ...]) -> Any:
    """The value at the first path present in the event, or `_MISSING`."""
    for path in paths:
        node: Any = event
        for part in path:
            if type(node) is dict:
                if part.startswith(NO_SPACE):
                    node = _lookup_without_spaces(node, part)
                else:
                    node = node.get(part, _MISSING)
                if node is _MISSING:
                    break
            else:
                node = _MISSING
                break
        if node is not _MISSING:
            return node
    return _MISSING


def _lookup_without_spaces(node: dict[str, Any], part: str) -> Any:
    wanted = part.split(":", 1)[1]
    for key, value in node.items():
        if " " in key and key.replace(" ", "") == wanted:
            return value
    return _MISSING


def _flat(value: Any) -> tuple[Any, ...]:
    if type(value) is list or type(value) is tuple:
        out: list[Any] = []
        for item in value:
            out.extend(_flat(item))
        return tuple(out)
    return (value,)


def as_text(value: Any) -> str | None:
    """The text a Sigma value is compared with: booleans as `true`/`false`, null as None."""
    if type(value) is str:
        return value
    if value is None or isinstance(value, dict):
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


MAX_DEPTH = 64  # parsers bound JSON depth; this also stops on a cyclic event


def _leaves(node: Any, out: list[str], depth: int = 0) -> None:
    if type(node) is dict:
        if depth < MAX_DEPTH:
            for value in node.values():
                _leaves(value, out, depth + 1)
    elif type(node) is list:
        if depth < MAX_DEPTH:
            for value in node:
                _leaves(value, out, depth + 1)
    elif type(node) is str:
        out.append(node)
    elif node is not None:
        text = as_text(node)
        if text is not None:
            out.append(text)


class EventView:
    """Per-event caches over one event (not thread-safe; one view per event)."""

    __slots__ = ("_hay", "_hay_full", "_lower", "_lower_texts", "_raw", "_text", "_texts", "event", "getters")

    def __init__(self, event: Event, slots: FieldSlots) -> None:
        self.event = event
        self.getters = slots.getters
        self._raw: dict[int, tuple[Any, ...] | None] = {}
        self._text: dict[int, tuple[str, ...]] = {}
        self._lower: dict[int, tuple[str, ...]] = {}
        self._texts: list[str] | None = None
        self._lower_texts: list[str] | None = None
        self._hay: tuple[Projection, bytes] | None = None
        self._hay_full: bytes | None = None

    def raw(self, slot: int) -> tuple[Any, ...] | None:
        """The field's values (a list field gives its elements), None when absent."""
        found = self._raw.get(slot, _MISSING)
        if found is not _MISSING:
            return found
        value = self.getters[slot](self.event)
        if value is _MISSING:
            result = None
        elif type(value) is list or type(value) is tuple:
            result = _flat(value)
        else:
            result = (value,)
        self._raw[slot] = result
        return result

    def text(self, slot: int) -> tuple[str, ...]:
        """The field's values as text (null values left out); empty when absent."""
        found = self._text.get(slot)
        if found is not None:
            return found
        value = self.getters[slot](self.event)
        if type(value) is str:  # the common cases, without the raw cache
            result: tuple[str, ...] = (value,)
        elif type(value) is int:
            result = (str(value),)
        elif value is _MISSING or value is None:
            result = _EMPTY
        else:
            values = self.raw(slot)
            assert values is not None
            result = tuple(t for t in (as_text(v) for v in values) if t is not None)
        self._text[slot] = result
        return result

    def lower(self, slot: int) -> tuple[str, ...]:
        """`text(slot)` lower-cased (computed once per event and slot)."""
        found = self._lower.get(slot)
        if found is not None:
            return found
        value = self.getters[slot](self.event)
        kind = type(value)
        if kind is str:  # the common cases, straight from the event
            result: tuple[str, ...] = (value.lower(),)
        elif kind is int:
            result = (str(value),)
        elif value is _MISSING or value is None:
            result = _EMPTY
        else:
            result = tuple(t.lower() for t in self.text(slot))
        self._lower[slot] = result
        return result

    def texts(self) -> list[str]:
        """Every string in the event (the original record included), for keyword search."""
        if self._texts is None:
            out: list[str] = []
            _leaves(self.event, out)
            self._texts = out
        return self._texts

    def lower_texts(self) -> list[str]:
        if self._lower_texts is None:
            self._lower_texts = [t.lower() for t in self.texts()]
        return self._lower_texts

    def full_text(self) -> bytes:
        """The whole event, original record included, as lower-cased JSON (UTF-8): the text
        keyword searches and the prefilter of rules with keywords scan.

        JSON because orjson renders a whole event in C far faster than Python can walk it;
        literals searched in it must be JSON-escaped the same way (`json_literal`). Keys and
        punctuation only add false candidates, never hide a value.
        """
        if self._hay_full is None:
            self._hay_full = lowered_json(self.event)
        return self._hay_full

    def projected(self, projection: Projection) -> bytes:
        """The parts of the event `projection` names, as lower-cased JSON (UTF-8)."""
        hay = self._hay
        if hay is None or hay[0] is not projection:
            hay = self._hay = (projection, lowered_json(projection.project(self.event)))
        return hay[1]


class Projection:
    """The parts of events that some rules read: top-level keys, each whole or restricted to
    a few of its keys (`event` -> `code`, `action`..., never the bulky `original` unless a
    rule reads it). Built from the lookup paths of the slots the rules' literals come from
    (`Compiled.sources`): every value those literals are compared with lies inside the
    projection, so they are found there."""

    __slots__ = ("parts",)

    MAX_KEYS = 4  # more second-level keys than this: take the whole subtree (cheaper)

    def __init__(self, paths: Iterable[Path]) -> None:
        tops: dict[str, set[str] | None] = {}
        for path in paths:
            top = path[0]
            if len(path) == 1 or path[1].startswith(NO_SPACE):
                tops[top] = None
            elif top not in tops:
                tops[top] = {path[1]}
            else:
                subs = tops[top]
                if subs is not None:
                    subs.add(path[1])
        self.parts: tuple[tuple[str, tuple[str, ...] | None], ...] = tuple(
            (top, None if subs is None or len(subs) > self.MAX_KEYS else tuple(sorted(subs)))
            for top, subs in sorted(tops.items())
        )

    def project(self, event: Event) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for top, subs in self.parts:
            value = event.get(top, _MISSING)
            if value is _MISSING:
                continue
            if subs is None or type(value) is not dict:
                out[top] = value
            else:
                out[top] = {k: value[k] for k in subs if k in value}
        return out


def lowered_json(value: Any) -> bytes:
    """`value` as lower-cased JSON text, UTF-8 encoded (see `EventView.full_text`)."""
    try:
        data = orjson.dumps(value, default=str, option=_JSON_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):  # cycles or exotic values: walk it instead
        out: list[str] = []
        _leaves(value, out)
        return SEPARATOR.join(json_literal(t) for t in out).encode("utf-8", "surrogatepass")
    if data.isascii():
        return data.lower()
    return data.decode("utf-8").lower().encode("utf-8")


def json_literal(literal: str) -> str:
    """`literal` as it appears inside lower-cased JSON text (see `EventView.full_text`)."""
    try:
        return orjson.dumps(literal).decode("utf-8")[1:-1].lower()
    except TypeError:  # lone surrogates: the stdlib escapes the same characters
        return json.dumps(literal, ensure_ascii=False)[1:-1].lower()
