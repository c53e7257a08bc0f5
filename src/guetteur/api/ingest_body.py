"""Ingest bodies: read as they arrive, split into records, refused as early as possible.

A body of 16 million one-character lines (32 MB, under the byte cap) used to be read whole,
then split on the event loop into 16 million `bytes` objects: the API froze for 30 s and the
process grew by 1.4 GB before the 413. Now:

- Lines (NDJSON, text) are split chunk by chunk as the body arrives, so the event loop never
  does more than one chunk's work (the server reads at most a few hundred KiB at a time), and
  counted: past `max_records` records or `max_bytes` bytes the request gets 413 at once, with
  the reason, before the rest of the body is read. Memory is the records kept so far plus one
  unfinished line, itself kept only up to `max_record_bytes` (longer records are cut anyway).
- A JSON document (`application/json`) cannot be split before its end: it is kept (at most
  `max_bytes`, one copy) and split in a thread by a scanner that finds the array's top-level
  elements and counts them before any is decoded; each element is then checked with orjson
  one at a time, so decoding never holds more than one record's objects.
- The whole body must arrive within `timeout` seconds (408 otherwise), and a client that goes
  away mid-body is logged at debug level: it is not an error of the server.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson
from fastapi import HTTPException, Request, status

from guetteur.collect.multiline import join_lines
from guetteur.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BodyLimits:
    """What one ingest request may send."""

    max_bytes: int
    max_records: int
    max_record_bytes: int
    timeout: float

    @classmethod
    def for_ingest(cls, settings: Settings, buffer_capacity: int) -> BodyLimits:
        """The limits in force: a request never holds more records than the pipeline's buffer."""
        return cls(max_bytes=settings.api.max_body_bytes,
                   max_records=min(settings.api.max_records_per_request, buffer_capacity),
                   max_record_bytes=settings.pipeline.max_record_bytes, timeout=settings.api.body_timeout)


def too_many_records(limit: int) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                         f"more than {limit} records in one request; send at most {limit} per request")


def too_many_bytes(limit: int) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body larger than {limit} bytes")


class ClientLeft(HTTPException):
    """The client closed the connection before its body was complete (nobody reads the answer)."""

    def __init__(self) -> None:
        super().__init__(status.HTTP_400_BAD_REQUEST, "client disconnected before the end of its body")


NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonlines",
                          "application/x-jsonlines"})


async def read_records(request: Request, limits: BodyLimits) -> list[bytes]:
    """The records of an ingest body: one per JSON object, one per non-empty line of NDJSON, and
    for raw text one per non-empty line with its continuation lines joined (`collect.multiline`).

    Raises HTTPException: 413 past `limits.max_bytes` or `limits.max_records` (as soon as it is
    passed), 408 when the body takes longer than `limits.timeout`, 400 for malformed JSON.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes:
        raise too_many_bytes(limits.max_bytes)
    kind = request.headers.get("content-type", "text/plain").split(";", 1)[0].strip().lower()
    if kind == "application/json":
        document = bytearray()
        async for chunk in body_chunks(request, limits):
            document += chunk
        return await asyncio.to_thread(split_json, document, limits.max_records, limits.max_record_bytes)
    lines = await read_lines(request, limits)
    if kind in NDJSON_TYPES:  # one JSON document per line: nothing continues a line
        return lines
    # raw text: a traceback or stack trace is one record with the line it follows
    return join_lines(lines, limits.max_record_bytes)


async def read_lines(request: Request, limits: BodyLimits) -> list[bytes]:
    """The non-empty lines of a body, whatever its content type, split as they arrive (413
    past `limits.max_records` lines or `limits.max_bytes` bytes, 408 past `limits.timeout`)."""
    splitter = LineSplitter(limits.max_record_bytes)
    records: list[bytes] = []
    async for chunk in body_chunks(request, limits):
        records += splitter.feed(chunk)
        if len(records) > limits.max_records:
            raise too_many_records(limits.max_records)
    records += splitter.close()
    if len(records) > limits.max_records:
        raise too_many_records(limits.max_records)
    return records


async def read_body(request: Request, limits: BodyLimits) -> bytes:
    """The whole body (decompressed), within `limits.max_bytes` and `limits.timeout`."""
    body = bytearray()
    async for chunk in body_chunks(request, limits):
        body += chunk
    return bytes(body)


def _decoder(request: Request) -> zlib._Decompress | None:
    """A decompressor for the body's `Content-Encoding` (gzip or deflate), None for identity;
    415 for any other encoding."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                        f"Content-Encoding {encoding!r} is not supported; send gzip, deflate or none")


def _inflate(decoder: zlib._Decompress, chunk: bytes, room: int) -> bytes:
    """What `chunk` decompresses to, at most `room + 1` bytes (a bomb is stopped there, never
    inflated whole); 400 when the stream is not valid."""
    try:
        return decoder.decompress(chunk, room + 1)
    except zlib.error as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"body is not valid compressed data: {exc}") from None


async def body_chunks(request: Request, limits: BodyLimits) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive (an async iterator of bytes), decompressed when it
    has a `Content-Encoding` (gzip, deflate), within the byte cap (of the decompressed body:
    a gzip bomb gets 413 once it passes the cap) and the deadline."""
    decoder = _decoder(request)
    if decoder is None:
        async for chunk in _received_chunks(request, limits):
            yield chunk
        return
    size = 0
    async for chunk in _received_chunks(request, limits):
        pending = chunk
        while pending:
            plain = _inflate(decoder, pending, limits.max_bytes - size)
            size += len(plain)
            if size > limits.max_bytes:
                raise too_many_bytes(limits.max_bytes)
            if plain:
                yield plain
            pending = decoder.unconsumed_tail
    if not decoder.eof:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body is not valid compressed data: truncated stream")


async def _received_chunks(request: Request, limits: BodyLimits) -> AsyncIterator[bytes]:
    """The body's chunks as received, within the byte cap and the deadline."""
    deadline = asyncio.get_running_loop().time() + limits.timeout
    started = time.monotonic()
    size = 0
    while True:
        try:
            async with asyncio.timeout_at(deadline):
                message = await request.receive()
        except TimeoutError:
            raise HTTPException(status.HTTP_408_REQUEST_TIMEOUT,
                                f"body not received within {limits.timeout:g} s ({size} bytes arrived)",
                                headers={"Connection": "close"}) from None
        if message["type"] == "http.disconnect":
            log.debug("ingest client %s left after %d bytes in %.1f s", request.client, size,
                      time.monotonic() - started)
            raise ClientLeft()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limits.max_bytes:
            raise too_many_bytes(limits.max_bytes)
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


class LineSplitter:
    """The non-empty lines of a stream fed chunk by chunk (`\\n` or `\\r\\n` ends a line).

    An unfinished line is kept only up to `max_record_bytes + 2` bytes: enough for the record
    to be recognised as too long and cut (and tagged) like any other, without holding the rest.
    """

    def __init__(self, max_record_bytes: int) -> None:
        self._keep = max_record_bytes + 2
        self._partial = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        last = chunk.rfind(b"\n")
        if last < 0:
            self._hold(chunk)
            return []
        first = chunk.find(b"\n")
        self._hold(memoryview(chunk)[:first])
        lines = [bytes(self._partial)]
        self._partial.clear()
        if first < last:
            lines += chunk[first + 1:last].split(b"\n")
        self._hold(memoryview(chunk)[last + 1:])
        return _non_empty(lines)

    def close(self) -> list[bytes]:
        """The last line, when the stream does not end with a line break."""
        rest = bytes(self._partial)
        self._partial.clear()
        return _non_empty([rest])

    def _hold(self, data: bytes | memoryview) -> None:
        room = self._keep - len(self._partial)
        if room > 0:
            self._partial += data[:room]


def _non_empty(lines: list[bytes]) -> list[bytes]:
    # A malformed NDJSON line is still kept (stored unparsed), never refused, so one bad line
    # does not lose its neighbours.
    return [line[:-1] if line.endswith(b"\r") else line for line in lines if line.strip()]


# Tokens of the JSON scanner: a whole string (so brackets and commas inside strings are
# skipped), or a bracket; at the array's top level, also the commas between records.
_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_TOP_LEVEL_TOKEN = re.compile(_STRING + rb"|[\[\]{},]", re.DOTALL)
_NESTED_TOKEN = re.compile(_STRING + rb"|[\[\]{}]", re.DOTALL)
_SIGNIFICANT = re.compile(rb"[^ \t\r\n]")
_OPENERS = frozenset(b"[{")
_CLOSERS = frozenset(b"]}")
_WHITESPACE = b" \t\r\n"
_NOT_OBJECTS = "JSON body must be an object or an array of objects"

Document = bytes | bytearray


def malformed_json(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, f"malformed JSON: {reason}")


def split_json(document: Document, max_records: int, max_record_bytes: int) -> list[bytes]:
    """The records of a JSON body (one object or an array of objects), compact-encoded.

    The array's elements are found and counted by a scanner before any is decoded (413 past
    `max_records`); each is then decoded alone to check it, so decoding holds one record's
    objects at a time. An element longer than `max_record_bytes` is kept as received, only its
    first `max_record_bytes + 1` bytes (it is cut and tagged `truncated` like a long line),
    after the scanner's checks only. CPU-bound: call it in a thread.
    """
    first = _SIGNIFICANT.search(document)
    if first is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, _NOT_OBJECTS)
    begin = first.start()
    if document[begin] == ord("{"):
        spans = [(begin, _significant_end(document, begin, len(document)))]
    elif document[begin] == ord("["):
        spans = array_elements(document, begin, max_records)
    else:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, _NOT_OBJECTS)
    return [_record(document, start, end, max_record_bytes) for start, end in spans]


def array_elements(document: Document, begin: int, max_records: int) -> list[tuple[int, int]]:
    """Where the top-level elements of the JSON array opening at `begin` are (start, end), undecoded."""
    spans: list[tuple[int, int]] = []
    depth = 1
    position = start = begin + 1
    while True:
        token = (_TOP_LEVEL_TOKEN if depth == 1 else _NESTED_TOKEN).search(document, position)
        if token is None:
            raise malformed_json("unterminated array or string")
        char = document[token.start()]
        position = token.end()
        if char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth -= 1
            if depth == 0:
                element = _element(document, start, token.start())
                if element is not None:
                    spans.append(element)
                elif spans:
                    raise malformed_json("empty element at the end of the array")
                break
        elif char == ord(","):
            element = _element(document, start, token.start())
            if element is None:
                raise malformed_json("empty element in the array")
            spans.append(element)
            start = position
            if len(spans) > max_records:
                raise too_many_records(max_records)
    if len(spans) > max_records:
        raise too_many_records(max_records)
    if _significant_end(document, position, len(document)) != position:
        raise malformed_json("data after the end of the array")
    return spans


def _element(document: Document, start: int, end: int) -> tuple[int, int] | None:
    first = _SIGNIFICANT.search(document, start, end)
    return None if first is None else (first.start(), _significant_end(document, first.start(), end))


def _significant_end(document: Document, begin: int, end: int) -> int:
    """`end` moved back over trailing whitespace, block by block (no copy of the whole)."""
    while end > begin:
        block = max(begin, end - 4096)
        kept = len(bytes(document[block:end]).rstrip(_WHITESPACE))
        if kept:
            return block + kept
        end = block
    return begin


def _record(document: Document, start: int, end: int, max_record_bytes: int) -> bytes:
    if document[start] != ord("{"):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, _NOT_OBJECTS)
    if end - start > max_record_bytes:
        return bytes(document[start:start + max_record_bytes + 1])
    try:
        value = orjson.loads(memoryview(document)[start:end])
    except orjson.JSONDecodeError as exc:
        raise malformed_json(str(exc)) from None
    if not isinstance(value, dict):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, _NOT_OBJECTS)
    return orjson.dumps(value)
