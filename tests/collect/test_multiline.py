"""Multi-line records (collect/multiline.py, FileReader): real tracebacks and stack traces, bounds, hostile input."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from guetteur.collect.files import FileReader
from guetteur.collect.framing import LineFramer
from guetteur.collect.multiline import FirstLinePattern, Joiner, builtin_continues, join_lines, joiner_for
from guetteur.config import MultilineSettings

DATA = Path(__file__).parent / "data"


def records_of(name: str, multiline: MultilineSettings | None = None) -> list[str]:
    return [r.text() for r in FileReader([DATA / name], multiline=multiline)]


def test_python_tracebacks_join_their_log_line_chained_ones_included() -> None:
    records = records_of("python_tracebacks.log")
    assert len(records) == 4
    assert records[0].endswith("ALERTE SOC: user 42 accessed patient 17")
    failed = records[1]
    assert failed.startswith("2026-12-05") and "- ERROR - request failed\nTraceback (most recent call last):" in failed
    assert "The above exception was the direct cause of the following exception:" in failed
    assert failed.endswith("ValueError: patient lookup failed: 17")
    assert "~~~~~~^^^^^^^^^^^^^^" in failed  # 3.11 position markers are indented: kept
    chained = records[2]
    assert "During handling of the above exception" in chained
    assert chained.endswith("ValueError: invalid literal for int() with base 10: 'x'")
    assert records[3].endswith("- INFO - done")


def test_java_stack_traces_join_with_caused_by_and_more() -> None:
    records = records_of("java_stack_traces.log")
    assert len(records) == 4
    assert records[1].splitlines() == [
        "2026-12-05 10:00:01.456 ERROR [main] c.e.App - unhandled error",
        "java.lang.RuntimeException: request failed for user 42",
        "\tat App.handle(App.java:8)",
        "\tat App.main(App.java:13)",
        "Caused by: java.lang.IllegalStateException: patient 17 not found",
        "\tat App.load(App.java:5)",
        "\tat App.handle(App.java:7)",
        "\t... 1 more",
    ]
    assert records[2].splitlines()[1].startswith("java.lang.NullPointerException: Cannot invoke")


def test_indented_bsd_syslog_continuations_join() -> None:
    records = records_of("bsd_syslog_continuations.log")
    assert [r.splitlines()[0][16:30] for r in records] == [
        "mac-01 kernel[", "mac-01 sshd[55", "mac-01 com.app", "mac-01 sudo[90"]
    assert records[0].count("\n") == 3 and records[2].endswith("\n    Last exit status: 1")


def test_offsets_are_the_first_lines_and_lines_stay_apart_when_disabled() -> None:
    joined = list(FileReader([DATA / "java_stack_traces.log"]))
    raw = (DATA / "java_stack_traces.log").read_bytes()
    assert [r.meta["offset"] for r in joined if r.meta] == [
        raw.index(b"2026-12-05 10:00:0%d" % n) for n in range(4)]
    assert len(records_of("java_stack_traces.log", MultilineSettings(enabled=False))) == raw.count(b"\n")


def test_configured_first_line_pattern() -> None:
    """Records start at a timestamp; anything else (even unindented) continues them."""
    settings = MultilineSettings(first_line=r"\d{4}-\d{2}-\d{2} ")
    records = records_of("python_tracebacks.log", settings)
    assert len(records) == 4 and len(records[1].splitlines()) == 15  # its 17 lines but the 2 empty ones


def test_truncated_traceback_still_one_record() -> None:
    """A traceback cut short (the process died mid-write) is emitted at the end of the stream."""
    text = (DATA / "python_tracebacks.log").read_bytes()
    cut = text[: text.index(b"KeyError")]
    joiner = joiner_for(None, 1_048_576)
    framer = LineFramer(1_048_576)
    records = joiner.feed(framer.feed(cut)) + joiner.feed(framer.close()) + joiner.flush()
    assert len(records) == 2 and records[1][0].endswith(b"~~~~~~^^^^^^^^^^^^^^")


def test_never_ending_continuation_is_bounded_by_max_bytes_and_lines() -> None:
    """~1 GB of continuation lines streamed: no record passes max_bytes or max_lines, nothing is lost,
    and the joiner never holds more than one record."""
    joiner = Joiner(builtin_continues, max_lines=10_000, max_bytes=65_536)
    line = b"\tat com.example.Loop.spin(Loop.java:1) " + b"x" * 960  # 1,000 bytes
    chunk = [(line, 0, False)] * 1000
    lines_in = 1
    assert joiner.feed([(b"2026-12-05 ERROR boom", 0, False)]) == []
    biggest = 0
    for _ in range(1000):  # 1000 x 1000 lines x 1000 bytes = 1 GB
        emitted = joiner.feed(chunk)
        lines_in += len(chunk)
        biggest = max([biggest, *(len(data) for data, _, _ in emitted)])
        lines_in -= sum(data.count(b"\n") + 1 for data, _, _ in emitted)
        assert joiner.pending_lines <= 66  # bounded: what max_bytes lets one record hold
    assert biggest <= 65_536
    assert lines_in == joiner.pending_lines  # every line emitted or held: none lost
    by_lines = Joiner(builtin_continues, max_lines=3, max_bytes=1_000_000)
    records = by_lines.feed([(b"first", 0, False)] + [(b" more", 1, False)] * 7) + by_lines.flush()
    assert [r[0].count(b"\n") + 1 for r in records] == [3, 3, 2]


def test_timeout_flushes_the_record_held() -> None:
    joiner = Joiner(builtin_continues, timeout=1.0)
    assert joiner.feed([(b"line one", 0, False), (b"line two", 9, False)], now=100.0) == [(b"line one", 0, False)]
    assert not joiner.due(100.5) and joiner.due(101.0)
    assert joiner.flush() == [(b"line two", 9, False)] and joiner.pending_offset is None


def test_http_text_bodies_join_too() -> None:
    body = (DATA / "python_tracebacks.log").read_bytes().splitlines()
    assert len(join_lines([line for line in body if line], 1_048_576)) == 4


@given(st.lists(st.binary(max_size=200), max_size=60), st.integers(min_value=1, max_value=8),
       st.integers(min_value=64, max_value=600))
def test_any_input_every_line_kept_in_order_within_bounds(lines: list[bytes], max_lines: int, max_bytes: int) -> None:
    """Garbage in: the records, split again at the joins, give back exactly the lines, in order."""
    lines = [line.replace(b"\n", b"") for line in lines]
    joiner = Joiner(builtin_continues, max_lines=max_lines, max_bytes=max_bytes)
    records = joiner.feed([(line, i, False) for i, line in enumerate(lines)]) + joiner.flush()
    assert [part for data, _, _ in records for part in data.split(b"\n")] == lines
    for data, _, _ in records:
        parts = data.split(b"\n")
        assert len(parts) <= max_lines
        assert len(parts) == 1 or len(data) <= max_bytes


def test_first_line_pattern_is_anchored_at_the_start() -> None:
    continues = FirstLinePattern(r"\[\d+\]")
    assert not continues(b"[12] start") and continues(b"x [12] not a start")


def test_import_refuses_an_invalid_first_line_regex(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from guetteur.cli import app

    log = tmp_path / "app.log"
    log.write_text("line\n")
    result = CliRunner().invoke(app, ["import", str(log), "--first-line", "(unclosed"])
    assert result.exit_code == 2 and "invalid multiline first_line regex" in result.output
