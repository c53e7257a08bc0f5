"""Settings the parsers read (time zone for zone-less timestamps, JSON field mapping).

Set once per process with `configure()` (the pipeline's parser workers and the CLI do);
parsers read `CONTEXT`. Defaults suit tests: UTC and the default JSON field map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from zoneinfo import ZoneInfo

from guetteur.config import ParseSettings


@dataclass(slots=True)
class ParseContext:
    tz: tzinfo = field(default_factory=lambda: ZoneInfo("UTC"))
    json_field_map: dict[str, str] = field(default_factory=lambda: ParseSettings().json_field_map)


CONTEXT = ParseContext()


def configure(settings: ParseSettings) -> None:
    CONTEXT.tz = ZoneInfo(settings.timezone)
    CONTEXT.json_field_map = dict(settings.json_field_map)
