"""One severity scale for every family.

`event.severity` follows the syslog order, as Elastic's integrations do: 0 is the most
severe (emergency), 7 the least (debug). `log.level` is the matching lower-case word.
Parsers map their format's own levels through `from_level` so rules and the UI can rely
on one scale (see docs/formats.md for the table).
"""

from __future__ import annotations

LEVELS = ("emergency", "alert", "critical", "error", "warning", "notice", "info", "debug")

_ALIASES = {
    "note": "notice", "system": "notice", "warnings": "warning", "exception": "error",
    "dbg": "debug", "inf": "info", "wrn": "warning",
    "emerg": "emergency", "panic": "emergency", "fatal": "critical", "crit": "critical",
    "err": "error", "severe": "error", "warn": "warning", "information": "info",
    "informational": "info", "trace": "debug", "verbose": "debug", "log": "info",
    "statement": "info", "detail": "debug", "hint": "info", "debug1": "debug",
    "debug2": "debug", "debug3": "debug", "debug4": "debug", "debug5": "debug",
}


_CACHE: dict[str, str | None] = {}


def normalize_level(word: str) -> str | None:
    """`'WARN'` -> `'warning'`; None when the word is no known level."""
    found = _CACHE.get(word, "")
    if found != "":
        return found
    result = _normalize(word)
    if len(_CACHE) < 1024:
        _CACHE[word] = result
    return result


def from_number(value: int) -> tuple[str, int]:
    """(`log.level`, `event.severity`) for a Python logging number (10 debug .. 50 critical)."""
    if value >= 50:
        return "critical", 2
    if value >= 40:
        return "error", 3
    if value >= 30:
        return "warning", 4
    if value >= 20:
        return "info", 6
    return "debug", 7


def _normalize(word: str) -> str | None:
    key = word.strip().lower()
    if key[:5] == "trace" and key[5:].isdigit():  # Apache 2.4 trace1..trace8
        return "debug"
    key = _ALIASES.get(key, key)
    return key if key in LEVELS else None


def from_level(word: str) -> tuple[str, int] | None:
    """(`log.level`, `event.severity`) for a level word, or None."""
    level = normalize_level(word)
    return None if level is None else (level, LEVELS.index(level))


def from_code(code: int) -> tuple[str, int]:
    """(`log.level`, `event.severity`) for a syslog severity code 0-7."""
    code = min(max(code, 0), 7)
    return LEVELS[code], code
