"""Multi-line records: continuation lines joined to the line that starts their record.

A Python traceback, a Java stack trace or an indented continuation (macOS/BSD syslog) is
one record written over several lines. A `Joiner` sits after a line framer and holds the
record being built until a line that starts another one arrives:

* built-in rules (`BUILTIN`): a line continues the record when it starts with a space or a
  tab (traceback frames and source lines, `\\tat ...`, `... 12 more`, indented syslog
  continuations), or it is one of the lines tracebacks and stack traces print unindented:
  `Traceback (most recent call last):`, `During handling of the above exception...`,
  `The above exception was the direct cause...`, `Caused by: ...`, `Suppressed: ...`, or
  an exception line (`ValueError: bad value`, `java.lang.IllegalStateException: boom`,
  `KeyboardInterrupt`);
* a configured `first_line` regex (`FirstLinePattern`): a line matching it starts a
  record, any other line continues the one held.

A record is bounded: once it holds `max_lines` lines, or one more line would pass
`max_bytes`, it is emitted and the line starts a new record (nothing is dropped; a never
ending continuation becomes records of at most `max_bytes` each, and memory stays bounded).
A record held `timeout` seconds without a new line is emitted by whoever drives the joiner
(`due()` then `flush()`: a file still being written). Lines are joined with `\\n`; the
record's offset is its first line's, so a file's saved offset can stop before a record
still held (`pending_offset`) and a restart reads it again whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from guetteur.collect.framing import Line
from guetteur.config import MultilineSettings

# Lines that tracebacks and stack traces print without indentation.
_UNINDENTED_CONTINUATION = re.compile(
    rb"Traceback \(most recent call last\):"
    rb"|During handling of the above exception"
    rb"|The above exception was the direct cause"
    rb"|Caused by: |Suppressed: "
    rb"|\.\.\. \d+ (?:more|common frames omitted)"
    # an exception line: a (dotted) class name ending like an exception, alone or with ": message"
    rb"|(?:[A-Za-z_$][\w$]*\.)*(?:[A-Z][\w$]*)?(?:Error|Exception|Throwable|Exit|Interrupt|Warning|Group)(?::|$)"
)
_INDENT = frozenset(b" \t")
_STARTS_UNINDENTED = frozenset(b"TDCS.") | frozenset(range(ord("a"), ord("z") + 1)) | frozenset(
    range(ord("A"), ord("Z") + 1)) | frozenset(b"_$")

# Whether a line continues the record held (not called when nothing is held).
ContinuationRule = Callable[[bytes], bool]


def builtin_continues(line: bytes) -> bool:
    """The built-in rule: indented lines and the unindented lines of tracebacks and stack traces."""
    if not line:
        return False
    first = line[0]
    if first in _INDENT:
        return True
    return first in _STARTS_UNINDENTED and _UNINDENTED_CONTINUATION.match(line) is not None


class FirstLinePattern:
    """A configured rule: lines matching `pattern` (a regex, searched at the line's start) start records."""

    __slots__ = ("_match",)

    def __init__(self, pattern: str) -> None:
        self._match = re.compile(pattern.encode("utf-8")).match

    def __call__(self, line: bytes) -> bool:
        return self._match(line) is None


class Joiner:
    """Joins the lines of one stream (a file, a body) into records. Pure: no I/O, no clock of
    its own (`now` is given, monotonic seconds). `rule=None` passes lines through unchanged.
    A record of one line is handed on as the very tuple received (most records: no copy)."""

    __slots__ = ("_bytes", "_continues", "_cut", "_first", "_last", "_more", "max_bytes", "max_lines", "timeout")

    def __init__(self, rule: ContinuationRule | None, *, max_lines: int = 500, max_bytes: int = 1_048_576,
                 timeout: float = 1.0) -> None:
        if max_lines < 1 or max_bytes < 1:
            raise ValueError("max_lines and max_bytes must be positive")
        self._continues = rule
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._first: Line | None = None  # the held record's first line
        self._more: list[bytes] = []  # its continuation lines
        self._bytes = 0  # the held record's size, joined
        self._cut = False  # one of its lines was cut
        self._last = 0.0

    @property
    def pending_offset(self) -> int | None:
        """Offset of the first line of the record held, None when none is."""
        return None if self._first is None else self._first[1]

    @property
    def pending_lines(self) -> int:
        return 0 if self._first is None else 1 + len(self._more)

    def feed(self, lines: list[Line], now: float = 0.0) -> list[Line]:
        """The records that `lines` complete, in order; the last one stays held."""
        continues = self._continues
        if continues is None or not lines:
            return lines
        out: list[Line] = []
        append = out.append
        first, more, size = self._first, self._more, self._bytes
        room = self.max_lines - 1  # continuation lines a record may take
        max_bytes = self.max_bytes
        for line in lines:
            if first is not None:
                data = line[0]
                if len(more) < room and size + 1 + len(data) <= max_bytes and continues(data):
                    more.append(data)
                    size += 1 + len(data)
                    if line[2]:
                        self._cut = True
                    continue
                if more:
                    append(self._joined(first, more))
                    more = self._more = []
                else:
                    append(first)
            first = line
            size = len(line[0])
            self._cut = line[2]
        self._first, self._bytes = first, size
        self._last = now
        return out

    def due(self, now: float) -> bool:
        """Whether the record held has waited `timeout` seconds for a next line."""
        return self._first is not None and now - self._last >= self.timeout

    def flush(self) -> list[Line]:
        """The record held, if any (end of stream, timeout)."""
        first = self._first
        if first is None:
            return []
        record = self._joined(first, self._more) if self._more else first
        self.reset()
        return [record]

    def reset(self) -> None:
        """Forget the record held (its lines will be read again)."""
        self._first = None
        self._more = []
        self._bytes = 0

    def _joined(self, first: Line, more: list[bytes]) -> Line:
        return (first[0] + b"\n" + b"\n".join(more), first[1], first[2] or self._cut)


def joiner_for(settings: MultilineSettings | None, max_record_bytes: int) -> Joiner:
    """A joiner configured by `settings` (None: the built-in rules and default bounds), its
    `max_bytes` capped at `max_record_bytes`."""
    settings = settings or MultilineSettings()
    if not settings.enabled:
        return Joiner(None)
    rule: ContinuationRule = builtin_continues if settings.first_line is None else FirstLinePattern(
        settings.first_line)
    return Joiner(rule, max_lines=settings.max_lines, max_bytes=min(settings.max_bytes, max_record_bytes),
                  timeout=settings.timeout)


def join_lines(lines: list[bytes], max_record_bytes: int, settings: MultilineSettings | None = None) -> list[bytes]:
    """Join the continuation lines of a complete list of lines (an HTTP text body)."""
    joiner = joiner_for(settings, max_record_bytes)
    framed: list[Line] = [(line, 0, False) for line in lines]
    return [data for data, _, _ in joiner.feed(framed) + joiner.flush()]
