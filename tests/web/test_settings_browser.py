"""The Settings page and the account menu in a real browser (issue 13): an admin creates an
email channel pointed at a local catch-all SMTP server and sends a test that arrives, adds a
route, changes retention and asset criticality, sees the audit trail verified; a user enrols a
second factor from the QR code's page (the code computed from the shown secret) and logs in
with it."""

from __future__ import annotations

import asyncio
import mailbox
import re
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from guetteur.notify.demo_mail import DemoMailServer

from .conftest import ARTIFACTS
from .console_browser import Console
from .console_server import ConsoleServer, wait_for


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A catch-all SMTP server on 127.0.0.1 (the demo's, aiosmtpd) in a thread: (port, maildir)."""
    loop = asyncio.new_event_loop()
    box = tmp_path / "mailbox"
    started: list[DemoMailServer] = []
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        started.append(loop.run_until_complete(DemoMailServer.start(box)))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="test-smtp", daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        yield started[0].port, box
    finally:
        asyncio.run_coroutine_threadsafe(started[0].stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def _pick(console: Console, label: str, option: str) -> None:
    """Choose `option` in the Mantine select labelled `label` (inside the open dialog)."""
    console.page.get_by_role("dialog").get_by_label(re.compile(f"^{re.escape(label)}")).first.click()
    console.page.get_by_role("option", name=option, exact=True).click()


def test_email_channel_is_created_tested_and_routed(admin: Console, smtp: tuple[int, Path]) -> None:
    port, box = smtp
    name = f"soc-mail-{secrets.token_hex(2)}"
    page = admin.page
    admin.goto("/settings?tab=notifications")
    page.get_by_role("button", name="Nouveau canal").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label(re.compile("^Nom")).fill(name)
    dialog.get_by_label("Serveur SMTP").fill("127.0.0.1")
    _pick(admin, "Sécurité", "aucune (relais local uniquement)")
    dialog.get_by_label("Port").fill(str(port))
    dialog.get_by_label("Expéditeur").fill("guetteur@example.org")
    dialog.get_by_label("Destinataires").fill("soc@example.org, cert@example.org")
    admin.shot("settings-01-channel-form")
    dialog.get_by_role("button", name="Enregistrer").click()
    row = page.get_by_test_id(f"channel-{name}")
    row.wait_for()
    row.get_by_role("button", name="Envoyer un test").click()
    row.get_by_test_id("test-result").wait_for()
    assert row.get_by_test_id("test-result").text_content() == "test remis"
    wait_for(lambda: box.is_dir() and len(mailbox.Maildir(str(box), create=False)) == 1, "the test mail arriving")
    message = next(iter(mailbox.Maildir(str(box), create=False)))
    assert "soc@example.org" in str(message["To"]) and "cert@example.org" in str(message["To"])
    admin.shot("settings-02-channel-tested")

    page.get_by_role("button", name="Nouvelle route").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label(re.compile("^Nom")).fill(f"{name}-crit")
    _pick(admin, "Canal", name)
    dialog.get_by_label("Sévérités").click(force=True)
    page.get_by_role("option", name="critique", exact=True).click()
    dialog.get_by_label("Entité").fill("host.name=web-*")
    dialog.get_by_role("button", name="Enregistrer").click()
    page.get_by_test_id("routes-table").get_by_text(f"{name}-crit").wait_for()
    routes = admin.api("GET", "/api/v1/notify/routes").json()["data"]
    route = next(r for r in routes if r["name"] == f"{name}-crit")
    assert route["match"]["severities"] == ["critical"] and route["match"]["entity"] == {"host.name": "web-*"}
    assert route["mode"] == "immediate"


def test_retention_and_criticality_are_saved_and_the_audit_trail_verified(admin: Console) -> None:
    page = admin.page
    admin.goto("/settings?tab=retention")
    card = page.get_by_test_id("prefs-retention")
    card.get_by_test_id("retention-last-run").wait_for()  # the retention task of guetteur up ran at start
    assert card.get_by_test_id("retention-not-enforced").count() == 0
    card.get_by_label("Événements").fill("30")
    card.get_by_role("button", name="Enregistrer").click()
    card.get_by_text("Modifié par admin", exact=False).wait_for()
    assert admin.api("GET", "/api/v1/settings").json()["retention"]["value"]["events_days"] == 30
    assert card.get_by_test_id("source").first.text_content() == "console"
    admin.shot("settings-03-retention")

    admin.goto("/settings?tab=criticality")
    card = page.get_by_test_id("prefs-criticality")
    card.get_by_role("button", name="Ajouter un motif").click()
    card.get_by_label("Motif (glob)").last.fill("dc-*")
    card.get_by_role("button", name="Enregistrer").click()
    card.get_by_text("Modifié par admin", exact=False).wait_for()
    hosts = admin.api("GET", "/api/v1/risk/criticality").json()["hosts"]
    assert {"pattern": "dc-*", "level": "high"} in hosts
    admin.shot("settings-04-criticality")

    admin.goto("/settings?tab=audit")
    badge = page.get_by_test_id("audit-verified")
    badge.wait_for()
    assert badge.text_content() == "chaîne intacte"
    page.get_by_test_id("audit-table").get_by_text("settings.change").first.wait_for()
    page.get_by_role("button", name="Vérifier maintenant (en arrière-plan)").click()
    page.get_by_test_id("store-verified").wait_for(timeout=120_000)
    assert page.get_by_test_id("store-verified").text_content() == "chaîne intacte"
    admin.shot("settings-05-audit")


def test_user_enrols_totp_from_the_qr_code_page_and_logs_in_with_it(
        admin: Console, server: ConsoleServer, browser: object) -> None:
    name, password = f"ana-{secrets.token_hex(3)}", secrets.token_urlsafe(18)
    created = admin.api("POST", "/api/v1/users", json={"name": name, "role": "analyst", "password": password})
    assert created.status_code == 201, created.text
    ana = Console.open(browser, server.base_url, ARTIFACTS)
    try:
        ana.login(name, password)
        ana.page.get_by_test_id("account").click()
        assert ana.page.get_by_test_id("totp-state").text_content() == "non activé"
        ana.page.get_by_role("button", name="Générer mon secret").click()
        qr = ana.page.get_by_test_id("totp-qr")
        qr.wait_for()
        assert ana.page.evaluate("() => document.querySelector('[data-testid=totp-qr]').naturalWidth") > 0
        secret = ana.page.get_by_test_id("totp-secret").inner_text().strip()
        ana.shot("settings-06-totp-qr")
        totp = pyotp.TOTP(secret)
        ana.page.get_by_label("Code actuel").fill(totp.now())
        used_step = int(time.time() // 30)
        ana.page.get_by_role("button", name="Confirmer").click()
        wait_for(lambda: ana.page.get_by_test_id("totp-state").text_content() == "activé", "the second factor enabled")
    finally:
        ana.close()
    again = Console.open(browser, server.base_url, ARTIFACTS)  # a new browser session: log in again
    try:
        again.login(name, password, succeeds=False)  # without the code: refused
        again.page.get_by_role("alert").wait_for()
        again.shot("settings-07-login-needs-code")
        while int(time.time() // 30) <= used_step:  # a code is accepted once: the next step's
            time.sleep(0.5)
        again.login(name, password, code=totp.now())
        assert again.page.get_by_test_id("whoami").inner_text() == f"{name} · analyste"
    finally:
        again.close()
    audit = admin.api("GET", "/api/v1/audit", params={"actor": name, "action": "totp.confirm"}).json()["data"]
    assert [r["outcome"] for r in audit] == ["success"]
