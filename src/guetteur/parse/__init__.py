"""Parsing: `RawRecord -> Event` (ECS). One module per log family, discovered here.

`parse_record` always returns an event: a record no parser knows is kept with
`tags: ["unparsed"]`, never dropped. `parse_batch` is what the pipeline calls; it also
runs the stateful assemblers (auditd multi-record events) and reports how many records
were merged into others and how many are still held, so the pipeline's counts add up:
received == stored + merged + pending. `flush_pending()` closes every held group (the
pipeline calls it at shutdown; calling `parse_batch([])` on idle ticks closes groups
older than the assembler's max age).

Auto-detection order (no hint, or the hinted parser said "not mine"):
1. text starting with `{`: JSON parsers (by priority, each `sniff(obj)`);
2. a syslog envelope: the parsers registered for the program name (exact, then the base
   name before `(` or `/`), then the syslog parsers whose `sniff(message)` accepts MSG;
   then, for a full envelope (host and program), a MSG that is JSON, Python logging or a web
   access line is parsed by that format's parser and keeps the envelope's host, program and
   `log.syslog` (an application logging through rsyslog);
3. line parsers whose `sniff(text)` accepts the text (also for syslog-looking lines
   without both a host and a program: a PostgreSQL or MySQL line can look like
   "ISO-time word msg");
4. the generic syslog event from step 2, else `unparsed`.

After the built-in parser, the user's extraction patterns (`parse.extract`) add fields.
"""

from __future__ import annotations

import base64
import gc
import importlib
import logging
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from guetteur import ecs
from guetteur.model import Event, RawRecord
from guetteur.parse.base import Parser, take_envelope

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
_LINE_SNIFFED = [p for p in _LINE if p.sniff is not None and p.name != "syslog"]
# (sniff, parser) pairs: auto-detection walks these for every line no program claimed
_LINE_SNIFFERS = tuple((p.sniff, p) for p in _LINE_SNIFFED if p.sniff is not None)
_JSON = _ordered("json")
_SYSLOG = _ordered("syslog")
_BY_PROGRAM: dict[str, list[Parser]] = {}
for _p in _SYSLOG:
    for _prog in _p.programs:
        _BY_PROGRAM.setdefault(_prog, []).append(_p)
_SYSLOG_SNIFFED = [p for p in _SYSLOG if p.sniff is not None]
_SYSLOG_SNIFFERS = tuple((p.sniff, p) for p in _SYSLOG_SNIFFED if p.sniff is not None)
_GENERIC = PARSERS["syslog"]


def _depth_ok(obj: object, limit: int = MAX_JSON_DEPTH) -> bool:
    stack: list[tuple[object, int]] = [(obj, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))
    return True


def decode_json_object(text: str) -> dict | None:
    """The JSON object in `text`, or None (not JSON, not an object, too big or too deep)."""
    if len(text) > MAX_JSON_BYTES:
        return None
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    # nesting deeper than the limit needs more opening brackets than that: most records
    # have a handful, and counting them is far cheaper than walking the decoded object
    if text.count("{") + text.count("[") > MAX_JSON_DEPTH and not _depth_ok(obj):
        return None
    return obj


def _try(parser: Parser, *args: object) -> Event | None:
    try:
        return parser.parse(*args)
    except Exception:  # a parser bug must not lose the record; it is stored unparsed
        log.exception("parser %s raised", parser.name)
        return None


def _program_parsers(program: str) -> list[Parser]:
    found = _BY_PROGRAM.get(program)
    if found is not None:
        return found
    base = program.split("(", 1)[0].split("/", 1)[0]
    return _BY_PROGRAM.get(base, []) if base != program else []


def dispatch_program(program: str, message: str, record: RawRecord, base: Event) -> tuple[Event, Parser] | None:
    """Run the syslog parsers registered for `program` on `message` (journald uses it too)."""
    for parser in _program_parsers(program):
        if (event := _try(parser, message, record, base)) is not None:
            return event, parser
    return None


def _parse_with(parser: Parser, text: str, record: RawRecord) -> Event | None:
    if parser.kind == "line":
        if text[:1] == "<" and (envelope := parse_envelope(text, record)) is not None:
            # the line came through syslog (a shipper, rsyslog) with its format's hint: the
            # format is the MSG's, and the host and program are the envelope's
            event = _try(parser, envelope[1], record)
            if event is not None:
                return take_envelope(event, envelope[0], _ENVELOPE_KEYS)
        return _try(parser, text, record)
    if parser.kind == "json":
        obj = decode_json_object(text.strip())
        return None if obj is None else _try(parser, obj, text, record)
    envelope = parse_envelope(text, record)
    if envelope is None:
        return _try(parser, text, record, {})
    try:
        return parser.parse(envelope[1], record, envelope[0])
    except Exception:  # a parser bug must not lose the record; it is stored unparsed
        log.exception("parser %s raised", parser.name)
        return None


_ENVELOPE_KEYS = ("host", "process", "log")


def _json_event(text: str, record: RawRecord) -> tuple[Event, Parser] | None:
    """The JSON parsers (by priority, each `sniff(obj)`) on a text holding one object."""
    obj = decode_json_object(text.strip())
    if obj is not None:
        for parser in _JSON:
            if parser.sniff is None or parser.sniff(obj):
                if (event := _try(parser, obj, text, record)) is not None:
                    return event, parser
    return None


# the syslog MSG formats of applications that log through syslog (see `_body_event`), by the
# MSG's shape: an ISO date or a level word starts Python logging, an address a web access line
_BODY_PYTHON = tuple((p.sniff, p) for p in _LINE_SNIFFED if p.sniff is not None and p.name == "python_logging")
_BODY_WEB = tuple((p.sniff, p) for p in _LINE_SNIFFED
                  if p.sniff is not None and p.name in ("uvicorn_access", "web_access"))
_BODY_BRACKET = _BODY_PYTHON + _BODY_WEB  # gunicorn's "[time] [pid]", a vhost access line "[host] ..."
_LEVEL_STARTS = frozenset(("DEB", "INF", "WAR", "ERR", "CRI", "FAT"))


def _body_event(message: str, record: RawRecord, base: Event) -> tuple[Event, Parser] | None:
    """A syslog MSG no program parser claimed, in a format of its own: JSON, Python logging,
    a web access line (an application logging through rsyslog). Tried only on cheap signals
    (the MSG's first characters), so ordinary syslog noise pays a few character tests."""
    first = message[:1]
    if first == "{":
        found = _json_event(message, record)
        return None if found is None else (_with_envelope(found[0], base), found[1])
    if first.isdigit():
        sniffers = _BODY_PYTHON if message[4:5] == "-" else _BODY_WEB
    elif first == "[":
        sniffers = _BODY_BRACKET
    elif message[:3] in _LEVEL_STARTS:
        sniffers = _BODY_PYTHON
    else:
        return None
    for sniff, parser in sniffers:
        if sniff(message):
            if (event := _try(parser, message, record)) is not None:
                return _with_envelope(event, base), parser
    return None


def _with_envelope(body: Event, base: Event) -> Event:
    """The MSG's own event, with what only the envelope knows: the sending host and program,
    `log.syslog.*`, and the time and level when the MSG has none."""
    for key in ("host", "process", "@timestamp"):
        if key in base and key not in body:
            body[key] = base[key]
    envelope_log = base.get("log")
    if isinstance(envelope_log, dict) and "syslog" in envelope_log:
        body_log = body.get("log")
        if not isinstance(body_log, dict):
            body_log = body["log"] = {}
        body_log["syslog"] = envelope_log["syslog"]
        if "level" not in body_log:
            body_log["level"] = envelope_log["level"]
            meta = body.get("event")
            if not isinstance(meta, dict):
                meta = body["event"] = {}
            if "severity" not in meta:
                meta["severity"] = base["event"]["severity"]
    return body


def _autodetect(text: str, record: RawRecord) -> tuple[Event | None, Parser | None]:
    """See the module docstring for the order."""
    first = text[:1]
    if first == "{" or (first.isspace() and text.lstrip()[:1] == "{"):
        found = _json_event(text, record)
        if found is not None:
            return found
    envelope = parse_envelope(text, record)
    if envelope is not None:
        base, message, program = envelope
        if program is not None:
            # dispatch_program inlined: this is the path of most syslog lines
            parsers = _BY_PROGRAM.get(program)
            for parser in _program_parsers(program) if parsers is None else parsers:
                try:
                    event = parser.parse(message, record, base)
                except Exception:  # a parser bug must not lose the record; it is stored unparsed
                    log.exception("parser %s raised", parser.name)
                    continue
                if event is not None:
                    return event, parser
        for sniff, parser in _SYSLOG_SNIFFERS:
            if sniff(message):
                if (event := _try(parser, message, record, base)) is not None:
                    return event, parser
        if program is not None and "host" in base:
            # a well-formed "time host program: msg" line: no other format looks like that;
            # its MSG may be an application's own format (the first characters say when to look)
            head = message[:1]
            if head == "{" or head == "[" or head.isdigit() or message[:3] in _LEVEL_STARTS:
                body = _body_event(message, record, base)
                if body is not None:
                    return body
            return base, _GENERIC
    for sniff, parser in _LINE_SNIFFERS:
        if sniff(text):
            if (event := _try(parser, text, record)) is not None:
                return event, parser
    if envelope is not None:
        return envelope[0], _GENERIC
    return None, None


_last_ingested: list = [None, ""]


def _ingested(received: float) -> str:
    # many records of a batch share the millisecond: skip the datetime work for them
    key = int(received * 1000)
    if _last_ingested[0] != key:
        _last_ingested[0] = key
        _last_ingested[1] = ecs.iso_utc(received)
    return _last_ingested[1]


def finalize(event: Event, text: str, record: RawRecord, parser: Parser | None) -> Event:
    """Fill what every event carries, whatever parsed it."""
    meta = event.get("event")
    if meta is None:
        meta = event["event"] = {}
    elif not isinstance(meta, dict):  # a JSON passthrough with "event": "x": keep it, not as ECS
        event.setdefault("json", {})["event"] = meta
        meta = event["event"] = {}
    if "kind" not in meta:
        meta["kind"] = "event"
    if "original" not in meta:  # a shipper's document parsed from its `message` keeps that line
        meta["original"] = text
    received = record.received
    if int(received * 1000) == _last_ingested[0]:  # most records of a batch: same millisecond
        ingested = meta["ingested"] = _last_ingested[1]
    else:
        ingested = meta["ingested"] = _ingested(received)
    if parser is not None:
        if "module" not in meta:
            meta["module"] = parser.family
        if "dataset" not in meta:
            meta["dataset"] = parser.name
    stamp = event.get("@timestamp")
    if not stamp or not isinstance(stamp, str):
        event["@timestamp"] = ingested
    event["input"] = {"type": record.source}  # the pipeline counts stored events per input
    peer = record.peer
    if peer:  # where the source says (`log.source.address`, `log.file.path`)
        ecs.put(event, record.peer_field, peer)
    if record.meta:
        if "offset" in record.meta:
            ecs.put(event, "log.offset", record.meta["offset"])
        if record.meta.get("truncated"):
            event.setdefault("tags", []).append("truncated")
    return event


def unparsed(text: str, record: RawRecord) -> Event:
    """The event for a record no parser recognised: kept whole, tagged for review."""
    event: Event = {"message": text, "tags": ["unparsed"], "event": {"kind": "event"}}
    return finalize(event, text, record, None)


def _record_text(record: RawRecord) -> str:
    data = record.data
    text = (data if isinstance(data, str) else data.decode("utf-8", errors="replace")).rstrip("\r\n")
    if "\x00" in text:  # PostgreSQL text cannot hold NUL; keep the rest of the record
        text = text.replace("\x00", "\ufffd")
    return text


def _parse_text(text: str, record: RawRecord) -> Event:
    parser = PARSERS.get(record.hint) if record.hint else None
    event: Event | None = None
    if parser is not None:
        event = _parse_with(parser, text, record)
    if event is None:
        event, parser = _autodetect(text, record)
    event = unparsed(text, record) if event is None else finalize(event, text, record, parser)
    if "\ufffd" in text:
        _keep_exact_bytes(event, text, record)
    return event


def _keep_exact_bytes(event: Event, text: str, record: RawRecord) -> None:
    """`event.original` is text (PostgreSQL text holds neither invalid UTF-8 nor NUL), so
    bytes that did not decode became U+FFFD. For forensics the record's exact bytes are
    kept too, base64-encoded in `guetteur.original_base64`, and the event is tagged
    `invalid_utf8` (or `nul_replaced` when the bytes were UTF-8 holding NUL characters)."""
    data = record.data
    if isinstance(data, str) or text.encode("utf-8") == data.rstrip(b"\r\n"):
        return  # a genuine U+FFFD, not a replacement
    ext = event.get("guetteur")
    if not isinstance(ext, dict):
        ext = event["guetteur"] = {}
    ext["original_base64"] = base64.b64encode(data).decode("ascii")
    try:
        data.decode("utf-8")
        tag = "nul_replaced"
    except UnicodeDecodeError:
        tag = "invalid_utf8"
    tags = event.get("tags")
    if isinstance(tags, list):
        tags.append(tag)
    else:
        event["tags"] = [tag]


def parse_message(text: str, record: RawRecord, hint: str | None = None) -> tuple[Event | None, Parser | None]:
    """Parse `text` (a message a shipper sent inside its own document) as a record's text:
    with the `hint` parser, else by auto-detection. (None, None) when no parser knows it.
    The event is not finalised: the caller merges it into its document first."""
    parser = PARSERS.get(hint) if hint else None
    if parser is not None and (event := _parse_with(parser, text, record)) is not None:
        return event, parser
    return _autodetect(text, record)


def parse_record(record: RawRecord) -> Event:
    """Parse one record with its hinted parser, else by auto-detection; never raises."""
    return _parse_text(_record_text(record), record)


@dataclass(slots=True)
class BatchResult:
    """Events from a batch of records. `merged` counts records folded into another event
    (auditd multi-record events) and `pending` the records an assembler still holds after
    this batch, so that received == stored + merged + pending."""

    events: list[Event] = field(default_factory=list)
    merged: int = 0
    pending: int = 0
    merged_by_source: dict[str, int] = field(default_factory=dict)


from guetteur.parse.auditd import AuditAssembler, parse_audit_record  # noqa: E402
from guetteur.parse.extract import apply_batch as apply_patterns  # noqa: E402
from guetteur.parse.syslog import parse_envelope  # noqa: E402

ASSEMBLER = AuditAssembler()
_AUDITD = PARSERS["auditd"]


def _emit(result: BatchResult, closed: list[tuple[Event, list[RawRecord], str]]) -> None:
    for event, raws, joined in closed:
        result.events.append(finalize(event, joined, raws[0], _AUDITD))
        result.merged += len(raws) - 1
        if len(raws) > 1:
            source = raws[0].source
            result.merged_by_source[source] = result.merged_by_source.get(source, 0) + len(raws) - 1


def parse_batch(records: Iterable[RawRecord]) -> BatchResult:
    """Parse records in order. What the pipeline's parser workers call.

    Raw auditd records (hint "auditd" or none, text starting `type=`/`node=`) go through
    the assembler; their events appear when their group closes (possibly in a later batch).
    """
    result = BatchResult()
    # Parsing allocates many small dicts and no reference cycles: the cyclic collector
    # would rescan them ~100 times per batch for nothing (a third of the CPU time on the
    # syslog family). Pause it for the batch; reference counting still frees everything.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        _parse_into(result, records)
        apply_patterns(result.events)
    finally:
        if paused:
            gc.enable()
    return result


def _parse_into(result: BatchResult, records: Iterable[RawRecord]) -> None:
    events = result.events
    for record in records:
        text = _record_text(record)
        if (record.hint is None or record.hint == "auditd") and text[:5] in ("type=", "node="):
            parsed = parse_audit_record(text)
            if parsed is not None:
                try:
                    _emit(result, ASSEMBLER.add(record, text, parsed))
                    continue
                except Exception:  # never lose the record to an assembler bug
                    log.exception("auditd assembler raised")
        events.append(_parse_text(text, record))
    if ASSEMBLER.pending:
        _emit(result, ASSEMBLER.expire())
    result.pending = ASSEMBLER.pending


def flush_pending() -> BatchResult:
    """Close every group the assemblers hold (shutdown, end of a one-shot import)."""
    result = BatchResult()
    _emit(result, ASSEMBLER.flush())
    apply_patterns(result.events)
    result.pending = ASSEMBLER.pending
    return result


def known_parsers() -> list[str]:
    return sorted(PARSERS)
