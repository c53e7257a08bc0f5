"""Splitting ingest bodies: lines chunk by chunk, JSON arrays counted before they are decoded."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from guetteur.api.ingest_body import LineSplitter, split_json


def split_lines(chunks: list[bytes], max_record_bytes: int = 1024) -> list[bytes]:
    splitter = LineSplitter(max_record_bytes)
    lines: list[bytes] = []
    for chunk in chunks:
        lines += splitter.feed(chunk)
    return lines + splitter.close()


def test_lines_are_the_same_however_the_body_is_cut() -> None:
    """Every cut of a body into two chunks, including inside a CRLF, gives the whole-body lines."""
    body = b"first\r\nsecond\n\n  \nthird\r\n{\"a\": 1}\nlast without newline"
    expected = [b"first", b"second", b"third", b'{"a": 1}', b"last without newline"]
    for cut in range(len(body) + 1):
        assert split_lines([body[:cut], body[cut:]]) == expected, cut
    assert split_lines([bytes([byte]) for byte in body]) == expected


def test_an_unfinished_line_is_held_only_up_to_the_record_limit() -> None:
    """A 1 MB line sent in small chunks is held as its first bytes only, still longer than
    the record limit so that the route cuts it and tags it `truncated`."""
    lines = split_lines([b"x" * 1000] * 1000 + [b"\r\nnext\n"], max_record_bytes=100)
    assert [len(line) for line in lines] == [102, 4]


def test_a_json_array_is_split_into_compact_objects() -> None:
    """Brackets, commas and escaped quotes inside strings do not split an element."""
    document = b' [ {"a": "x,]}[{", "b": [1, 2, {"c": 3}]} ,\n {"d": "\\"],"}\n ] \n'
    assert split_json(document, 10, 1000) == [b'{"a":"x,]}[{","b":[1,2,{"c":3}]}', b'{"d":"\\"],"}']
    assert split_json(bytearray(b'{"a": 1}  '), 10, 1000) == [b'{"a":1}']
    assert split_json(b"[]", 10, 1000) == []


@pytest.mark.parametrize(("document", "reason"), [
    (b"[1]", "object"), (b"5", "object"), (b"", "object"), (b'[{}, "x"]', "object"),
    (b"[{},]", "empty element"), (b"[{},,{}]", "empty element"), (b"[{}] x", "after the end"),
    (b'[{"a": 1}', "unterminated"), (b'{"a":', "malformed"), (b'[{"a" 1}]', "malformed"),
])
def test_malformed_json_is_refused_with_400(document: bytes, reason: str) -> None:
    with pytest.raises(HTTPException) as refused:
        split_json(document, 10, 1000)
    assert refused.value.status_code == 400
    assert reason in refused.value.detail


def test_a_json_array_past_the_record_cap_is_refused_before_it_is_decoded() -> None:
    """At the cap it is accepted; one more element is a 413 naming the cap, found by the scanner
    even when the elements after the cap are not valid JSON (they were never decoded)."""
    assert len(split_json(b"[" + b",".join([b"{}"] * 10) + b"]", 10, 1000)) == 10
    with pytest.raises(HTTPException) as refused:
        split_json(b"[" + b",".join([b"{}"] * 11) + b", {not json at all", 10, 1000)
    assert refused.value.status_code == 413
    assert "at most 10" in refused.value.detail


def test_a_json_element_past_the_record_limit_is_kept_as_received_and_cut() -> None:
    assert split_json(b'[{"a": "' + b"x" * 50 + b'"}, {"b": 1}]', 10, 20) == [b'{"a": "' + b"x" * 14, b'{"b":1}']
