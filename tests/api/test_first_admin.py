"""No default password: the first `guetteur up` creates an admin with a random password printed
once; `guetteur users ...` manages people from the command line, with each change audited."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import httpx
import psycopg
import pytest
from tests.conftest import free_port
from tests.e2e.guetteur_process import GuetteurProcess, guetteur_env, start_guetteur
from typer.testing import CliRunner

from guetteur.cli import app
from guetteur.store.audit import verify_audit_chain
from guetteur.store.users import list_users_sync

_PRINTED = re.compile(r"^  user: +(\S+)\n  password: (\S+)$", re.MULTILINE)


def _stop(running: GuetteurProcess) -> None:
    running.proc.send_signal(signal.SIGTERM)
    running.proc.wait(timeout=120)


def test_first_start_creates_an_admin_with_a_password_printed_once(tmp_path: Path, fresh_dsn: str) -> None:
    """`guetteur up` on a database without an admin prints `admin` and a random password; that
    password logs in (with TOTP enrolment required); a second start prints none and keeps it."""
    env = guetteur_env(tmp_path / "data", fresh_dsn, free_port(), free_port(), GUETTEUR_PIPELINE__WORKERS="1")
    running = start_guetteur(env, tmp_path / "up.log")
    try:
        printed = _PRINTED.findall(running.log())
        assert len(printed) == 1, running.log()[-2000:]
        name, password = printed[0]
        assert name == "admin" and len(password) >= 20
        answer = httpx.post(f"{running.base_url}/api/v1/auth/login", json={"username": name, "password": password},
                            timeout=30)
        assert answer.status_code == 200 and answer.json()["totp_enrolment_required"] is True
    finally:
        _stop(running)
    again = start_guetteur(env, tmp_path / "up2.log")
    try:
        assert _PRINTED.findall(again.log()) == []
        assert httpx.post(f"{again.base_url}/api/v1/auth/login", json={"username": name, "password": password},
                          timeout=30).status_code == 200
    finally:
        _stop(again)
    assert [u.name for u in list_users_sync(fresh_dsn) if u.role == "admin"] == ["admin"]


def test_users_commands_create_list_set_role_disable_reset(fresh_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`users create --password-stdin`, `list`, `set-role`, `disable`, `reset-password`: each does
    what it says, refuses a short password or an unknown role, and is audited with actor `cli`
    (as are `keys create` and `keys revoke`)."""
    monkeypatch.setenv("GUETTEUR_DATABASE_URL", fresh_dsn)
    runner = CliRunner()
    created = runner.invoke(app, ["users", "create", "carol", "--role", "analyst", "--password-stdin"],
                            input="a long enough password\n")
    assert created.exit_code == 0, created.output
    short = runner.invoke(app, ["users", "create", "dan", "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and "12 to 1024" in short.output
    bad_role = runner.invoke(app, ["users", "set-role", "carol", "root"])
    assert bad_role.exit_code == 2 and "role must be one of" in bad_role.output
    assert runner.invoke(app, ["users", "set-role", "carol", "viewer"]).exit_code == 0
    assert runner.invoke(app, ["users", "disable", "carol"]).exit_code == 0
    reset = runner.invoke(app, ["users", "reset-password", "carol"])
    assert reset.exit_code == 0 and len(reset.output.strip().splitlines()[-1]) >= 20
    assert runner.invoke(app, ["users", "disable", "nobody"]).exit_code == 1
    listed = runner.invoke(app, ["users", "list"])
    assert listed.exit_code == 0
    line = next(x for x in listed.output.splitlines() if x.startswith("carol"))
    assert line.split("\t")[1] == "viewer" and line.split("\t")[2].startswith("disabled")
    assert runner.invoke(app, ["keys", "create", "fw1", "--scope", "ingest"]).exit_code == 0
    assert runner.invoke(app, ["keys", "revoke", "fw1"]).exit_code == 0
    report = verify_audit_chain(fresh_dsn)
    assert report.ok and report.rows_checked == 6  # create, set-role, disable, reset-password, key create, revoke
    with psycopg.connect(fresh_dsn) as conn:
        rows = conn.execute("SELECT actor, action, target FROM audit_log ORDER BY seq").fetchall()
    assert rows == [("cli", "user.create", "carol"), ("cli", "user.change", "carol"), ("cli", "user.change", "carol"),
                    ("cli", "password.change", "carol"), ("cli", "key.create", "fw1"), ("cli", "key.revoke", "fw1")]
