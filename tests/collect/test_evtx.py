"""EVTX import: every record of a real file, and a damaged file read past its damage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guetteur.collect.evtx import EvtxStats, iter_evtx_records
from guetteur.model import RawRecord
from guetteur.parse import parse_record

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
# 3 used chunks (records 1-104, 105-210, 211-295) then empty ones
SPRAY = DATA / "logs/windows-evtx/deepbluecli/password-spray.evtx"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


def _record_id(record: RawRecord) -> int:
    return int(json.loads(record.text())["Event"]["System"]["EventRecordID"])


def test_reads_every_record_in_order() -> None:
    stats = EvtxStats(str(SPRAY))
    records = list(iter_evtx_records(_need(SPRAY), stats))
    assert stats.records == len(records) == 295
    assert stats.corrupt == 0
    ids = [_record_id(r) for r in records]
    assert ids == list(range(ids[0], ids[0] + 295))  # the log's own EventRecordIDs, consecutive here
    first = records[0]
    assert first.hint == "windows_evtx_import" and first.source == "import" and first.peer == str(SPRAY)
    assert first.meta is None  # the record id is in the record; no dict per record for it
    event = parse_record(first)
    assert event["event"]["dataset"] == "windows_evtx"
    assert event["log"]["file"]["path"] == str(SPRAY)
    assert event["winlog"]["record_id"] == str(json.loads(first.text())["Event"]["System"]["EventRecordID"])


def test_corrupt_chunk_is_counted_and_later_records_still_come(tmp_path: Path) -> None:
    """Bytes flipped inside the second chunk: it is reported (naming its records) and
    counted, the records of the first and third chunks are still imported."""
    data = bytearray(_need(SPRAY).read_bytes())
    chunk = 4096 + 65536 * 1  # file header, then 64 KiB chunks
    for offset in (chunk + 600, chunk + 5000):
        for i in range(40):
            data[offset + i] ^= 0xFF
    damaged = tmp_path / "damaged.evtx"
    damaged.write_bytes(bytes(data))

    stats = EvtxStats(str(damaged))
    records = list(iter_evtx_records(damaged, stats))
    ids = [_record_id(r) for r in records]
    assert stats.corrupt >= 1
    assert "105..210" in stats.errors[0]  # the library names the chunk's records (file numbering)
    assert stats.records == len(records) < 295
    first = _record_id(next(iter_evtx_records(SPRAY)))  # EventRecordID of file record 1
    assert set(range(first, first + 104)) <= set(ids)  # before the damage
    assert set(range(first + 210, first + 295)) <= set(ids)  # after it
    assert all("unparsed" not in parse_record(r).get("tags", []) for r in records)


def test_missing_and_non_evtx_files_are_reported_not_raised(tmp_path: Path) -> None:
    stats = EvtxStats("missing")
    assert list(iter_evtx_records(tmp_path / "missing.evtx", stats)) == []
    assert stats.corrupt == 1
    junk = tmp_path / "junk.evtx"
    junk.write_bytes(b"ElfFile\x00" + b"\xff" * 10_000)
    stats = EvtxStats(str(junk))
    assert list(iter_evtx_records(junk, stats)) == []
    assert stats.corrupt >= 1


def test_truncated_file_yields_the_complete_chunks(tmp_path: Path) -> None:
    data = _need(SPRAY).read_bytes()
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(data[: 4096 + 65536 * 1 + 1000])
    stats = EvtxStats(str(cut))
    records = list(iter_evtx_records(cut, stats))
    assert 0 < len(records) < 295
