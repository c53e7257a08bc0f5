"""Records that are not clean UTF-8 text keep their exact bytes for forensics.

`event.original` is text (PostgreSQL text holds neither invalid UTF-8 nor NUL), so such
bytes become U+FFFD there; the record's exact bytes are kept base64-encoded beside it.
"""

from __future__ import annotations

import base64
import time

from guetteur.model import RawRecord
from guetteur.parse import parse_batch, parse_record


def record(data: bytes, hint: str | None = None) -> RawRecord:
    return RawRecord(data, time.time(), "syslog-tcp", hint)


def test_invalid_utf8_keeps_the_exact_bytes_and_is_tagged() -> None:
    data = b"<38>Nov 21 08:40:01 web-01 sshd[1]: Failed password for r\xe9mi from 198.51.100.9 port 22 ssh2\xff"
    event = parse_record(record(data))
    assert "\ufffd" in event["event"]["original"]
    assert base64.b64decode(event["guetteur"]["original_base64"]) == data
    assert "invalid_utf8" in event["tags"]
    assert event["event"]["action"] == "ssh_login", "the parser still reads the rest of the line"


def test_nul_characters_keep_the_exact_bytes() -> None:
    data = b"app started\x00with a nul"
    event = parse_record(record(data))
    assert base64.b64decode(event["guetteur"]["original_base64"]) == data
    assert "nul_replaced" in event["tags"]


def test_clean_text_and_genuine_replacement_characters_carry_no_copy() -> None:
    for data in (b"plain line", "a real \ufffd in the text".encode()):
        event = parse_record(record(data))
        assert "guetteur" not in event
        assert "invalid_utf8" not in event.get("tags", [])


def test_batches_keep_the_exact_bytes_too() -> None:
    data = b"\xc3\x28 garbage \xfe"
    [event] = parse_batch([record(data)]).events
    assert base64.b64decode(event["guetteur"]["original_base64"]) == data
