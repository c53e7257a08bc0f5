"""Regular expressions of rules, evaluated in linear time where possible.

Python's `re` backtracks: a community rule such as ``\\w+`(?:\\w+|-|.)`[\\w+|\\s]`` takes
0.7 s on a 20,000-character command line, and ``\\+.*\\+.*…`` (14 times) explodes on a
line with many `+`. Command lines are attacker-controlled, so one crafted event per second
could stall detection. Hyperscan (already used by the prefilter) matches in one pass,
whatever the pattern or the input, so a rule regex runs on Hyperscan when the answer is
certainly the same as Python's, and on `re` otherwise.

"Certainly the same": an ASCII pattern on an ASCII value. There, Python's Unicode classes
(`\\w`, `\\d`, `\\b`, case folding) equal PCRE's ASCII ones, except `\\s`, which in Python also
matches the separators \\x1c-\\x1f (values holding them go to `re`). A Hyperscan database in
ASCII mode is ~10 KB; in UTF-8/Unicode mode it is ~170 KB per pattern, too much for the
hundreds of regexes of the community rules.

Left to `re`: patterns Hyperscan refuses (back-references, look-arounds, atomic groups,
possessive quantifiers...), patterns where PCRE syntax means something else than Python's
(`\\Z`, `{,n}`, `[[:alpha:]]`, `\\N`, `\\v`, verbose mode, Python-only inline flags), non-ASCII
patterns; and empty or non-ASCII values. `regex_search` returns a `search(text) -> bool`
either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

try:
    import hyperscan
except ImportError:  # pragma: no cover - the wheel is a pinned dependency
    hyperscan = None

# Python syntax that PCRE (Hyperscan) reads differently, or that we do not want to reason about.
_DIFFERENT = re.compile(r"\\[ZNv]|\{,|\[:|\(\?[aiLmsux-]*[aLux][aiLmsux-]*[:)]")
_SEPARATORS = re.compile("[\x1c-\x1f]")  # whitespace to Python's \\s, not to PCRE's


def regex_search(pattern: str, flags: int) -> Callable[[str], bool]:
    """`search(text)`: does `re.search(pattern, text, flags)` find a match? (see module doc).

    Raises `re.error` for an invalid pattern. The Hyperscan database is compiled on the first
    value that needs it: most rules never get past the prefilter on most streams.
    """
    python_search = re.compile(pattern, flags).search

    def slow(text: str) -> bool:
        return python_search(text) is not None

    if hyperscan is None or not pattern.isascii() or _DIFFERENT.search(pattern) or flags & re.VERBOSE:
        return slow
    separators = _SEPARATORS.search if ("\\s" in pattern or "\\S" in pattern) else None
    engine: list[Any] = [None]  # the database's scan, False when Hyperscan refuses the pattern

    def fast(text: str) -> bool:
        if not text or not text.isascii() or (separators is not None and separators(text)):
            return python_search(text) is not None
        scan = engine[0]
        if scan is None:
            database = _hyperscan_database(pattern, flags)
            scan = engine[0] = database.scan if database is not None else False
        if scan is False:
            return python_search(text) is not None
        found: list[bool] = []
        scan(text.encode("ascii"), match_event_handler=_found, context=found)
        return bool(found)

    fast.engine = engine  # type: ignore[attr-defined]  # for `linear`
    return fast


def linear(search: Callable[[str], bool]) -> bool:
    """True when `search` (from `regex_search`) runs on Hyperscan (compiling it if need be)."""
    engine = getattr(search, "engine", None)
    if engine is None:
        return False
    search("x")
    return engine[0] is not False


def _found(_pattern: int, _start: int, _end: int, _flags: int, found: list[bool]) -> None:
    found.append(True)


def _hyperscan_database(pattern: str, flags: int) -> Any:
    hs_flags = hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_ALLOWEMPTY
    if flags & re.IGNORECASE:
        hs_flags |= hyperscan.HS_FLAG_CASELESS
    if flags & re.DOTALL:
        hs_flags |= hyperscan.HS_FLAG_DOTALL
    if flags & re.MULTILINE:
        hs_flags |= hyperscan.HS_FLAG_MULTILINE
    try:
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(expressions=[pattern.encode("ascii")], ids=[0], elements=1, flags=[hs_flags])
        database.scratch = hyperscan.Scratch(database)
    except Exception:  # a construct Hyperscan does not support: Python's re does it
        return None
    return database
