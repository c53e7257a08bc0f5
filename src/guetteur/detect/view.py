"""`EventView`: one event as the matchers read it, each field resolved and lower-cased once.

Rules read fields through integer *slots* (`FieldSlots`): a slot is one field lookup (an
ordered list of dotted paths, see `logsource.field_paths`) shared by every rule that reads
the same field the same way. The view caches, per slot, the values found (`raw`), their text
(`text`) and lower-cased text (`lower`), so a field is resolved and lower-cased once per
event however many rules test it. Full-text forms (`texts`, `haystack`) are built on first
use only.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from guetteur.model import Event

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS

Path = tuple[str, ...]
_MISSING: Any = object()
MISSING: Any = _MISSING  # what `lookup` returns for a field the event does not have
_EMPTY: tuple[str, ...] = ()


class _PlainPaths(tuple):
    """A slot's paths when none of their parts is a no-space lookup (`\x00` prefix): the
    common case, resolved by plain `dict.get` without testing every part."""

    __slots__ = ()


class FieldSlots:
    """Interns field lookups: equal path lists get the same slot number."""

    __slots__ = ("_index", "paths")

    def __init__(self) -> None:
        self.paths: list[tuple[Path, ...]] = []
        self._index: dict[tuple[Path, ...], int] = {}

    def slot(self, paths: tuple[Path, ...]) -> int:
        found = self._index.get(paths)
        if found is None:
            found = len(self.paths)
            plain = all(part[:1] != "\x00" for path in paths for part in path)
            self.paths.append(_PlainPaths(paths) if plain else paths)
            self._index[paths] = found
        return found

    def __len__(self) -> int:
        return len(self.paths)


def lookup(event: Event, paths: tuple[Path, ...]) -> Any:
    """The value at the first path present in the event, or `_MISSING`."""
    if type(paths) is _PlainPaths:
        for path in paths:
            node: Any = event
            for part in path:
                if type(node) is dict:
                    node = node.get(part, _MISSING)
                    if node is _MISSING:
                        break
                else:
                    node = _MISSING
                    break
            if node is not _MISSING:
                return node
        return _MISSING
    for path in paths:
        node = event
        for part in path:
            if type(node) is dict:
                if part[:1] == "\x00":
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

    __slots__ = ("_hay", "_hay_full", "_lower", "_lower_texts", "_raw", "_text", "_texts", "event", "paths")

    def __init__(self, event: Event, paths: list[tuple[Path, ...]]) -> None:
        self.event = event
        self.paths = paths
        self._raw: dict[int, tuple[Any, ...] | None] = {}
        self._text: dict[int, tuple[str, ...]] = {}
        self._lower: dict[int, tuple[str, ...]] = {}
        self._texts: list[str] | None = None
        self._lower_texts: list[str] | None = None
        self._hay: str | None = None
        self._hay_full: str | None = None

    def raw(self, slot: int) -> tuple[Any, ...] | None:
        """The field's values (a list field gives its elements), None when absent."""
        found = self._raw.get(slot, _MISSING)
        if found is not _MISSING:
            return found
        value = lookup(self.event, self.paths[slot])
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
        values = self.raw(slot)
        if not values:
            result = _EMPTY
        elif len(values) == 1:
            only = values[0]
            if type(only) is str:
                result = values  # already the 1-tuple of that text
            else:
                text = as_text(only)
                result = _EMPTY if text is None else (text,)
        else:
            result = tuple(t for t in (as_text(v) for v in values) if t is not None)
        self._text[slot] = result
        return result

    def lower(self, slot: int) -> tuple[str, ...]:
        """`text(slot)` lower-cased (computed once per event and slot)."""
        found = self._lower.get(slot)
        if found is not None:
            return found
        texts = self._text.get(slot)
        if texts is None:
            texts = self.text(slot)
        result = (texts[0].lower(),) if len(texts) == 1 else tuple(t.lower() for t in texts)
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

    def haystack(self, with_original: bool) -> str:
        """The event as lower-cased JSON text, for the multi-pattern prefilter and keyword tests.

        JSON because orjson renders a whole event in C far faster than Python can walk it;
        literals searched in it must be JSON-escaped the same way (`json_literal`). Keys and
        punctuation only add false candidates, never hide a value. `event.original` is left
        out unless asked for: field values hold everything field rules can match, and the
        original record would double the text to scan.
        """
        if with_original:
            if self._hay_full is None:
                self._hay_full = _dump(self.event)
            return self._hay_full
        if self._hay is None:
            event = self.event
            meta = event.get("event")
            if type(meta) is dict and "original" in meta:
                event = {**event, "event": {k: v for k, v in meta.items() if k != "original"}}
            self._hay = _dump(event)
        return self._hay


def _dump(event: Event) -> str:
    try:
        return orjson.dumps(event, default=str, option=_JSON_OPTIONS).decode("utf-8").lower()
    except (TypeError, orjson.JSONEncodeError):  # cycles or exotic values: walk it instead
        out: list[str] = []
        _leaves(event, out)
        return "\x00".join(json_literal(t) for t in out)


def json_literal(literal: str) -> str:
    """`literal` as it appears inside lower-cased JSON text (see `EventView.haystack`)."""
    try:
        return orjson.dumps(literal).decode("utf-8")[1:-1].lower()
    except TypeError:  # lone surrogates: the stdlib escapes the same characters
        return json.dumps(literal, ensure_ascii=False)[1:-1].lower()
