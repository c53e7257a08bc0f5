"""Settings the parsers read (time zone for zone-less timestamps, JSON field mapping, patterns).

Set once per process with `configure()` (the pipeline's parser workers and the CLI do);
parsers read `CONTEXT`. Defaults suit tests: UTC and the default JSON field map.
Modules that memoise zone-dependent results register a hook with `on_configure`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from zoneinfo import ZoneInfo

from guetteur.config import ParseSettings


@dataclass(slots=True)
class ParseContext:
    tz: tzinfo = field(default_factory=lambda: ZoneInfo("UTC"))
    json_field_map: dict[str, str] = field(default_factory=lambda: ParseSettings().json_field_map)


CONTEXT = ParseContext()
_HOOKS: list[Callable[[], None]] = []


def on_configure(hook: Callable[[], None]) -> None:
    """Call `hook()` whenever the context changes (to drop zone-dependent caches)."""
    _HOOKS.append(hook)


def _changed() -> None:
    for hook in _HOOKS:
        hook()


def configure(settings: ParseSettings) -> None:
    """Apply `settings` to this process's parsers, extraction patterns included."""
    from guetteur.parse import extract

    CONTEXT.tz = ZoneInfo(settings.timezone)
    CONTEXT.json_field_map = dict(settings.json_field_map)
    _changed()
    extract.configure(settings.patterns_dirs, settings.builtin_patterns, settings.patterns_reload_interval,
                      settings.pattern_timeout)


def set_timezone(tz: tzinfo) -> None:
    """Use `tz` for zone-less timestamps (tests, the conformance harness, `--tz` options)."""
    CONTEXT.tz = tz
    _changed()
