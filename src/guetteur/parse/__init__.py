"""Parsing: `RawRecord -> Event` (ECS). One module per log family, discovered here.

`parse_record` always returns an event: a record no parser knows is kept with
`tags: ["unparsed"]`, never dropped. `parse_batch` is what the pipeline calls; it also
runs the stateful assemblers (auditd multi-record events) and reports how many records
were merged into others, so the pipeline's counts still add up.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from guetteur import ecs
from guetteur.model import Event, RawRecord
from guetteur.parse.base import Parser

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 1_048_576
MAX_JSON_DEPTH = 64


def _discover() -> dict[str, Parser]:
    found: dict[str, Parser] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for parser in getattr(module, "PARSERS", ()):
            if parser.name in found:
                raise RuntimeError(f"two parsers named {parser.name!r}")
            found[parser.name] = parser
    return found


PARSERS: dict[str, Parser] = _discover()


def _ordered(kind: str) -> list[Parser]:
    return sorted((p for p in PARSERS.values() if p.kind == kind), key=lambda p: (p.priority, p.name))


_LINE = _ordered("line")
_JSON = _ordered("json")
_SYSLOG = _ordered("syslog")
_BY_PROGRAM: dict[str, list[Parser]] = {}
for _p in _SYSLOG:
    for _prog in _p.programs:
        _BY_PROGRAM.setdefault(_prog, []).append(_p)
_SYSLOG_SNIFFED = [p for p in _SYSLOG if p.sniff is not None]


def _depth_ok(obj: object, limit: int = MAX_JSON_DEPTH) -> bool:
    stack: list[tuple[object, int]] = [(obj, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return True


def decode_json_object(text: str) -> dict | None:
    """The JSON object in `text`, or None (not JSON, not an object, too big or too deep)."""
    if len(text) > MAX_JSON_BYTES:
        return None
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not _depth_ok(obj):
        return None
    return obj


def _try(parser: Parser, *args: object) -> Event | None:
    try:
        return parser.parse(*args)
    except Exception:  # a parser bug must not lose the record; it is stored unparsed
        log.exception("parser %s raised", parser.name)
        return None


def _parse_with(parser: Parser, text: str, record: RawRecord) -> Event | None:
    if parser.kind == "line":
        return _try(parser, text, record)
    if parser.kind == "json":
        obj = decode_json_object(text)
        return None if obj is None else _try(parser, obj, text, record)
    from guetteur.parse.syslog import parse_envelope

    envelope = parse_envelope(text, record)
    if envelope is None:
        return _try(parser, text, record, {})
    base, message, _program = envelope
    return _try(parser, message, record, base)


def _autodetect(text: str, record: RawRecord) -> tuple[Event | None, Parser | None]:
    """JSON object parsers, then syslog envelope + program parsers, then line parsers."""
    from guetteur.parse.syslog import parse_envelope

    stripped = text.lstrip()
    if stripped.startswith("{"):
        obj = decode_json_object(stripped)
        if obj is not None:
            for parser in _JSON:
                if parser.sniff is None or parser.sniff(obj):
                    if (event := _try(parser, obj, text, record)) is not None:
                        return event, parser
    envelope = parse_envelope(text, record)
    if envelope is not None:
        base, message, program = envelope
        for parser in _BY_PROGRAM.get(program or "", ()):
            if (event := _try(parser, message, record, base)) is not None:
                return event, parser
        for parser in _SYSLOG_SNIFFED:
            if parser.sniff is not None and parser.sniff(message):
                if (event := _try(parser, message, record, base)) is not None:
                    return event, parser
        return base, PARSERS["syslog"]
    for parser in _LINE:
        if parser.name != "syslog" and (parser.sniff is None or parser.sniff(text)):
            if (event := _try(parser, text, record)) is not None:
                return event, parser
    return None, None


def finalize(event: Event, text: str, record: RawRecord, parser: Parser | None) -> Event:
    """Fill what every event carries, whatever parsed it."""
    meta = event.setdefault("event", {})
    meta.setdefault("kind", "event")
    meta["original"] = text
    meta["ingested"] = ecs.iso_utc(record.received)
    if parser is not None:
        meta.setdefault("module", parser.family)
        meta.setdefault("dataset", parser.name)
    event.setdefault("@timestamp", meta["ingested"])
    if record.peer:
        if record.source == "file" or record.source == "import":
            ecs.put(event, "log.file.path", record.peer)
        else:
            ecs.put(event, "log.source.address", record.peer)
    if record.meta and "offset" in record.meta:
        ecs.put(event, "log.offset", record.meta["offset"])
    if record.meta and record.meta.get("truncated"):
        event.setdefault("tags", []).append("truncated")
    return event


def unparsed(text: str, record: RawRecord) -> Event:
    """The event for a record no parser recognised: kept whole, tagged for review."""
    event: Event = {"message": text, "tags": ["unparsed"], "event": {"kind": "event"}}
    return finalize(event, text, record, None)


def parse_record(record: RawRecord) -> Event:
    """Parse one record with its hinted parser, else by auto-detection; never raises."""
    text = record.text().rstrip("\r\n")
    if "\x00" in text:  # PostgreSQL text cannot hold NUL; keep the rest of the record
        text = text.replace("\x00", "\ufffd")
    parser = PARSERS.get(record.hint) if record.hint else None
    event: Event | None = None
    if parser is not None:
        event = _parse_with(parser, text, record)
    if event is None:
        event, parser = _autodetect(text, record)
    if event is None:
        return unparsed(text, record)
    return finalize(event, text, record, parser)


@dataclass(slots=True)
class BatchResult:
    """Events from a batch of records. `merged` counts records folded into another event
    (auditd multi-record events), so that received == stored + merged + pending."""

    events: list[Event] = field(default_factory=list)
    merged: int = 0


def parse_batch(records: Iterable[RawRecord]) -> BatchResult:
    """Parse records in order. What the pipeline's parser workers call."""
    return BatchResult([parse_record(r) for r in records])


def known_parsers() -> list[str]:
    return sorted(PARSERS)
