"""How KQL values are read, shared by the SQL compiler and the Python evaluator.

- numbers: a value that is a JSON number also compares as a number;
- dates (`@timestamp`): Elasticsearch's `strict_date_optional_time||epoch_millis` with its
  rounding of missing parts, as a half-open interval [start, end) of the smallest unit given
  (`2024-03-05` is the whole day, `2024-03` the month); no offset means UTC; `now`, `now-15m`,
  `now/d` (date math on `now` only);
- addresses: an IP address or a CIDR network (IPv6 quoted, since `:` is special);
- `message` tokens: lower-cased runs of word characters (letters, digits, `_`), joined by a
  single `.` between word characters (`10.0.0.5`, `www.example.org` stay one token, as with
  Elasticsearch's standard analyzer); no stemming, no accent folding.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation

from guetteur.search.kql import KqlError, Text

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})(?:T(?P<h>\d{2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})"
    r"(?:[.,](?P<f>\d{1,9}))?)?)?)?)?)?(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?"
)
_EPOCH_MILLIS = re.compile(r"-?\d{5,}")
_NOW = re.compile(r"(?i:now)(?P<math>(?:[+-]\d{1,6}[yMwdhHms])*)(?:/(?P<round>[yMwdhHms]))?")
_MATH = re.compile(r"([+-])(\d{1,6})([yMwdhHms])")
TOKEN = r"\w+(?:\.\w+)*"
_TOKEN = re.compile(TOKEN)
_WILD_TOKEN = re.compile(r"[\w*]+(?:\.[\w*]+)*")
SMALLINT = range(-32768, 32768)


def as_number(text: str) -> Decimal | None:
    """`text` as a number when it is a JSON number."""
    if len(text) > 100 or not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        return None


def as_network(text: str) -> Network | None:
    """`text` as a network (an address is a /32 or /128), or None."""
    if len(text) > 64:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    return moment.replace(year=year, month=month + 1, day=1)


def _shift(moment: datetime, sign: int, amount: int, unit: str) -> datetime:
    if unit in ("y", "M"):
        months = sign * amount * (12 if unit == "y" else 1)
        return _add_months(moment, months).replace(day=min(moment.day, 28))
    seconds = {"w": 604800, "d": 86400, "h": 3600, "H": 3600, "m": 60, "s": 1}[unit]
    return moment + timedelta(seconds=sign * amount * seconds)


def _floor(moment: datetime, unit: str) -> tuple[datetime, datetime]:
    if unit == "y":
        start = moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        return start, _add_months(start, 12)
    if unit == "M":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return start, _add_months(start, 1)
    if unit == "w":
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=moment.weekday())
        return day, day + timedelta(days=7)
    if unit == "d":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    if unit in ("h", "H"):
        start = moment.replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=1)
    if unit == "m":
        start = moment.replace(second=0, microsecond=0)
        return start, start + timedelta(minutes=1)
    start = moment.replace(microsecond=0)
    return start, start + timedelta(seconds=1)


def date_interval(value: Text, now: datetime) -> tuple[datetime, datetime]:
    """The interval [start, end) a date value stands for. Raises KqlError."""
    text = value.plain.strip()
    try:
        return _date_interval(text, now)
    except (ValueError, OverflowError):
        raise KqlError(f"not a date: {text[:40]!r} (ISO 8601 like 2024-03-05T10:00:00Z, or now-15m)",
                       value.position) from None


def _date_interval(text: str, now: datetime) -> tuple[datetime, datetime]:
    if m := _NOW.fullmatch(text):
        moment = now.astimezone(UTC)
        for sign, amount, unit in _MATH.findall(m["math"]):
            moment = _shift(moment, -1 if sign == "-" else 1, int(amount), unit)
        if m["round"]:
            return _floor(moment, m["round"])
        return moment, moment + timedelta(microseconds=1)
    if _EPOCH_MILLIS.fullmatch(text):
        start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(text))
        return start, start + timedelta(milliseconds=1)
    m = _DATE.fullmatch(text)
    if m is None:
        raise ValueError(text)
    tz: tzinfo = UTC
    if m["tz"] and m["tz"] != "Z":
        raw = m["tz"].replace(":", "")
        sign = -1 if raw[0] == "-" else 1
        hours, minutes = int(raw[1:3]), int(raw[3:5] or 0)
        if hours > 23 or minutes > 59:
            raise ValueError(text)
        tz = timezone(timedelta(minutes=sign * (hours * 60 + minutes)))
    fraction = m["f"] or ""
    micro = int((fraction + "000000")[:6]) if fraction else 0
    start = datetime(int(m["y"]), int(m["mo"] or 1), int(m["d"] or 1), int(m["h"] or 0), int(m["mi"] or 0),
                     int(m["s"] or 0), micro, tzinfo=tz).astimezone(UTC)
    if fraction:
        step = timedelta(microseconds=10 ** max(0, 6 - len(fraction)))
    elif m["s"]:
        step = timedelta(seconds=1)
    elif m["mi"]:
        step = timedelta(minutes=1)
    elif m["h"]:
        step = timedelta(hours=1)
    elif m["d"]:
        step = timedelta(days=1)
    elif m["mo"]:
        local = start.astimezone(tz)
        return start, _add_months(local, 1).astimezone(UTC)
    else:
        local = start.astimezone(tz)
        return start, _add_months(local, 12).astimezone(UTC)
    return start, start + step


def tokens(text: str) -> list[str]:
    """The `message` tokens of `text`."""
    return _TOKEN.findall(text.lower())


def wildcard_tokens(value: Text) -> list[str]:
    """Token patterns of a wildcard value on `message`: `*` inside a token matches any token
    characters."""
    text = "".join("*" if p is None else p.replace("*", " ") for p in value.parts).lower()
    return [t for t in _WILD_TOKEN.findall(text) if t.strip("*.")]
