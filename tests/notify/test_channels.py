"""Each channel against a real server: SMTP (aiosmtpd: STARTTLS, implicit TLS, plain, auth, a
server that refuses, drops the connection or is slow) and webhooks (a real HTTP receiver:
generic signed JSON, Slack/Mattermost, Teams; 500, 404, a hang, a huge answer)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from tests.notify.notify_helpers import (
    T0,
    channel_row,
    email_config,
    http_receiver,
    notify_settings,
    server_tls,
    smtp_server,
    throwaway_certificate,
)

from guetteur.config import Settings
from guetteur.notify.model import AlertChange, DeliveryFailed
from guetteur.notify.service import Notifier

CHANGE = AlertChange(history_id=7, alert_id=42, action="created", at=T0, rule_id="012bad0a-ssh-brute",
                     rule_title="SSH Brute Force", severity="critical",
                     entity={"host.name": "web-01", "source.ip": "203.0.113.7"}, techniques=("T1110.001",),
                     tactics=("credential-access",), first_seen=T0, last_seen=T0, count=3, event_total=14,
                     risk_score=73)


async def test_starttls_with_authentication_delivers_plain_text_and_html_in_french(
        settings: Settings, tmp_path: Path) -> None:
    """STARTTLS on a server that requires it and authentication; the mail says what, where, when,
    why, the technique, a triage hint and the console link, in French."""
    cert, key = throwaway_certificate(tmp_path)
    conf = notify_settings(settings)
    async with smtp_server(starttls=server_tls(cert, key), auth=("soc", "s3cret")) as (box, port):
        row = channel_row(conf, "email", email_config(port, security="starttls", username="soc", ca_file=str(cert),
                                                      language="fr"), {"password": "s3cret"})
        notifier = Notifier(conf, None)
        await notifier.send(row, notifier.message("alert", {"alert": CHANGE.to_json()}, "fr"))
        [mail] = await box.wait(1)
    assert mail["Subject"].startswith("[Guetteur] [CRITIQUE] Nouvelle alerte: SSH Brute Force")
    assert box.envelopes[0].rcpt_tos == ["soc@soc.example"]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    for expected in ("host.name=web-01", "source.ip=203.0.113.7", "T1110.001 Password Guessing", "Piste d'analyse",
                     "https://soc.example/alerts/42", "3 détection(s), 14 événement(s)", "2026-12-01 10:00:00"):
        assert expected in text, expected
    assert 'href="https://soc.example/alerts/42"' in html and "<table>" in html


async def test_implicit_tls_delivers(settings: Settings, tmp_path: Path) -> None:
    cert, key = throwaway_certificate(tmp_path)
    conf = notify_settings(settings)
    async with smtp_server(implicit_tls=server_tls(cert, key)) as (box, port):
        row = channel_row(conf, "email", email_config(port, security="tls", ca_file=str(cert)))
        await Notifier(conf, None).send_test(row)
        [mail] = await box.wait(1)
    assert "test" in mail["Subject"].lower()


async def test_an_untrusted_certificate_is_not_sent_to(settings: Settings, tmp_path: Path) -> None:
    """Without the CA file, the self-signed certificate is refused: nothing is delivered."""
    cert, key = throwaway_certificate(tmp_path)
    conf = notify_settings(settings)
    async with smtp_server(implicit_tls=server_tls(cert, key)) as (box, port):
        row = channel_row(conf, "email", email_config(port, security="tls"))
        with pytest.raises(DeliveryFailed):
            await Notifier(conf, None).send_test(row)
    assert box.messages == []


async def test_a_wrong_password_is_permanent(settings: Settings, tmp_path: Path) -> None:
    cert, key = throwaway_certificate(tmp_path)
    conf = notify_settings(settings)
    async with smtp_server(starttls=server_tls(cert, key), auth=("soc", "s3cret")) as (box, port):
        row = channel_row(conf, "email", email_config(port, security="starttls", username="soc", ca_file=str(cert)),
                          {"password": "wrong"})
        with pytest.raises(DeliveryFailed) as caught:
            await Notifier(conf, None).send_test(row)
    assert not caught.value.recoverable and "535" in str(caught.value)
    assert box.messages == []


async def test_a_refusing_server_is_permanent(settings: Settings) -> None:
    conf = notify_settings(settings)
    async with smtp_server(behaviour="refuse") as (box, port):
        with pytest.raises(DeliveryFailed) as caught:
            await Notifier(conf, None).send_test(channel_row(conf, "email", email_config(port)))
    assert not caught.value.recoverable and "554" in str(caught.value)
    assert box.messages == []


async def test_a_dropped_connection_is_retried(settings: Settings) -> None:
    conf = notify_settings(settings)
    async with smtp_server(behaviour="drop") as (_, port):
        with pytest.raises(DeliveryFailed) as caught:
            await Notifier(conf, None).send_test(channel_row(conf, "email", email_config(port)))
    assert caught.value.recoverable


async def test_a_slow_server_times_out_and_is_retried(settings: Settings) -> None:
    conf = notify_settings(settings, timeout=0.5)
    async with smtp_server(behaviour="slow", delay=30) as (_, port):
        with pytest.raises(DeliveryFailed) as caught:
            await Notifier(conf, None).send_test(channel_row(conf, "email", email_config(port)))
    assert caught.value.recoverable


async def test_hostile_log_values_cannot_inject_mail_headers(settings: Settings) -> None:
    """Entity values come from logs: CR/LF in them must not become headers (a Bcc to an attacker)."""
    conf = notify_settings(settings)
    hostile = dataclasses.replace(CHANGE, entity={"user.name": "x\r\nBcc: evil@attacker.example\r\n<script>"})
    notifier = Notifier(conf, None)
    async with smtp_server() as (box, port):
        await notifier.send(channel_row(conf, "email", email_config(port)),
                            notifier.message("alert", {"alert": hostile.to_json()}, "en"))
        [mail] = await box.wait(1)
    assert mail["Bcc"] is None and box.envelopes[0].rcpt_tos == ["soc@soc.example"]
    assert "\n" not in mail["Subject"]
    assert "<script>" not in mail.get_body(preferencelist=("html",)).get_content()


async def test_generic_json_webhook_is_signed_with_hmac_sha256(settings: Settings) -> None:
    conf = notify_settings(settings)
    async with http_receiver() as (receiver, url):
        row = channel_row(conf, "webhook", {"kind": "webhook", "url": url, "format": "json"}, {"hmac_key": "k3y"})
        notifier = Notifier(conf, None)
        await notifier.send(row, notifier.message("alert", {"alert": CHANGE.to_json()}, "en"))
        [request] = await receiver.wait(1)
    body = json.loads(request.body)
    assert body["type"] == "alert.created" and body["alert"]["alert_id"] == 42
    assert body["url"] == "https://soc.example/alerts/42" and body["alert"]["techniques"] == ["T1110.001"]
    stamp = request.headers["x-guetteur-timestamp"]
    expected = hmac.new(b"k3y", stamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-guetteur-signature"] == f"sha256={expected}"


async def test_slack_and_mattermost_format(settings: Settings) -> None:
    conf = notify_settings(settings)
    async with http_receiver() as (receiver, url):
        notifier = Notifier(conf, None)
        await notifier.send(channel_row(conf, "webhook", {"kind": "webhook", "url": url, "format": "slack"}),
                            notifier.message("alert", {"alert": CHANGE.to_json()}, "en"))
        [request] = await receiver.wait(1)
    body = json.loads(request.body)
    assert body["text"].startswith("[Guetteur] [CRITICAL] New alert: SSH Brute Force")
    [attachment] = body["attachments"]
    assert attachment["title_link"] == "https://soc.example/alerts/42" and attachment["color"] == "#da3633"
    assert {"title": "ATT&CK", "value": "T1110.001 Password Guessing", "short": True} in attachment["fields"]
    assert "x-guetteur-signature" not in request.headers


async def test_microsoft_teams_format(settings: Settings) -> None:
    conf = notify_settings(settings)
    async with http_receiver() as (receiver, url):
        notifier = Notifier(conf, None)
        await notifier.send(channel_row(conf, "webhook", {"kind": "webhook", "url": url, "format": "teams"}),
                            notifier.message("alert", {"alert": CHANGE.to_json()}, "en"))
        [request] = await receiver.wait(1)
    [attachment] = json.loads(request.body)["attachments"]
    card = attachment["content"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive" and card["type"] == "AdaptiveCard"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Entity"] == "host.name=web-01, source.ip=203.0.113.7"
    assert card["actions"][0]["url"] == "https://soc.example/alerts/42"


@pytest.mark.parametrize(("status", "recoverable"), [(500, True), (503, True), (429, True), (404, False),
                                                     (401, False)])
async def test_webhook_error_answers(settings: Settings, status: int, recoverable: bool) -> None:
    conf = notify_settings(settings)
    async with http_receiver(status=status) as (_, url):
        with pytest.raises(DeliveryFailed) as caught:
            await Notifier(conf, None).send_test(channel_row(conf, "webhook", {"kind": "webhook", "url": url}))
    assert caught.value.recoverable is recoverable and str(status) in str(caught.value)


async def test_a_hanging_webhook_times_out(settings: Settings) -> None:
    conf = notify_settings(settings, timeout=0.5)
    async with http_receiver(behaviour="hang") as (receiver, url):
        with pytest.raises(DeliveryFailed) as caught:
            await Notifier(conf, None).send_test(channel_row(conf, "webhook", {"kind": "webhook", "url": url}))
        assert len(receiver.requests) == 1
    assert caught.value.recoverable


async def test_a_huge_webhook_answer_is_not_read_beyond_the_cap(settings: Settings) -> None:
    """A 2xx with a 50 MB body: delivered, and the connection is dropped after the cap, long
    before the receiver could send it all."""
    conf = notify_settings(settings, max_response_bytes=65_536)
    async with http_receiver(behaviour="huge") as (receiver, url):
        answer = await Notifier(conf, None).send_test(channel_row(conf, "webhook", {"kind": "webhook", "url": url}))
    assert answer == "HTTP 200"
    assert receiver.body_bytes_sent < receiver.huge // 2
