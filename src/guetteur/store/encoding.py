"""Events -> rows of a binary COPY into `events` (hand-built: no per-value adapter objects).

Contract: `encode_event` never raises for any event content. A hot field whose value does not fit
its column (an IP that is not an IP, a timestamp that does not parse, a severity that is not a
small integer) is stored as NULL in the column and stays untouched in `doc`. `ts` is never NULL:
an unusable `@timestamp` stores the write time in the column (the bad value stays in `doc`).
Text PostgreSQL cannot hold (NUL characters, lone surrogates) is replaced by U+FFFD; values JSON
cannot express (nesting deeper than `MAX_DEPTH`, integers beyond 64 bits, non-string keys, other
Python objects) are converted, and the event is then tagged `store_sanitized`.
`event.original` is stored in its own column and left out of `doc`.

`doc` is sent in canonical form (`dump_doc`): orjson with sorted keys, numbers written so that
PostgreSQL's jsonb text of them reads back as the same Python value. `canonical_doc` turns the
jsonb text PostgreSQL gives back into those very bytes, so a batch's digest can be taken over
the COPY bytes the writer sends and recomputed by `verify` from the stored rows (`chain.py`).
`encode_quarantined` is the minimal row of an event PostgreSQL refused (see `writer.py`).
"""

from __future__ import annotations

import json
import math
import socket
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from guetteur.model import Event
from guetteur.store.ids import ensure_event_id

# Column order of the COPY; `ingested` is left to its default (now(), one value per transaction).
COPY_COLUMNS = (
    "id", "ts", "batch_id", "host", "user_name", "source_ip", "destination_ip", "category",
    "action", "outcome", "severity", "source_type", "doc", "original",
)
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"
MAX_DEPTH = 100
SANITIZED_TAG = "store_sanitized"

_FIELD_COUNT = struct.pack(">h", len(COPY_COLUMNS))
_NULL = b"\xff\xff\xff\xff"
_ID_PREFIX = struct.pack(">i", 16)
_TS = struct.Struct(">iq")
_LEN = struct.Struct(">i")
_SMALLINT = struct.Struct(">ih")
_ARRAY_HEAD = struct.Struct(">iiiiii")  # byte length, ndim, has-null flag, element type, size, lower bound
_TEXT_OID = 25
_INET4 = b"\x00\x00\x00\x08\x02\x20\x00\x04"  # length 8, PGSQL_AF_INET, /32, not cidr, 4 bytes
_INET6 = b"\x00\x00\x00\x14\x03\x80\x00\x10"  # length 20, PGSQL_AF_INET6, /128, not cidr, 16 bytes
_JSONB_VERSION = b"\x01"
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_REPLACEMENT = "\ufffd".encode()
_DOC_OPTS = orjson.OPT_SORT_KEYS
_ORJSON_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS
# Numbers whose jsonb text reads back as another Python value: a float orjson writes with a
# positive exponent (1e+16: jsonb prints 10000000000000000, read back as an int) and -0.0
# (jsonb prints 0.0). Found by substring, gated on one byte (found by memchr: several times
# cheaper than the longer needles, themselves far cheaper than a regular expression); a match
# inside a string only costs a clean pass.
_PLUS, _EXPONENT = b"+", b"e+"
_MINUS_ZERO = b"-0.0"
_BACKSLASH, _ESCAPED_NUL = b"\\", b"\\u0000"
_U64 = 2**64
_I64_MIN = -(2**63)


def pg_micros(moment: datetime) -> int:
    """Microseconds since 2000-01-01 UTC (PostgreSQL's binary timestamptz)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _PG_EPOCH) // _ONE_US


def batch_id_field(batch_id: int) -> bytes:
    """The encoded `batch_id` field, shared by every row of a batch."""
    return struct.pack(">iq", 8, batch_id)


def _text_bytes(value: str) -> bytes:
    try:
        raw = value.encode()
    except UnicodeEncodeError:  # lone surrogates
        raw = value.encode("utf-8", "replace")
    if b"\x00" in raw:
        raw = raw.replace(b"\x00", _REPLACEMENT)
    return raw


def _text(value: Any) -> bytes:
    if isinstance(value, str):
        raw = _text_bytes(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        raw = str(value).encode()
    else:
        return _NULL
    return _LEN.pack(len(raw)) + raw


def _inet(value: Any) -> bytes:
    if not isinstance(value, str):
        return _NULL
    try:
        if ":" in value:
            return _INET6 + socket.inet_pton(socket.AF_INET6, value)
        return _INET4 + socket.inet_pton(socket.AF_INET, value)
    except (OSError, ValueError):  # ValueError: embedded NUL
        return _NULL


def _category(value: Any) -> bytes:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        return _NULL
    items = [_text_bytes(v) for v in value if isinstance(v, str)]
    if not items:
        return _NULL
    body = b"".join(_LEN.pack(len(v)) + v for v in items)
    return _ARRAY_HEAD.pack(20 + 4 * len(items) + sum(len(v) for v in items), 1, 0, _TEXT_OID, len(items), 1) + body


def _severity(value: Any) -> bytes:
    if isinstance(value, bool):
        return _NULL
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, int) and -32768 <= value <= 32767:
        return _SMALLINT.pack(2, value)
    return _NULL


def timestamp_micros(value: Any) -> int | None:
    """`@timestamp` as PostgreSQL microseconds, or None when it is not a usable timestamp."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    elif isinstance(value, datetime):
        moment = value
    else:
        return None
    try:
        return pg_micros(moment)
    except (OverflowError, ValueError):
        return None


def _plain(value: Any, depth: int) -> tuple[Any, bool]:
    """A JSON-safe copy of `value` and whether anything had to change."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\ufffd")
            changed = True
        else:
            changed = False
        try:
            value.encode()
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode(), True
        return value, changed
    if value is None or isinstance(value, bool):
        return value, False
    if isinstance(value, int):
        if -(2**63) <= value < 2**64:
            return value, False
        return str(value), True
    if isinstance(value, float):
        return (value, False) if math.isfinite(value) else (None, True)
    if depth >= MAX_DEPTH and isinstance(value, dict | list | tuple):
        return f"[nesting deeper than {MAX_DEPTH} levels removed]", True
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        changed = False
        for key, item in value.items():
            if not isinstance(key, str):
                key = str(key)
                changed = True
            clean_key, key_changed = _plain(key, depth + 1)
            clean, item_changed = _plain(item, depth + 1)
            out[clean_key] = clean
            changed = changed or key_changed or item_changed
        return out, changed
    if isinstance(value, list | tuple):
        items: list[Any] = []
        changed = not isinstance(value, list)
        for item in value:
            clean, item_changed = _plain(item, depth + 1)
            items.append(clean)
            changed = changed or item_changed
        return items, changed
    if isinstance(value, datetime):
        return value.isoformat(), False
    try:
        text = str(value)
    except Exception:  # a hostile __str__ must not fail the batch
        text = f"<unprintable {type(value).__name__}>"
    return _plain(text, depth)[0], True


def canonical_doc(jsonb_text: bytes | str) -> bytes:
    """The bytes `dump_doc` sent for a document PostgreSQL gives back as `jsonb_text`."""
    return orjson.dumps(orjson.loads(jsonb_text), option=_DOC_OPTS)


def _reread_numbers(value: Any) -> Any:
    """A copy of `value` with the numbers `_REREAD_NUMBER` finds written as jsonb reads them
    back: an integral float within 64 bits as an int, -0.0 as 0.0. jsonb stores one numeric
    either way, so what is stored does not change."""
    if type(value) is float:
        if value == 0.0:
            return 0.0
        if math.isfinite(value) and abs(value) >= 1e16 and _I64_MIN <= value < _U64:
            return int(value)
        return value
    if isinstance(value, dict):
        return {key: _reread_numbers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_reread_numbers(item) for item in value]
    return value


def dump_doc(doc: Event) -> bytes:
    """`doc` as canonical JSON (module docstring) PostgreSQL's jsonb accepts; sanitises (and
    tags) only when it must."""
    try:
        # without OPT_NON_STR_KEYS first: the same bytes for string keys, and about 20% faster
        data = orjson.dumps(doc, default=str, option=_DOC_OPTS)
    except (orjson.JSONEncodeError, TypeError, RecursionError):
        try:  # keys that are not strings: read back once, so duplicates collapse as in jsonb
            data = orjson.dumps(orjson.loads(orjson.dumps(doc, default=str, option=_ORJSON_OPTS)),
                                option=_DOC_OPTS)
        except (orjson.JSONEncodeError, TypeError, RecursionError):
            data = b""
    # orjson writes NUL as \u0000, which jsonb refuses; the substring may also be an escaped
    # backslash followed by "u0000", which is harmless, so only a full clean pass decides.
    if data and (_BACKSLASH not in data or _ESCAPED_NUL not in data):
        if (_PLUS not in data or _EXPONENT not in data) and _MINUS_ZERO not in data:
            return data
        return orjson.dumps(_reread_numbers(orjson.loads(data)), option=_DOC_OPTS)
    clean, changed = _plain(doc, 0)
    if changed and isinstance(clean, dict):
        tags = clean.get("tags")
        if not isinstance(tags, list):
            tags = [] if tags is None else [tags]
        if SANITIZED_TAG not in tags:
            clean["tags"] = [*tags, SANITIZED_TAG]
    return orjson.dumps(_reread_numbers(clean), option=_ORJSON_OPTS)


# Encoded hot-column values by text: host names, datasets, actions, addresses repeat from
# event to event, so most fields cost one dict lookup. Cleared when full (bounded memory).
_CACHE_MAX = 8192
_text_cache: dict[str, bytes] = {}
_ts_cache: dict[str, bytes] = {}  # `@timestamp` text -> encoded `ts` (second-resolution logs repeat it)
_inet_cache: dict[str, bytes] = {}
_category_cache: dict[object, bytes] = {}


def _cached(cache: dict[Any, bytes], value: Any, encode: Any) -> bytes:
    """`encode(value)`, memoised for strings (and tuples of strings, for categories)."""
    if type(value) is not str:
        return encode(value) if value is not None else _NULL
    found = cache.get(value)
    if found is None:
        found = encode(value)
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[value] = found
    return found


def _cached_category(value: Any) -> bytes:
    if type(value) is list and len(value) <= 4 and all(type(v) is str for v in value):
        key: object = tuple(value)
    elif type(value) is str:
        key = value
    else:
        return _category(value)
    found = _category_cache.get(key)
    if found is None:
        found = _category(value)
        if len(_category_cache) >= _CACHE_MAX:
            _category_cache.clear()
        _category_cache[key] = found
    return found


def encode_event(event: Event, batch_field: bytes, now_us: int, raw_id: bytes | None = None) -> bytes:
    """One binary COPY tuple for `event` (see module docstring). `raw_id`: the 16 bytes of
    `event.id` when the caller has them (`ids.assign_event_ids`); otherwise the id is read,
    or assigned when missing."""
    if raw_id is None:
        raw_id = ensure_event_id(event)
    meta = event["event"]
    stamp = event.get("@timestamp")
    ts_field = _ts_cache.get(stamp) if type(stamp) is str else None
    if ts_field is None:
        ts_us = timestamp_micros(stamp)
        if ts_us is None:
            ts_field = _TS.pack(8, now_us)
        else:
            ts_field = _TS.pack(8, ts_us)
            if type(stamp) is str:
                if len(_ts_cache) >= _CACHE_MAX:
                    _ts_cache.clear()
                _ts_cache[stamp] = ts_field
    host = event.get("host")
    user = event.get("user")
    source = event.get("source")
    destination = event.get("destination")
    original = meta.get("original")
    if isinstance(original, str):
        del meta["original"]
        try:
            doc = dump_doc(event)
        finally:
            meta["original"] = original
        original_field = _text(original)
    else:
        doc = dump_doc(event)
        original_field = _NULL
    texts = _text_cache
    return b"".join((
        _FIELD_COUNT,
        _ID_PREFIX, raw_id,
        ts_field,
        batch_field,
        _cached(texts, host.get("name"), _text) if isinstance(host, dict) else _NULL,
        _cached(texts, user.get("name"), _text) if isinstance(user, dict) else _NULL,
        _cached(_inet_cache, source.get("ip"), _inet) if isinstance(source, dict) else _NULL,
        _cached(_inet_cache, destination.get("ip"), _inet) if isinstance(destination, dict) else _NULL,
        _cached_category(meta.get("category")),
        _cached(texts, meta.get("action"), _text),
        _cached(texts, meta.get("outcome"), _text),
        _severity(meta.get("severity")),
        _cached(texts, meta.get("dataset"), _text),
        _LEN.pack(len(doc) + 1), _JSONB_VERSION, doc,
        original_field,
    ))


QUARANTINE_TAG = "quarantined"


def _ascii(text: str, limit: int = 2000) -> str:
    return text[:limit].encode("ascii", "replace").decode().replace("\x00", "?")


def quarantined_json(event: Event) -> bytes:
    """The whole event as ASCII JSON text PostgreSQL always accepts, without loss when JSON can
    say it: a NUL or a lone surrogate stays an escape (`\\u0000`, `\\udc80`) instead of U+FFFD.
    Values JSON cannot express are converted as `dump_doc` converts them."""
    try:
        return json.dumps(event, ensure_ascii=True, default=str).encode("ascii")
    except (TypeError, ValueError, RecursionError):
        clean, _ = _plain(event, 0)
        return json.dumps(clean, ensure_ascii=True).encode("ascii")


def encode_quarantined(event: Event, batch_field: bytes, now_us: int, error: str, kind: str = "",
                       code: str | None = None) -> bytes:
    """A minimal row that cannot fail on content: hot columns NULL, `doc` a small ASCII JSON
    object tagged `quarantined` (the event id, its input, the error), and the whole event as
    ASCII JSON in `original` (`quarantined_json`). `ts` is `@timestamp` when it parses."""
    raw_id = ensure_event_id(event)
    whole = quarantined_json(event)
    ts_us = timestamp_micros(event.get("@timestamp"))
    source = (event.get("input") or {}).get("type") if isinstance(event.get("input"), dict) else None
    problem: dict[str, str] = {"message": _ascii(error)}
    if kind:
        problem["type"] = _ascii(kind, 100)
    if code:
        problem["code"] = _ascii(code, 10)
    summary: dict[str, Any] = {"event": {"id": event["event"]["id"]}, "tags": [QUARANTINE_TAG], "error": problem}
    if isinstance(source, str):
        summary["input"] = {"type": _ascii(source, 100)}
    doc = orjson.dumps(summary, option=_DOC_OPTS)
    return b"".join((
        _FIELD_COUNT,
        _ID_PREFIX, raw_id,
        _TS.pack(8, now_us if ts_us is None else ts_us),
        batch_field,
        _NULL, _NULL, _NULL, _NULL, _NULL, _NULL, _NULL, _NULL, _NULL,
        _LEN.pack(len(doc) + 1), _JSONB_VERSION, doc,
        _LEN.pack(len(whole)), whole,
    ))
