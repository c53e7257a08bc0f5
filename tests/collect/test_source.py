"""The source contract: every registered source type is a `Source`, built from the settings alone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from guetteur.collect.counters import ERROR_IO, SourceCounters
from guetteur.collect.sink import MemorySink
from guetteur.collect.source import SOURCE_TYPES, Source, build_sources, describe_sources, source_type
from guetteur.config import FileInput, Settings, SyslogSettings
from guetteur.model import PEER_ADDRESS, PEER_FILE, RawRecord
from guetteur.parse import parse_record


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, syslog=SyslogSettings(host="127.0.0.1", udp_port=0, tcp_port=0),
                    **overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(SOURCE_TYPES))
def test_every_source_type_keeps_the_contract(name: str, tmp_path: Path) -> None:
    """Each registered class builds from (settings, sink) and has every member of `Source`."""
    kind = source_type(name)
    settings = _settings(tmp_path, file_inputs=[FileInput(path=str(tmp_path / "*.log"))])
    source = kind(settings, MemorySink())
    assert isinstance(source, Source)
    assert isinstance(source.counters, SourceCounters) and source.counters.source == source.name
    assert source.peer_field in (PEER_ADDRESS, PEER_FILE)
    assert source.settings is not None
    assert isinstance(kind.enabled(settings), bool)


def test_file_source_only_when_file_inputs_are_configured(tmp_path: Path) -> None:
    plain = [s.name for s in build_sources(_settings(tmp_path), MemorySink())]
    assert "file" not in plain and "syslog-udp" in plain and "syslog-tcp" in plain
    tailing = build_sources(_settings(tmp_path, file_inputs=[FileInput(path=str(tmp_path / "*.log"))]),
                            MemorySink())
    assert "file" in [s.name for s in tailing]


async def test_descriptions_come_from_the_running_sources(tmp_path: Path) -> None:
    """The start-up info is the sources' own descriptions: bound ports, not positions in a list."""
    sources = build_sources(_settings(tmp_path), MemorySink())
    for source in sources:
        await source.start()
    try:
        info = describe_sources(sources)
        assert isinstance(info["syslog_udp"], int) and info["syslog_udp"] > 0
        assert isinstance(info["syslog_tcp"], int) and info["syslog_tcp"] > 0
    finally:
        for source in reversed(sources):
            await source.stop()


def test_peer_goes_where_the_source_declares() -> None:
    """`log.file.path` for a file source, `log.source.address` for a network one, whatever the input name."""
    by_file = parse_record(RawRecord("hello", time.time(), "my-own-files", None, "/var/log/x.log", None, PEER_FILE))
    by_net = parse_record(RawRecord("hello", time.time(), "my-own-net", None, "192.0.2.1:514"))
    assert by_file["log"]["file"]["path"] == "/var/log/x.log" and "source" not in by_file["log"]
    assert by_net["log"]["source"]["address"] == "192.0.2.1:514" and "file" not in by_net["log"]
    assert by_file["input"]["type"] == "my-own-files"


def test_errors_are_counted_by_type() -> None:
    counters = SourceCounters("x")
    counters.error(ERROR_IO)
    counters.error(ERROR_IO)
    counters.error("tls_handshake")
    snapshot = counters.as_dict()
    assert snapshot["errors"] == 3 and snapshot["errors_by_type"] == {"io": 2, "tls_handshake": 1}
    counters.error(ERROR_IO)
    assert snapshot["errors_by_type"] == {"io": 2, "tls_handshake": 1}  # a copy


def test_packed_batch_counts_its_records_not_its_header() -> None:
    """The health's `in_workers` counts records of packed batches (the header grew a peer_field)."""
    from guetteur.pipeline.transfer import batch_records, pack, unpack

    records = [RawRecord(b"x%d" % n, time.time(), "file", None, "/var/log/a.log", {"offset": n}, PEER_FILE)
               for n in range(3)]
    packed = pack(records)
    assert batch_records(packed) == 3
    assert [(r.data, r.peer_field) for r in unpack(packed)] == [(b"x0", PEER_FILE), (b"x1", PEER_FILE), (b"x2", PEER_FILE)]
