"""Append-only events and the hash chain: the app role cannot change events; `verify` finds
every kind of tampering by the superuser and names the first broken batch."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable

import psycopg
import pytest
from psycopg import sql
from store_helpers import realistic_event
from typer.testing import CliRunner

from guetteur.cli import app
from guetteur.model import Event
from guetteur.store.chain import verify
from guetteur.store.writer import BatchReceipt, EventWriter

Make = Callable[..., Event]


def write_batches(dsn: str, make: Make, batches: int = 4, size: int = 50) -> list[BatchReceipt]:
    with EventWriter(dsn) as writer:
        return [writer.write_batch([make(b * size + i) for i in range(size)]) for b in range(batches)]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET host = 'x'",
        "DELETE FROM events",
        "TRUNCATE events",
        "UPDATE batches SET row_count = 0",
        "DELETE FROM batches",
        "TRUNCATE batches",
        "ALTER TABLE events DISABLE TRIGGER events_append_only",
        "CREATE TABLE events_29990101 PARTITION OF events FOR VALUES FROM ('2999-01-01') TO ('2999-01-02')",
        "SELECT * FROM app_role_secret",
    ],
)
def test_app_role_cannot_change_stored_events(app_dsn: str, make_event: Make, statement: str) -> None:
    write_batches(app_dsn, make_event, batches=1, size=3)
    with psycopg.connect(app_dsn) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("guetteur_app",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement.encode())


def test_app_role_cannot_change_a_partition_directly(fresh_app_dsn: str, make_event: Make) -> None:
    write_batches(fresh_app_dsn, make_event, batches=1, size=3)
    with psycopg.connect(fresh_app_dsn) as conn:
        part = conn.execute("SELECT tableoid::regclass::text FROM events LIMIT 1").fetchone()
        assert part is not None
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(part[0])))


def test_trigger_stops_even_the_owner(fresh_dsn: str, fresh_app_dsn: str, make_event: Make) -> None:
    write_batches(fresh_app_dsn, make_event, batches=1, size=3)
    with psycopg.connect(fresh_dsn) as conn:
        for statement in (b"UPDATE events SET host = 'x'", b"DELETE FROM events", b"TRUNCATE events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
            conn.rollback()


def test_verify_passes_on_a_clean_store(fresh_dsn: str, fresh_app_dsn: str, make_event: Make) -> None:
    assert verify(fresh_dsn).ok  # empty
    receipts = write_batches(fresh_app_dsn, make_event)
    report = verify(fresh_app_dsn)  # the app role may verify too
    assert report.ok
    assert (report.batches_checked, report.rows_checked) == (4, 200)
    assert report.head_hash == receipts[-1].chain_hash


def _tamper(dsn: str, *statements: str, batch: int = 0) -> None:
    """As the superuser, with triggers off (what an intruder with database access would do).
    `%(b)s` in a statement is the target batch id."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SET session_replication_role = replica")
        for statement in statements:
            conn.execute(statement.encode(), {"b": batch} if "%(b)s" in statement else None)


@pytest.mark.parametrize(
    ("statements", "reason"),
    [
        (["UPDATE events SET doc = jsonb_set(doc, '{message}', '\"nothing to see\"') WHERE id = (SELECT id FROM events WHERE batch_id = %(b)s ORDER BY id LIMIT 1)"],
         "rows changed"),
        (["UPDATE events SET source_ip = '192.0.2.1' WHERE id = (SELECT id FROM events WHERE batch_id = %(b)s ORDER BY id DESC LIMIT 1)"],
         "rows changed"),
        (["DELETE FROM events WHERE id = (SELECT id FROM events WHERE batch_id = %(b)s LIMIT 1)"], "rows deleted"),
        (["INSERT INTO events SELECT * FROM events WHERE batch_id = %(b)s LIMIT 1"], "rows added"),
        (["UPDATE batches SET row_count = row_count - 1 WHERE batch_id = %(b)s"], "batch record altered"),
        (["UPDATE batches SET content_hash = sha256('x') WHERE batch_id = %(b)s"], "batch record altered"),
        (["DELETE FROM batches WHERE batch_id = %(b)s"], "chain link broken"),
    ],
)
def test_verify_names_the_first_broken_batch(fresh_dsn: str, fresh_app_dsn: str, make_event: Make,
                                             statements: list[str], reason: str) -> None:
    receipts = write_batches(fresh_app_dsn, make_event)
    target = receipts[1].batch_id
    _tamper(fresh_dsn, *statements, batch=target)
    report = verify(fresh_dsn)
    assert not report.ok
    assert report.reason is not None and report.reason.startswith(reason), report.reason
    # a removed batch row is noticed at the batch that follows the gap
    expected = receipts[2].batch_id if reason == "chain link broken" else target
    assert report.first_broken_batch == expected
    assert report.batches_checked == 1


def test_a_recomputed_batch_still_breaks_the_next_link(fresh_dsn: str, fresh_app_dsn: str, make_event: Make) -> None:
    """Changing rows and re-sealing their batch with a fresh content and chain hash is caught
    by the next batch, whose prev_hash no longer matches."""
    receipts = write_batches(fresh_app_dsn, make_event)
    b = receipts[1].batch_id
    _tamper(fresh_dsn, "UPDATE events SET host = 'forged' WHERE batch_id = %(b)s",
            "UPDATE batches SET content_hash = (SELECT digest FROM guetteur_batch_digest(batch_id, stored_at)),"
            " chain_hash = sha256('forged') WHERE batch_id = %(b)s", batch=b)
    report = verify(fresh_dsn)
    assert not report.ok and report.first_broken_batch == b  # its own chain hash no longer matches


def test_rows_outside_any_batch_are_reported(fresh_dsn: str, fresh_app_dsn: str, make_event: Make) -> None:
    receipts = write_batches(fresh_app_dsn, make_event, batches=2)
    _tamper(fresh_dsn, "INSERT INTO events (id, ts, batch_id, doc) SELECT gen_random_uuid(), now(), 999999, '{}'"
                       " FROM generate_series(1, 2)")
    report = verify(fresh_dsn)
    assert not report.ok and report.first_broken_batch is None
    assert report.reason is not None and "999999" in report.reason
    assert report.batches_checked == len(receipts)


def test_cli_verify_exit_codes(fresh_dsn: str, fresh_app_dsn: str, make_event: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    receipts = write_batches(fresh_app_dsn, make_event, batches=3)
    monkeypatch.setenv("GUETTEUR_DATABASE_URL", fresh_dsn)
    runner = CliRunner()
    ok = runner.invoke(app, ["verify"])
    assert ok.exit_code == 0, ok.output
    assert receipts[-1].chain_hash in ok.output
    _tamper(fresh_dsn, "DELETE FROM events WHERE batch_id = %(b)s", batch=receipts[2].batch_id)
    broken = runner.invoke(app, ["verify"])
    assert broken.exit_code == 1
    assert f"batch {receipts[2].batch_id}" in broken.output and "rows deleted" in broken.output


def _writer_process(dsn: str, offset: int, batches: int) -> None:
    with EventWriter(dsn) as writer:
        for b in range(batches):
            writer.write_batch([realistic_event(offset + b * 40 + i) for i in range(40)])


def test_concurrent_writers_keep_one_valid_chain(fresh_dsn: str, fresh_app_dsn: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer_process, args=(fresh_app_dsn, n * 100_000, 15)) for n in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    report = verify(fresh_dsn)
    assert report.ok, report.reason
    assert (report.batches_checked, report.rows_checked) == (30, 1200)
    with psycopg.connect(fresh_dsn) as conn:
        seqs = [r[0] for r in conn.execute("SELECT seq FROM batches ORDER BY seq")]
        writers = conn.execute("SELECT count(DISTINCT (doc->'process'->>'pid')::int / 100000) FROM events").fetchone()
    assert seqs == list(range(1, 31))
    assert writers == (2,)
