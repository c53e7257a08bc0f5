"""The RFC 6587 stream framer and the file line framer, without sockets.

The property tests prove the framers do not depend on how the bytes are cut into
chunks (TCP and file reads cut anywhere), and that memory stays bounded.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guetteur.collect.framing import LineFramer, StreamFramer


def frame_all(data: bytes, sizes: list[int], limit: int) -> list[tuple[bytes, bool]]:
    """Feed `data` cut into chunks of the given sizes (cycled), then close."""
    framer = StreamFramer(limit)
    out: list[tuple[bytes, bool]] = []
    pos, i = 0, 0
    while pos < len(data):
        size = sizes[i % len(sizes)] if sizes else len(data)
        out += framer.feed(data[pos : pos + size])
        assert framer.pending_bytes <= limit + 12, "framer holds more than one record"
        pos += size
        i += 1
    return out + framer.close()


def lines_all(data: bytes, sizes: list[int], limit: int) -> list[tuple[bytes, int, bool]]:
    framer = LineFramer(limit)
    out: list[tuple[bytes, int, bool]] = []
    pos, i = 0, 0
    while pos < len(data):
        size = sizes[i % len(sizes)] if sizes else len(data)
        out += framer.feed(data[pos : pos + size])
        assert framer.pending_bytes <= limit + 1
        pos += size
        i += 1
    return out + framer.close()


# -- StreamFramer: examples ---------------------------------------------------------------


def test_newline_framing_strips_lf_and_crlf_and_skips_empty_lines() -> None:
    assert frame_all(b"<13>a\nb\r\n\n\r\nc\n", [], 100) == [(b"<13>a", False), (b"b", False), (b"c", False)]


def test_octet_counting_keeps_newlines_inside_the_frame() -> None:
    assert frame_all(b"11 hello\nworld5 <13>x", [], 100) == [(b"hello\nworld", False), (b"<13>x", False)]


def test_mixed_framings_in_one_stream() -> None:
    data = b"5 first<13>second\n6 third!\n<14>fourth\n"
    assert frame_all(data, [], 100) == [
        (b"first", False),
        (b"<13>second", False),
        (b"third!", False),
        (b"<14>fourth", False),
    ]


def test_digits_not_followed_by_a_space_are_a_line() -> None:
    data = b"2024-05-01 12:00:00 app started\n0 zero is no length\n12345678901 eleven digits\n"
    assert [r for r, _ in frame_all(data, [], 100)] == [
        b"2024-05-01 12:00:00 app started",
        b"0 zero is no length",
        b"12345678901 eleven digits",
    ]


def test_long_line_is_cut_and_the_rest_discarded() -> None:
    data = b"x" * 50 + b"\nnext\n"
    assert frame_all(data, [7], 10) == [(b"x" * 10, True), (b"next", False)]


def test_line_of_exactly_the_limit_is_not_cut_even_with_crlf() -> None:
    for sizes in ([], [1], [10], [11]):
        assert frame_all(b"0123456789\r\nz\n", sizes, 10) == [(b"0123456789", False), (b"z", False)]


def test_octet_frame_announcing_more_than_the_limit() -> None:
    data = b"30 " + b"a" * 30 + b"<13>after\n"
    assert frame_all(data, [4], 10) == [(b"a" * 10, True), (b"<13>after", False)]


def test_huge_announced_length_discards_everything_after_the_cut() -> None:
    framer = StreamFramer(16)
    out = framer.feed(b"9999999999 " + b"b" * 20)
    assert out == [(b"b" * 16, True)]
    for _ in range(100):  # the announced 10 GB never accumulate
        assert framer.feed(b"c" * 100_000) == []
        assert framer.pending_bytes == 0
    assert framer.truncated == 1


def test_short_octet_frame_at_close_is_emitted_truncated() -> None:
    assert frame_all(b"100 only this", [3], 1000) == [(b"only this", True)]
    assert frame_all(b"100 ", [], 1000) == []  # a header alone is no record


def test_unterminated_line_at_close_is_emitted_whole() -> None:
    assert frame_all(b"a\nlast line", [2], 100) == [(b"a", False), (b"last line", False)]
    assert frame_all(b"42", [1], 100) == [(b"42", False)]  # digits alone: a line, not a length


def test_binary_and_invalid_utf8_pass_through_unchanged() -> None:
    garbage = bytes(range(256)).replace(b"\n", b"")
    out = frame_all(b"\xff\xfe\xc3(\n" + garbage + b"\n", [5], 1000)
    assert out == [(b"\xff\xfe\xc3(", False), (garbage.rstrip(b"\r"), False)]


def test_invalid_limit_is_refused() -> None:
    with pytest.raises(ValueError):
        StreamFramer(0)
    with pytest.raises(ValueError):
        LineFramer(0)


# -- StreamFramer: properties -------------------------------------------------------------

_text = st.binary(min_size=1, max_size=40).filter(
    lambda b: b"\n" not in b and b.rstrip(b"\r") != b"" and not b[:1].isdigit()
)
_frame = st.one_of(
    st.tuples(st.just("line"), _text),
    st.tuples(st.just("octet"), st.binary(min_size=1, max_size=60)),
)


@settings(max_examples=300, deadline=None)
@given(frames=st.lists(_frame, max_size=20), sizes=st.lists(st.integers(1, 70), max_size=8), limit=st.integers(8, 50))
def test_records_survive_any_chunking(frames: list[tuple[str, bytes]], sizes: list[int], limit: int) -> None:
    """A stream built from known records gives back exactly those records (cut at the
    limit), whatever the chunk boundaries."""
    stream = b""
    expected: list[tuple[bytes, bool]] = []
    for kind, payload in frames:
        if kind == "line":
            stream += payload + b"\n"
            body = payload[:-1] if payload.endswith(b"\r") else payload
        else:
            stream += str(len(payload)).encode() + b" " + payload
            body = payload
        expected.append((body[:limit], len(body) > limit))
    assert frame_all(stream, sizes, limit) == expected


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400), sizes=st.lists(st.integers(1, 64), min_size=1, max_size=8), limit=st.integers(4, 40))
def test_arbitrary_bytes_frame_the_same_in_any_chunks(data: bytes, sizes: list[int], limit: int) -> None:
    """Garbage included: chunked feeding equals feeding everything at once, and no
    record is ever longer than the limit."""
    whole = frame_all(data, [], limit)
    assert frame_all(data, sizes, limit) == whole
    assert all(len(record) <= limit for record, _ in whole)


# -- LineFramer ---------------------------------------------------------------------------


def test_line_offsets_point_at_line_starts() -> None:
    data = b"ab\ncd\r\n\nlonglonglonglong\nx\nyy"
    assert lines_all(data, [3], 10) == [
        (b"ab", 0, False),
        (b"cd", 3, False),
        (b"longlonglo", 8, True),
        (b"x", 25, False),
        (b"yy", 27, False),
    ]


def test_resume_offset_is_the_start_of_the_unfinished_line() -> None:
    framer = LineFramer(100, offset=1000)
    assert framer.feed(b"one\ntw") == [(b"one", 1000, False)]
    assert framer.resume_offset == 1004
    assert framer.position == 1006
    assert framer.feed(b"o\n") == [(b"two", 1004, False)]
    assert framer.resume_offset == 1008


def test_resume_inside_a_cut_line_skips_its_rest() -> None:
    framer = LineFramer(4)
    assert framer.feed(b"0123456789") == [(b"0123", 0, True)]
    assert framer.skipping and framer.resume_offset == 10
    resumed = LineFramer(4, offset=framer.resume_offset, skipping=True)
    assert resumed.feed(b"abc\nok\n") == [(b"ok", 14, False)]


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400), sizes=st.lists(st.integers(1, 64), min_size=1, max_size=8), limit=st.integers(2, 40))
def test_lines_are_the_same_in_any_chunks(data: bytes, sizes: list[int], limit: int) -> None:
    whole = lines_all(data, [], limit)
    assert lines_all(data, sizes, limit) == whole
    for record, offset, cut in whole:
        # each record is what the file holds at its offset
        assert data[offset : offset + len(record)] == record
        rest = data[offset + len(record) :]
        line_ends_here = rest in (b"", b"\r") or rest.startswith((b"\n", b"\r\n"))
        assert cut == (len(record) == limit and not line_ends_here)


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=300), stop_at=st.integers(0, 300), limit=st.integers(2, 40))
def test_resuming_at_the_saved_offset_neither_repeats_nor_skips(data: bytes, stop_at: int, limit: int) -> None:
    """Stop reading anywhere, restart from (resume_offset, skipping): the records of both
    runs are exactly those of one uninterrupted run. This is what file offsets rely on."""
    stop_at = min(stop_at, len(data))
    first = LineFramer(limit)
    before = first.feed(data[:stop_at])
    resumed = LineFramer(limit, offset=first.resume_offset, skipping=first.skipping)
    after = resumed.feed(data[first.resume_offset :]) + resumed.close()
    assert before + after == lines_all(data, [], limit)
