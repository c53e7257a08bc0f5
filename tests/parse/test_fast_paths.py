"""The parsing fast paths give exactly what the slow, general code gives.

Each shortcut taken for speed (issue 9) is checked here against the code it stands in
for, on random and hostile input: an address packed without `ipaddress`, the JSON
depth walk skipped when the text cannot nest that deep, a mangled netfilter MAC, PostgreSQL's
level marker and sniff found by string scans instead of regexes.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from guetteur.parse import (
    MAX_JSON_DEPTH,
    _depth_ok,
    cisco_asa,
    decode_json_object,
    postgresql,
    timefmt,
    web_access,
)
from guetteur.parse.community_id import community_id, packed_ip
from guetteur.parse.context import CONTEXT, set_timezone
from guetteur.parse.netfilter import parse_netfilter_message
from guetteur.parse.postgresql import level_marker, sniff_stderr


def _reference_packed(text: str) -> bytes | None:
    try:
        return ipaddress.ip_address(text).packed
    except ValueError:
        return None


_octet = st.one_of(
    st.integers(min_value=0, max_value=300).map(str),
    st.sampled_from(["00", "01", "007", "0255", "256", "-1", "+1", " 1", "1 ", "", "1_0", "0x1", "٣", "１"]),
)
_quads = st.lists(_octet, min_size=3, max_size=5).map(".".join)
_hostile = st.sampled_from([
    "1.2.3.4\n", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4.", ".1.2.3.4", "1..2.3", "255.255.255.255", "0.0.0.0",
    "::", "::1", "::ffff:1.2.3.4", "fe80::1%eth0", "[::1]", "2001:db8::1", "1:2:3:4:5:6:7:8:9", "",
    "1.2.3.4/24", "01.02.03.04", "١.٢.٣.٤",
])


@settings(max_examples=1500, deadline=None)
@given(text=st.one_of(_quads, _hostile, st.text(alphabet="0123456789.:abcdefABCDEF%[] \n", max_size=45),
                      st.text(max_size=20)))
def test_packed_ip_accepts_and_rejects_exactly_as_ipaddress(text: str) -> None:
    """The dotted-quad fast path packs what `ipaddress` packs and refuses what it refuses
    (leading zeros, octets over 255, non-ASCII digits, trailing newline or space...)."""
    assert packed_ip(text) == _reference_packed(text)


def test_community_id_of_a_known_flow_is_unchanged() -> None:
    """The spec's TCP example (community-id-spec baseline): same id, both directions."""
    expected = "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
    assert community_id("tcp", "128.232.110.120", "66.35.250.204", 34855, 80) == expected
    assert community_id("tcp", "66.35.250.204", "128.232.110.120", 80, 34855) == expected
    assert community_id("tcp", "01.2.3.4", "1.2.3.4", 1, 2) is None


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(alphabet="{}[]\"\\ax", max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=40,
)


def _nest(value: object, depth: int) -> object:
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@settings(max_examples=300, deadline=None)
@given(value=_json_values, depth=st.integers(min_value=0, max_value=MAX_JSON_DEPTH + 3))
def test_json_depth_limit_is_the_same_with_the_bracket_count_shortcut(value: object, depth: int) -> None:
    """An object is refused exactly when walking it finds nesting past the limit, whether or
    not the walk was skipped because the text holds too few brackets to nest that deep."""
    obj = {"root": _nest(value, depth)}
    text = orjson.dumps(obj).decode()
    decoded = decode_json_object(text)
    assert (decoded is not None) == _depth_ok(obj)


def test_netfilter_line_with_a_mangled_ether_type_is_still_parsed() -> None:
    """A MAC whose ether type is not hex (a corrupted line) used to make the parser raise,
    leaving a half-filled generic event; now the event is parsed without `ether_type`."""
    message = ("[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:z0 SRC=192.0.2.75 "
               "DST=192.0.2.1 LEN=60 TTL=52 ID=1 DF PROTO=TCP SPT=48242 DPT=8080 WINDOW=64240 RES=0x00 SYN URGP=0")
    event = parse_netfilter_message(message, {"host": {"name": "fw"}})
    assert event is not None
    assert "ether_type" not in event["iptables"]
    assert event["source"]["mac"] == "52-54-00-AB-CD-EF" and event["destination"]["port"] == 8080
    assert event["iptables"]["tcp"] == {"flags": ["SYN"], "reserved_bits": 0, "window": 64240}


# PostgreSQL's level marker and sniff before the string scans (issue 9): the reference regexes
_PG_LEVEL_BEFORE = re.compile(
    r"(?:^|[\s:\]])(LOG|ERROR|FATAL|PANIC|WARNING|NOTICE|INFO|DEBUG[1-5]?|STATEMENT|DETAIL|HINT|CONTEXT|"
    r"LOCATION|QUERY):  ?"
)
_PG_PIECES = st.sampled_from([
    "2026-04-06 16:21:00", "2026-04-06 16:21:00.123 UTC", "٢٠٢٦-04-06 16:21:00", " ", "  ", ":", ": ", ":  ", "]", "[",
    "\n", "\t", "\u2003", "_", "x", "é", "[24407]", "LOG", "ERROR", "DEBUG", "DEBUG1", "DEBUG7", "CONTEXT", "QUERY",
    "STATEMENT", "HINT", "XLOG", "LOGX", "user@db", "10.0.0.5", "a" * 90, "b" * 150, "connection received",
])
_pg_texts = st.lists(_PG_PIECES, min_size=1, max_size=14).map("".join)
# shaped like a line: something or nothing, the time, a prefix, a marker (or a near miss), the rest
_pg_lines = st.tuples(
    st.sampled_from(["", "x ", "\n", "a" * 130]), st.sampled_from(["2026-04-06 16:21:00", "2026-04-06 16:21:00.5 UTC"]),
    _pg_texts, st.sampled_from([" LOG:  ", "]ERROR:  ", "_HINT:  ", " WARNING: ", "XLOG:  ", " QUERY:  ", ""]), _pg_texts,
).map("".join)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(_pg_texts, _pg_lines), st.sampled_from([300, 400, 5, 23, 10_000]))
def test_postgresql_level_marker_is_the_regex(text: str, endpos: int) -> None:
    m = _PG_LEVEL_BEFORE.search(text, 0, endpos)
    found = level_marker(text, endpos)
    assert (None if m is None else (m.start(), m.start(1), m.group(1), m.end())) == found


@settings(max_examples=2000, deadline=None)
@given(st.one_of(_pg_texts, _pg_lines))
def test_postgresql_sniff_is_the_regex(text: str) -> None:
    head = text[:400]
    before = ":  " in head and "-" in head[:140] and postgresql._SNIFF.match(text) is not None
    assert sniff_stderr(text) == before
    if postgresql._sniffed_at_start(text):  # the shortcut only says yes when the regex does
        assert postgresql._SNIFF.match(text) is not None


_ACCESS_PIECES = st.sampled_from([
    "10.0.0.1", "-", " ", "  ", "[", "]", "] ", "[05/Dec/2026:19:50:42 +0000]", "[5/Dec/2026:", "[123/", "[1/", "[12/",
    "[٣/Dec/2026:", "/", '"', '"GET / HTTP/1.1"', "user", "\t", "\n", "x" * 40,
])


@settings(max_examples=2000, deadline=None)
@given(st.lists(_ACCESS_PIECES, min_size=1, max_size=16).map("".join))
def test_access_sniff_is_the_regex(text: str) -> None:
    before = web_access._SNIFF.match(text) is not None or (
        text.startswith("[") and "] " in text[:40] and '"' in text)
    assert web_access.sniff_access(text) == before


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["%ASA-", "%FTD-", "%PIX-", "%FWSM-", "%", "ASA-", " ", "x"]), max_size=6).map("".join))
def test_cisco_sniff_is_the_substring_test(text: str) -> None:
    before = "%ASA-" in text or "%FTD-" in text or "%PIX-" in text or "%FWSM-" in text
    assert cisco_asa._sniff(text) == before


# times with a fraction converted once per second (issue 9): the general path is the reference
_ISO_PARTS = st.tuples(
    st.sampled_from(["2026-12-05", "2026-03-29", "2026-10-25", "0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01"]),
    st.sampled_from(["T", " "]),
    st.sampled_from(["19:50:42", "00:00:00", "01:59:59", "02:00:00", "02:30:00", "02:59:59", "03:00:00", "23:59:59",
                     "24:00:00", "12:60:00"]),
    st.sampled_from([".", ","]),
    st.text("0123456789", min_size=1, max_size=10),
    st.sampled_from(["", "Z", "+01:00", "-0100", "+14", "-23:59", " UTC", "UTC", " CEST", "XYZ", " EST", "ZZ", "\n",
                     " ", "+24:00", "Z "]),
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_ISO_PARTS, st.sampled_from(["UTC", "Europe/Paris", "America/St_Johns"]))
def test_iso_with_fraction_is_the_general_conversion(text: str, zone: str) -> None:
    saved = CONTEXT.tz
    set_timezone(ZoneInfo(zone))
    try:
        assert timefmt.iso(text) == timefmt.convert_iso(text)
        assert timefmt.iso(text) == timefmt.convert_iso(text)  # memoised
    finally:
        set_timezone(saved)


def _reference_epoch(number: float) -> str | None:
    try:
        return timefmt.utc_text(timefmt._EPOCH + timedelta(seconds=number))
    except (OverflowError, ValueError):
        return None


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.floats(min_value=-7e10, max_value=9.9e10), st.integers(min_value=-7 * 10**10, max_value=99 * 10**9),
                 st.sampled_from([1796500242.487155, 1796500242.9999999, -0.0005, -1.5, 0.0, 99999999999.9999])))
def test_epoch_seconds_are_the_general_conversion(number: float) -> None:
    assert timefmt.epoch(number) == _reference_epoch(number)
    text = f"{abs(number):.6f}"  # the text path: exact decimal digits
    whole, _, frac = text.partition(".")
    reference = timefmt.utc_text(timefmt._EPOCH + timedelta(seconds=int(whole), microseconds=int(frac)))
    assert timefmt.epoch(text) == reference
