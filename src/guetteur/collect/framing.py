"""Cutting a byte stream into syslog records (RFC 6587), incrementally and bounded.

Two framings share one TCP stream, decided at the start of every frame:

* octet counting: ``MSG-LEN SP MSG`` where MSG-LEN is a non-zero digit followed by at
  most nine more digits (``NONZERO-DIGIT *DIGIT``); exactly MSG-LEN bytes follow;
* non-transparent (newline) framing: everything up to LF, a trailing CR removed.

Anything else at a frame start (text, ``<PRI>``, garbage, digits not followed by a space)
is newline framed. Empty newline-framed records are skipped.

Records longer than `max_record_bytes` are cut: the first `max_record_bytes` bytes are
emitted with the truncated flag and the rest of that record is read and discarded
(until the next LF, or until MSG-LEN bytes have passed). The framer never holds more
than `max_record_bytes` plus one chunk, whatever the input.

`StreamFramer` is pure (no I/O): `feed(chunk)` returns the records completed by the
chunk, `close()` those left at end of stream. Feeding the same bytes cut at any chunk
boundaries gives the same records. `feed_frames` / `close_frames` give the same records as
one list of bytes and the positions of the cut ones (`Frames`): the TCP listener hands a
chunk's records over in bulk and counts their bytes without a Python step per record.
"""

from __future__ import annotations

# One record: its bytes (framing removed) and whether it was cut.
Frame = tuple[bytes, bool]
# A chunk's records (framing removed) and the indices, in that list, of those that were cut.
Frames = tuple[list[bytes], list[int]]

_MAX_LEN_DIGITS = 10  # RFC 6587 does not bound MSG-LEN; ten digits is far above any limit
_DIGIT_LO = 0x31  # "1": MSG-LEN starts with a non-zero digit
_DIGIT_HI = 0x39


class StreamFramer:
    """Incremental RFC 6587 framer for one stream (one TCP connection)."""

    __slots__ = ("_chunks", "_held", "_max", "_need", "_skip_line", "_skip_octets", "truncated")

    def __init__(self, max_record_bytes: int) -> None:
        if max_record_bytes < 1:
            raise ValueError("max_record_bytes must be positive")
        self._max = max_record_bytes
        self._chunks: list[bytes] = []  # bytes of the unfinished frame, not yet joined
        self._held = 0  # total length of _chunks
        self._need = 0  # do not parse again before _held reaches this (octet frame waiting)
        self._skip_line = False  # discarding the rest of a cut newline-framed record
        self._skip_octets = 0  # bytes of a cut octet-counted frame still to discard
        self.truncated = 0  # records cut so far

    @property
    def pending_bytes(self) -> int:
        """Bytes held for an unfinished record."""
        return self._held

    def feed(self, data: bytes) -> list[Frame]:
        """The records that `data` completes, in order."""
        return _pairs(self.feed_frames(data))

    def close(self) -> list[Frame]:
        """The records left at end of stream: an unterminated newline-framed record as is,
        an octet-counted frame shorter than announced as received and flagged truncated."""
        return _pairs(self.close_frames())

    def feed_frames(self, data: bytes) -> Frames:
        """`feed` as one list of records and the indices of the cut ones."""
        if self._skip_octets:
            if len(data) <= self._skip_octets:
                self._skip_octets -= len(data)
                return [], []
            data = data[self._skip_octets :]
            self._skip_octets = 0
        if self._skip_line:
            nl = data.find(b"\n")
            if nl < 0:
                return [], []
            data = data[nl + 1 :]
            self._skip_line = False
        if not data:
            return [], []
        if self._chunks:
            held = self._held + len(data)
            # Waiting for more of a frame: keep the chunk without joining (a 1 MB record
            # arriving in 64 KiB pieces must not be re-joined and re-scanned each time).
            if held < self._need or (self._need == 0 and held <= self._max + 1 and b"\n" not in data):
                self._chunks.append(data)
                self._held = held
                return [], []
            self._chunks.append(data)
            data = b"".join(self._chunks)
            self._chunks = []
            self._held = 0
            self._need = 0
        return self._parse(data, eof=False)

    def close_frames(self) -> Frames:
        """`close` as one list of records and the indices of the cut ones."""
        self._skip_line = False
        self._skip_octets = 0
        if not self._chunks:
            return [], []
        data = b"".join(self._chunks)
        self._chunks = []
        self._held = 0
        self._need = 0
        return self._parse(data, eof=True)

    def _keep(self, data: bytes, need: int) -> None:
        self._chunks = [data]
        self._held = len(data)
        self._need = need

    def _parse(self, buf: bytes, eof: bool) -> Frames:
        out: list[bytes] = []
        cut_at: list[int] = []  # indices in `out` of the records cut (rare)
        append = out.append
        find = buf.find
        limit = self._max
        n = len(buf)
        pos = 0
        while pos < n:
            first = buf[pos]
            if _DIGIT_LO <= first <= _DIGIT_HI:
                sp = find(b" ", pos, pos + _MAX_LEN_DIGITS + 1)
                if sp > 0 and buf[pos:sp].isdigit():
                    length = int(buf[pos:sp])
                    start = sp + 1
                    end = start + length
                    if length <= limit:
                        if end <= n:
                            append(buf[start:end])
                            pos = end
                            continue
                        if eof:
                            if start < n:  # a header with nothing after it is no record
                                self.truncated += 1
                                cut_at.append(len(out))
                                append(buf[start:])
                            return out, cut_at
                        self._keep(buf[pos:], end - pos)
                        return out, cut_at
                    # Announced longer than allowed: emit the first `limit` bytes, discard the rest.
                    cut = start + limit
                    if cut <= n or eof:
                        if start < n:
                            self.truncated += 1
                            cut_at.append(len(out))
                            append(buf[start:cut])
                        if end <= n:
                            pos = end
                            continue
                        if not eof:
                            self._skip_octets = end - n
                        return out, cut_at
                    self._keep(buf[pos:], cut - pos)
                    return out, cut_at
                if sp < 0 and not eof and n - pos <= _MAX_LEN_DIGITS and buf[pos:].isdigit():
                    # Only digits so far: cannot tell octet counting from a line yet.
                    self._keep(buf[pos:], n - pos + 1)
                    return out, cut_at
                # Not a length: this frame is newline framed.
            nl = find(b"\n", pos)
            if nl < 0:
                # A CR last may be the CR of a CRLF still to come: it does not count yet.
                end = n - 1 if buf[n - 1] == 0x0D else n
                if end - pos > limit:
                    self.truncated += 1
                    cut_at.append(len(out))
                    append(buf[pos : pos + limit])
                    self._skip_line = not eof
                elif eof:
                    if end > pos:
                        append(buf[pos:end])
                else:
                    self._keep(buf[pos:], 0)
                return out, cut_at
            end = nl - 1 if nl > pos and buf[nl - 1] == 0x0D else nl
            if end - pos > limit:
                self.truncated += 1
                cut_at.append(len(out))
                append(buf[pos : pos + limit])
            elif end > pos:
                append(buf[pos:end])
            pos = nl + 1
        return out, cut_at


def _pairs(frames: Frames) -> list[Frame]:
    """`Frames` as (record, cut) pairs."""
    records, cut_at = frames
    if not cut_at:
        return [(record, False) for record in records]
    cut = set(cut_at)
    return [(record, i in cut) for i, record in enumerate(records)]


# One line of a file: its bytes (newline and CR removed), the byte offset where it
# starts, and whether it was cut.
Line = tuple[bytes, int, bool]


class LineFramer:
    """Incremental newline framer for files, with the byte offset of every line.

    `offset` is where the stream starts (a resumed file); `skipping` resumes in the
    middle of a cut line. `resume_offset` is where a restart must read again so that no
    line is emitted twice or skipped: the start of the unfinished last line (it has not
    been emitted), or the end of what was read. `skipping` tells whether that point is
    inside the discarded rest of a cut line.
    """

    __slots__ = ("_chunks", "_held", "_max", "_pending_at", "_pos", "skipping", "truncated")

    def __init__(self, max_record_bytes: int, offset: int = 0, skipping: bool = False) -> None:
        if max_record_bytes < 1:
            raise ValueError("max_record_bytes must be positive")
        self._max = max_record_bytes
        self._pos = offset  # stream offset just past the last byte fed
        self._chunks: list[bytes] = []
        self._held = 0
        self._pending_at = offset  # stream offset of _chunks[0]
        self.skipping = skipping
        self.truncated = 0

    @property
    def position(self) -> int:
        """Stream offset just past the last byte fed: where the next read starts."""
        return self._pos

    @property
    def resume_offset(self) -> int:
        return self._pending_at if self._chunks else self._pos

    @property
    def pending_bytes(self) -> int:
        return self._held

    def feed(self, data: bytes) -> list[Line]:
        """The lines that `data` completes, in order."""
        base = self._pos
        self._pos += len(data)
        if self.skipping:
            nl = data.find(b"\n")
            if nl < 0:
                return []
            data = data[nl + 1 :]
            base += nl + 1
            self.skipping = False
        if not data:
            return []
        if self._chunks:
            held = self._held + len(data)
            if held <= self._max + 1 and b"\n" not in data:
                self._chunks.append(data)
                self._held = held
                return []
            self._chunks.append(data)
            data = b"".join(self._chunks)
            base = self._pending_at
            self._chunks = []
            self._held = 0
        return self._parse(data, base, eof=False)

    def close(self) -> list[Line]:
        """The unfinished last line, as a line (the file will not grow any more)."""
        self.skipping = False
        if not self._chunks:
            return []
        data = b"".join(self._chunks)
        self._chunks = []
        self._held = 0
        return self._parse(data, self._pending_at, eof=True)

    def _parse(self, buf: bytes, base: int, eof: bool) -> list[Line]:
        out: list[Line] = []
        append = out.append
        find = buf.find
        limit = self._max
        n = len(buf)
        pos = 0
        while pos < n:
            nl = find(b"\n", pos)
            if nl < 0:
                end = n - 1 if buf[n - 1] == 0x0D else n
                if end - pos > limit:
                    self.truncated += 1
                    append((buf[pos : pos + limit], base + pos, True))
                    self.skipping = not eof
                elif eof:
                    if end > pos:
                        append((buf[pos:end], base + pos, False))
                else:
                    self._chunks = [buf[pos:]]
                    self._held = n - pos
                    self._pending_at = base + pos
                return out
            end = nl - 1 if nl > pos and buf[nl - 1] == 0x0D else nl
            if end - pos > limit:
                self.truncated += 1
                append((buf[pos : pos + limit], base + pos, True))
            elif end > pos:
                append((buf[pos:end], base + pos, False))
            pos = nl + 1
        return out
