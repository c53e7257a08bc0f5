"""The parser contract shared by every log family.

A parser module in `guetteur.parse` declares a module-level `PARSERS: list[Parser]`;
the registry (`guetteur.parse`) discovers it. Adding a format is one new module plus
its tests: nothing else to edit.

Three kinds, by what the parser reads:

- ``"line"``:   ``parse(text, record) -> Event | None`` on the whole record text.
- ``"syslog"``: ``parse(message, record, base) -> Event | None`` on the MSG part of a
  syslog line; ``base`` is the event the envelope already produced (`@timestamp`,
  `host.name`, `process.name/pid`, `log.syslog.*`) and the parser extends and returns it.
  Chosen by ``programs`` (the syslog APP-NAME/TAG) or by ``sniff(message)``.
- ``"json"``:   ``parse(obj, text, record) -> Event | None`` on a JSON object decoded once
  by the registry (bounded in size and depth). Chosen by ``sniff(obj)``.

Every parse function returns None when the input is not its format, and never raises:
the registry still guards each call, but a raise is a bug that the property tests catch.
A syslog parser that returns None must leave ``base`` untouched: the registry hands the
same base to the next candidate (no copy per line, for speed).
The registry, not the parser, fills what every event has (`event.original`,
`event.ingested`, default `@timestamp`, `event.kind`, `event.dataset/module`, `log.*`
transport facts), so parsers only set what their format tells.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from guetteur.model import Event

ParserKind = Literal["line", "syslog", "json"]


@dataclass(frozen=True, slots=True)
class Parser:
    """One log format.

    name:     the hint users give (`--source NAME`, `hint` of a file input, HTTP `source`);
              also the default `event.dataset`.
    family:   the log family it belongs to (`linux`, `windows`, `application`, `web`,
              `database`, `network`): conformance and benchmark tables group by it;
              also the default `event.module`.
    kind:     see the module docstring.
    parse:    the parse function for that kind.
    sniff:    cheap test used by auto-detection (text for line/syslog, the decoded object
              for json). None: tried only by hint (line/json) or by `programs` (syslog).
    programs: syslog program names (lower case) whose messages this parser reads.
    priority: order in auto-detection, lower first; generic fallbacks use high numbers.
    """

    name: str
    family: str
    kind: ParserKind
    parse: Callable[..., Event | None]
    sniff: Callable[[Any], bool] | None = None
    programs: tuple[str, ...] = ()
    priority: int = 100


def take_envelope(event: Event, base: Event, keys: tuple[str, ...], missing: tuple[str, ...] = ()) -> Event:
    """`event`, a line format's event made from a syslog MSG, with the envelope's (`base`) values
    of `keys` in place of its own (the sending host, program, `log.syslog`), and of `missing`
    where the line has none (a time the MSG did not repeat)."""
    for key in keys:
        if key in base:
            event[key] = base[key]
    for key in missing:
        if key in base and key not in event:
            event[key] = base[key]
    return event
