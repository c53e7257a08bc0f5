"""Time helpers shared by the parsers: every function returns ECS `@timestamp` text
(ISO 8601, UTC, millisecond precision, `Z`) or None, and never raises.

- `iso(text)`: ISO 8601 / RFC 3339 (`T` or space, `,` or `.` fraction, any number of
  fraction digits, `Z`, `+hh:mm`, `+hhmm`, or a trailing zone word such as `UTC`);
  zone-less text is read in the configured zone (`CONTEXT.tz`).
- `bsd(month, day, hms, received)`: the year-less syslog time, in the configured zone,
  with the year inferred from the reception time (a December line read in January is
  last year's).
- `epoch(value)`: seconds, milliseconds, microseconds or nanoseconds since 1970,
  told apart by magnitude.
- `filetime(value)`: Windows FILETIME (100 ns ticks since 1601-01-01 UTC).
- `clf(text)`: Apache/nginx `26/Dec/2016:16:16:29 +0200`.
- `parse_tz(text)`: `+0200`, `GMT-0200`, `GMT+2`, `UTC`, `Europe/Paris` -> tzinfo.

Results are memoised per input text (logs repeat the same second many times), which
is what keeps the syslog family above 100,000 lines/s; ISO and epoch times with a fraction
are memoised per second (the milliseconds are copied); `clear_caches()` is called when
the configured zone changes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from guetteur.parse.context import CONTEXT, on_configure

MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
MONTHS.update({k.capitalize(): v for k, v in list(MONTHS.items())})
MONTHS.update({k.upper(): v for k, v in list(MONTHS.items()) if k.islower()})

_CACHE_MAX = 8192
_iso_cache: dict[tuple[str, int], str | None] = {}
_bsd_cache: dict[tuple[str, str, str, str | None, str | None, int], str | None] = {}
_clf_cache: dict[str, str | None] = {}
_iso_second_cache: dict[tuple[str, int], str | None] = {}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TZ_OFFSET = re.compile(r"(?:GMT|UTC)?\s*([+-])(\d{1,2}):?(\d{2})?$")
_ZONE_WORD = re.compile(r"^(.*\d)\s*(UTC|GMT|Z|[A-Z]{3,4})$")


def clear_caches() -> None:
    """Forget memoised conversions (their result depends on the configured zone)."""
    _iso_cache.clear()
    _iso_second_cache.clear()
    _bsd_cache.clear()
    _clf_cache.clear()


on_configure(clear_caches)


def utc_text(moment: datetime) -> str:
    """An aware (or configured-zone naive) datetime as ECS `@timestamp` text."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CONTEXT.tz)
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:" \
           f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"


# Zone abbreviations seen in logs (PostgreSQL's %t/%m print them): fixed offsets.
_ABBREVIATIONS = {
    "CET": 1, "CEST": 2, "WET": 0, "WEST": 1, "EET": 2, "EEST": 3, "BST": 1, "IST": 5.5, "MSK": 3,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AEST": 10, "AEDT": 11, "JST": 9, "KST": 9, "HKT": 8, "SGT": 8, "NZST": 12, "NZDT": 13,
}


def parse_tz(text: str) -> tzinfo | None:
    """A zone from `+0200`, `-02:00`, `GMT-0200`, `GMT+2`, `UTC`, `Z`, `CEST` or an IANA name."""
    value = text.strip()
    if value in ("Z", "UTC", "GMT", "UT"):
        return UTC
    if value in _ABBREVIATIONS:
        return timezone(timedelta(hours=_ABBREVIATIONS[value]))
    m = _TZ_OFFSET.match(value)
    if m is not None:
        sign, hours, minutes = m.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta >= timedelta(hours=24):
            return None
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(value)
    except (ValueError, KeyError, OSError):
        return None


def parse_iso(text: str) -> datetime | None:
    """ISO 8601 text to an aware datetime (zone-less text: configured zone), or None."""
    value = text.strip()
    zone: tzinfo | None = None
    m = _ZONE_WORD.match(value)
    if m is not None and m.group(2) != "Z":
        # an unknown abbreviation: the configured zone is the best guess, not a lost event
        zone = parse_tz(m.group(2)) or CONTEXT.tz
        value = m.group(1)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or CONTEXT.tz)
    return moment


# An ISO time with a fraction of a second, not in the per-text memo (millisecond times rarely
# repeat): the same second (with its zone) is converted once
# and cached, the milliseconds are copied (the zone's offset is whole seconds, `fromisoformat`
# truncates the fraction: 42.4879999 is .487). ASCII digits only; anything else takes the
# general path.
_FRACTION = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2})[.,]([0-9]{1,9})"
    r"(Z|[+-][0-9]{2}(?::?[0-9]{2})?| ?[A-Z]{3,4}|)\Z"
)


def iso(text: str) -> str | None:
    """ISO 8601 text to `@timestamp` text, or None."""
    key = (text, id(CONTEXT.tz))
    found = _iso_cache.get(key, _iso_cache)
    if found is not _iso_cache:
        return found  # type: ignore[return-value]
    m = _FRACTION.match(text) if "." in text or "," in text else None
    if m is None:
        result = convert_iso(text)
    else:
        second = _iso_second(m.group(1) + m.group(3))
        result = None if second is None else f"{second[:20]}{(m.group(2) + '00')[:3]}Z"
    if len(_iso_cache) >= _CACHE_MAX:
        _iso_cache.clear()
    _iso_cache[key] = result
    return result


def _iso_second(text: str) -> str | None:
    """`convert_iso` of a time without fraction, memoised apart from `_iso_cache` (which
    millisecond times fill and clear)."""
    key = (text, id(CONTEXT.tz))
    found = _iso_second_cache.get(key, _iso_second_cache)
    if found is not _iso_second_cache:
        return found  # type: ignore[return-value]
    result = convert_iso(text)
    if len(_iso_second_cache) >= _CACHE_MAX:
        _iso_second_cache.clear()
    _iso_second_cache[key] = result
    return result


def convert_iso(text: str) -> str | None:
    """What `iso` returns, computed without any memo (the reference of its shortcuts)."""
    moment = parse_iso(text)
    try:
        return None if moment is None else utc_text(moment)
    except (OverflowError, ValueError):  # year 1 in a negative zone...
        return None


def infer_year(month: int, day: int, hms: tuple[int, int, int], micro: int, received: float,
               zone: tzinfo | None = None) -> datetime | None:
    """The moment `month day hh:mm:ss` in `zone` (default: configured) closest to `received`
    without being more than two days after it: a December line read in January is last year's."""
    tz = zone or CONTEXT.tz
    try:
        ref = datetime.fromtimestamp(received, tz)
        moment = datetime(ref.year, month, day, hms[0], hms[1], hms[2], micro, tz)
    except (ValueError, OverflowError, OSError):
        # Feb 29 outside a leap year: try the nearest leap year before reception.
        try:
            ref = datetime.fromtimestamp(received, tz)
        except (ValueError, OverflowError, OSError):
            return None
        for year in range(ref.year, ref.year - 8, -1):
            try:
                return datetime(year, month, day, hms[0], hms[1], hms[2], micro, tz)
            except ValueError:
                continue
        return None
    if moment - ref > timedelta(days=2):
        try:
            moment = moment.replace(year=ref.year - 1)
        except ValueError:
            return None
    return moment


def bsd(month: str, day: str, hms: str, received: float, year: str | None = None,
        fraction: str | None = None) -> str | None:
    """Syslog `Mmm dd hh:mm:ss[.ffffff] [yyyy]` to `@timestamp` text, or None."""
    key = (month, day, hms, year, fraction, int(received) // 3600)
    found = _bsd_cache.get(key, _bsd_cache)
    if found is not _bsd_cache:
        return found  # type: ignore[return-value]
    result: str | None = None
    mon = MONTHS.get(month) or MONTHS.get(month.lower())
    parts = hms.split(":")
    if mon is not None and len(parts) == 3 and all(p.isdigit() for p in parts) and day.isdigit():
        micro = int((fraction or "0").ljust(6, "0")[:6]) if (fraction or "0").isdigit() else 0
        hh, mi, ss = int(parts[0]), int(parts[1]), int(parts[2])
        try:
            if year is not None:
                moment: datetime | None = datetime(int(year), mon, int(day), hh, mi, ss, micro, CONTEXT.tz)
            else:
                moment = infer_year(mon, int(day), (hh, mi, ss), micro, received)
            result = None if moment is None else utc_text(moment)
        except (ValueError, OverflowError):
            result = None
    if len(_bsd_cache) >= _CACHE_MAX:
        _bsd_cache.clear()
    _bsd_cache[key] = result
    return result


_CLF = re.compile(r"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*([+-]\d{4})?$")


def clf(text: str) -> str | None:
    """Common Log Format time `26/Dec/2016:16:16:29 +0200` to `@timestamp` text, or None."""
    found = _clf_cache.get(text, _clf_cache)
    if found is not _clf_cache:
        return found  # type: ignore[return-value]
    result: str | None = None
    m = _CLF.match(text)
    if m is not None:
        day, mon, year, hh, mi, ss, frac, zone = m.groups()
        month = MONTHS.get(mon) or MONTHS.get(mon.lower())
        tz = parse_tz(zone) if zone else CONTEXT.tz
        if month is not None and tz is not None:
            try:
                micro = int((frac or "0").ljust(6, "0")[:6])
                result = utc_text(datetime(int(year), month, int(day), int(hh), int(mi), int(ss), micro, tz))
            except (ValueError, OverflowError):
                result = None
    if len(_clf_cache) >= _CACHE_MAX:
        _clf_cache.clear()
    _clf_cache[text] = result
    return result


def epoch(value: float | int | str) -> str | None:
    """Seconds / ms / µs / ns since 1970 (told apart by magnitude) to `@timestamp` text."""
    if isinstance(value, str):
        whole, dot, frac = value.strip().partition(".")
        if whole.isdigit() and (not dot or frac.isdigit()) and len(whole) <= 11:
            # exact decimal arithmetic: "1723109482.048" must not become .047999
            try:
                return _epoch_text(timedelta(seconds=int(whole), microseconds=int((frac or "0")[:6].ljust(6, "0"))))
            except (OverflowError, ValueError):
                return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    magnitude = abs(number)
    if magnitude >= 1e17:
        number /= 1e9
    elif magnitude >= 1e14:
        number /= 1e6
    elif magnitude >= 1e11:
        number /= 1e3
    try:
        return _epoch_text(timedelta(seconds=number))
    except (OverflowError, ValueError):
        return None


_epoch_cache: dict[tuple[int, int], str] = {}


def _epoch_text(delta: timedelta) -> str:
    """`utc_text(_EPOCH + delta)`, the second converted once (cached) and the milliseconds
    copied: the epoch has no fraction, so adding `delta`'s microseconds never changes the
    second. Raises OverflowError as the addition does."""
    key = (delta.days, delta.seconds)
    second = _epoch_cache.get(key)
    if second is None:
        second = utc_text(_EPOCH + timedelta(delta.days, delta.seconds))[:20]
        if len(_epoch_cache) >= _CACHE_MAX:
            _epoch_cache.clear()
        _epoch_cache[key] = second
    return f"{second}{delta.microseconds // 1000:03d}Z"


_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def filetime(value: int | str) -> str | None:
    """Windows FILETIME (100 ns intervals since 1601-01-01 UTC; decimal or 0x hex) to text."""
    try:
        ticks = int(value, 0) if isinstance(value, str) else int(value)
        return utc_text(_FILETIME_EPOCH + timedelta(microseconds=ticks // 10))
    except (TypeError, ValueError, OverflowError):
        return None


_CTIME = re.compile(
    r"(?:[A-Za-z]{3} )?([A-Za-z]{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? (\d{4})$")


def ctime(text: str) -> str | None:
    """`Mon Dec 26 16:22:08.123456 2016` (Apache error log, vsftpd) to `@timestamp` text."""
    found = _clf_cache.get(text, _clf_cache)
    if found is not _clf_cache:
        return found  # type: ignore[return-value]
    result: str | None = None
    m = _CTIME.match(text)
    if m is not None:
        mon, day, hh, mi, ss, frac, year = m.groups()
        month = MONTHS.get(mon) or MONTHS.get(mon.lower())
        if month is not None:
            try:
                micro = int((frac or "0").ljust(6, "0")[:6])
                result = utc_text(datetime(int(year), month, int(day), int(hh), int(mi), int(ss), micro, CONTEXT.tz))
            except (ValueError, OverflowError):
                result = None
    if len(_clf_cache) >= _CACHE_MAX:
        _clf_cache.clear()
    _clf_cache[text] = result
    return result
