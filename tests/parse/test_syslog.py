"""Syslog envelope and time helpers: RFC 3164/5424 shapes, year inference, zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from guetteur.model import RawRecord
from guetteur.parse import parse_record, timefmt
from guetteur.parse.context import CONTEXT, set_timezone
from guetteur.parse.syslog import parse_envelope


@pytest.fixture
def paris():
    saved = CONTEXT.tz
    set_timezone(ZoneInfo("Europe/Paris"))
    yield
    set_timezone(saved)


def _at(year: int, month: int, day: int, hour: int = 12) -> float:
    return datetime(year, month, day, hour, tzinfo=UTC).timestamp()


def test_december_line_read_in_january_is_last_year() -> None:
    base, _msg, _prog = parse_envelope("Dec 31 23:59:58 h cron[1]: x", RawRecord("", _at(2026, 1, 1, 0), "f"))
    assert base["@timestamp"] == "2025-12-31T23:59:58.000Z"


def test_line_a_day_ahead_of_the_clock_stays_this_year() -> None:
    base, _msg, _prog = parse_envelope("Mar  2 10:00:00 h x: y", RawRecord("", _at(2026, 3, 1), "f"))
    assert base["@timestamp"] == "2026-03-02T10:00:00.000Z"


def test_configured_zone_applies_to_zoneless_times(paris: None) -> None:
    base, _msg, _prog = parse_envelope("Jul 14 12:00:00 h x: y", RawRecord("", _at(2026, 8, 1), "f"))
    assert base["@timestamp"] == "2026-07-14T10:00:00.000Z"
    base, _msg, _prog = parse_envelope("2026-01-10T12:00:00 h x: y", RawRecord("", 0, "f"))
    assert base["@timestamp"] == "2026-01-10T11:00:00.000Z"
    base, _msg, _prog = parse_envelope("2026-01-10T12:00:00+00:00 h x: y", RawRecord("", 0, "f"))
    assert base["@timestamp"] == "2026-01-10T12:00:00.000Z"


def test_rfc5424_with_structured_data() -> None:
    text = '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 42 ID47 [ex@32473 iut="3" a="b\\"c"] hi'
    base, msg, program = parse_envelope(text, RawRecord(text, 0, "f"))
    assert msg == "hi" and program == "evntslog"
    assert base["log"]["syslog"]["structured_data"] == {"ex@32473": {"iut": "3", "a": 'b"c'}}
    assert base["log"]["syslog"]["facility"]["name"] == "local4"
    assert base["log"]["level"] == "notice" and base["event"]["severity"] == 5
    assert base["process"] == {"name": "evntslog", "pid": 42}


@pytest.mark.parametrize(("line", "host", "program", "pid", "message"), [
    ("<34>Oct 11 22:14:15 mymachine su: 'su root' failed", "mymachine", "su", None, "'su root' failed"),
    ("Feb  5 13:07:52 plugh rsyslogd-2177: imuxsock begins", "plugh", "rsyslogd-2177", None, "imuxsock begins"),
    ("2015 Nov 13 13:40:01 ether rsyslogd-2177: imuxsock", "ether", "rsyslogd-2177", None, "imuxsock"),
    ("Dec 13 11:35:28 mac Google Chrome[85294]: objc: x", "mac", "Google Chrome", 85294, "objc: x"),
    ("Apr 4 03:39:57 --- last message repeated 1 time ---", None, None, None, "--- last message repeated 1 time ---"),
    ("Aug 18 07:30:25 192.168.1.5 sshd[20247]: [ID 800047 auth.notice] Failed none", "192.168.1.5", "sshd", 20247,
     "Failed none"),
])
def test_bsd_shapes(line: str, host: str | None, program: str | None, pid: int | None, message: str) -> None:
    base, msg, _prog = parse_envelope(line, RawRecord(line, _at(2026, 1, 1), "f"))
    assert base.get("host", {}).get("name") == host
    assert base.get("process", {}).get("name") == program
    assert base.get("process", {}).get("pid") == pid
    assert msg == message


@pytest.mark.parametrize("line", ["", "hello world", "<999>1 2003 x", "Foo 99 99:99:99 h x: y", "<12>"])
def test_not_syslog(line: str) -> None:
    assert parse_envelope(line, RawRecord(line, 0, "f")) is None


def test_generic_syslog_event_keeps_everything() -> None:
    event = parse_record(RawRecord("Jun  8 14:34:33 h myapp[12]: hello there", _at(2026, 6, 9), "file", "syslog"))
    assert event["message"] == "hello there"
    assert event["event"]["dataset"] == "syslog"
    assert event["event"]["original"] == "Jun  8 14:34:33 h myapp[12]: hello there"


def test_time_helpers() -> None:
    assert timefmt.epoch(1723109482.048) == "2024-08-08T09:31:22.048Z"
    assert timefmt.epoch("1723109482.048") == "2024-08-08T09:31:22.048Z"
    assert timefmt.epoch(1723109482048) == "2024-08-08T09:31:22.048Z"
    assert timefmt.epoch("nan") is None and timefmt.epoch("x") is None
    assert timefmt.filetime(133_000_000_000_000_000) == "2022-06-18T04:26:40.000Z"
    assert timefmt.filetime("0x01D8806E3F3E2000") is not None
    assert timefmt.clf("26/Dec/2016:16:16:29 +0200") == "2016-12-26T14:16:29.000Z"
    assert timefmt.ctime("Mon Dec 26 16:22:08.103786 2016") == "2016-12-26T16:22:08.103Z"
    assert timefmt.iso("2021-09-28 09:22:18.536 UTC") == "2021-09-28T09:22:18.536Z"
    assert timefmt.iso("2020-04-16T05:13:40.861934123Z") == "2020-04-16T05:13:40.861Z"
    assert timefmt.iso("not a time") is None
    assert timefmt.parse_tz("GMT-0200") == timezone(-timedelta(hours=2))
    assert timefmt.parse_tz("GMT+2") == timezone(timedelta(hours=2))
    assert timefmt.parse_tz("Nowhere/Else") is None


# The envelope's TAG part before the possessive quantifiers and the guard of the TAG with
# spaces (a speed change): both forms must accept the same lines with the same groups.
_TAIL_BEFORE = (
    r"(?:([^\s\",;]+) +)?([A-Za-z_./(][^\s\[\]:]{0,127}|[A-Za-z_][^\[\]:\n]{0,62}[^\s\[\]:](?=\[\d))(?:\[(\d{0,20})\])?"
    r"(?: \([^)\n]{0,256}\))?: ?(.*)"
)
# pieces that steer the TAG's matching: separators, brackets, pid digits, long runs
_TAIL_PIECES = ["", " ", "  ", "[", "]", ":", ": ", "[12]", "[]", "[1", " (", "(x)", ")", "\n", "\t", '"', ",", ";",
                "a", "sshd", "Google Chrome", "-", "_", ".", "/", "(", "0", "9", "é", "x" * 62, "y" * 63, "z" * 64,
                "w" * 127, "v" * 128, "u" * 129]


def _tail_texts() -> list[str]:
    import random

    rng = random.Random(9)
    texts = ["- WARNING - Slow query on /api/v1/patients/search: 3.35s", "UTC [24407] 10.0.0.5 LOG:  x",
             "host sshd[1]: msg", "host Google Chrome[85294]: x", "com.apple.xpc.launchd[1] (a[2]): x"]
    for _ in range(20_000):
        texts.append("".join(rng.choice(_TAIL_PIECES) for _ in range(rng.randint(1, 9))))
    return texts


def test_envelope_tail_matches_as_before() -> None:
    import re

    from guetteur.parse import syslog

    before = re.compile(_TAIL_BEFORE, re.DOTALL)
    now = re.compile(syslog._TAIL, re.DOTALL)
    agreed = 0
    for text in _tail_texts():
        old, new = before.match(text), now.match(text)
        assert (old is None) == (new is None), text
        if old is not None and new is not None:
            assert old.groups() == new.groups() and old.end() == new.end(), text
            agreed += 1
    assert agreed > 500  # the generated texts do reach the TAG forms
