"""The demo mailbox (`guetteur up --demo --mail`): a real catch-all aiosmtpd server writing a
maildir, its channel and route, and reading it back (`guetteur notify mailbox`); and
`guetteur notify test CHANNEL` against a real SMTP server."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from tests.notify.notify_helpers import T0, add_channel, email_config, notify_settings, rows, write_alert
from typer.testing import CliRunner

from guetteur.cli import app
from guetteur.config import Settings
from guetteur.notify.demo_mail import CHANNEL, DemoMailServer, configure_demo_channel, read_mailbox
from guetteur.notify.service import Notifier
from guetteur.store.database import app_dsn
from guetteur.store.notify import channel_by_name_sync
from guetteur.store.pool import open_pool

runner = CliRunner()


async def test_the_demo_mailbox_receives_each_alert_mail(settings: Settings, fresh_dsn: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    maildir = tmp_path / "mailbox"
    server = await DemoMailServer.start(maildir)
    try:
        configure_demo_channel(fresh_dsn, server.port)
        configure_demo_channel(fresh_dsn, server.port)  # a second start points the same channel again
        assert rows(fresh_dsn, "SELECT name FROM notify_channels") == [(CHANNEL,)]
        assert rows(fresh_dsn, "SELECT count(*) FROM notify_routes") == [(1,)]
        write_alert(fresh_dsn, severity="critical")
        pool = await open_pool(app_dsn(fresh_dsn), max_size=2)
        try:
            notifier = Notifier(notify_settings(settings), pool)
            await notifier.step(T0)
            assert await notifier.deliver_due(T0) == 1
        finally:
            await pool.close()
    finally:
        await server.stop()
    [mail] = read_mailbox(maildir)
    assert mail["subject"].startswith("[Guetteur] [CRITICAL] New alert: SSH Brute Force")
    assert mail["severity"] == "critical" and "https://soc.example/alerts/" in mail["text"]
    monkeypatch.setenv("GUETTEUR_NOTIFY__DEMO_MAILBOX", str(maildir))
    monkeypatch.delenv("GUETTEUR_CONFIG", raising=False)
    result = runner.invoke(app, ["notify", "mailbox", "--full"])
    assert result.exit_code == 0, result.output
    assert "New alert: SSH Brute Force" in result.output and "/alerts/" in result.output


def test_the_demo_mailbox_reads_garbage_files_without_failing(tmp_path: Path) -> None:
    maildir = tmp_path / "mailbox"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.garbage").write_bytes(b"\x00\xff not a mail \r\n\r\n\x80" * 1000)
    (maildir / "new" / "2.empty").write_bytes(b"")
    assert len(read_mailbox(maildir)) == 2


class _Collect:
    def __init__(self) -> None:
        self.subjects: list[str] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content = getattr(envelope, "content", b"") or b""
        self.subjects += [line.decode() for line in content.splitlines() if line.startswith(b"Subject:")]
        return "250 OK"


def test_notify_test_command_sends_and_says_why_it_failed(settings: Settings, fresh_dsn: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    handler = _Collect()
    with socket.socket() as probe:  # Controller checks its own readiness by connecting: no port 0
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        add_channel(fresh_dsn, settings, "soc-mail", "email", email_config(controller.port))
        add_channel(fresh_dsn, settings, "nowhere", "email", email_config(1))
        monkeypatch.delenv("GUETTEUR_CONFIG", raising=False)
        env = {"GUETTEUR_DATABASE_URL": fresh_dsn, "GUETTEUR_DATA_DIR": str(settings.data_dir)}
        ok = runner.invoke(app, ["notify", "test", "soc-mail"], env=env)
        failed = runner.invoke(app, ["notify", "test", "nowhere"], env=env)
        missing = runner.invoke(app, ["notify", "test", "no-such-channel"], env=env)
    finally:
        controller.stop()
    assert ok.exit_code == 0 and "delivered to 'soc-mail'" in ok.output, ok.output
    assert handler.subjects == ["Subject: [Guetteur] Guetteur test message"]
    assert failed.exit_code == 1 and "failed" in failed.output
    assert missing.exit_code == 2
    assert channel_by_name_sync(fresh_dsn, "soc-mail") is not None
    assert rows(fresh_dsn, "SELECT actor, outcome, target FROM audit_log WHERE action = 'notify.channel.test'"
                           " ORDER BY seq") == [("cli", "success", "soc-mail"), ("cli", "failure", "nowhere")]
