"""Webhooks with httpx: generic JSON (optionally signed with HMAC-SHA256), Slack/Mattermost
incoming webhooks, Microsoft Teams (an Adaptive Card). The answer's body is read up to
`notify.max_response_bytes` at most; 2xx is delivered, 408/429/5xx and network errors are
retried, other answers are permanent (dead letter).

Signature (generic JSON with `hmac_key`): `X-Guetteur-Timestamp: <unix seconds>` and
`X-Guetteur-Signature: sha256=<hex HMAC-SHA256(key, timestamp + "." + body)>`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from typing import Any

import httpx
import orjson

from guetteur.notify.email import tls_context
from guetteur.notify.message import Message
from guetteur.notify.model import Channel, DeliveryFailed

_COLOURS = {"low": "#2f81f7", "medium": "#d29922", "critical": "#da3633"}


def slack_body(message: Message) -> dict[str, Any]:
    """Slack and Mattermost incoming webhooks (attachments are understood by both)."""
    return {"text": message.subject, "attachments": [{
        "fallback": message.subject, "color": _COLOURS.get(message.severity, "#888888"),
        "title": message.subject, "title_link": message.link, "text": message.text,
        "fields": [{"title": k, "value": v, "short": len(v) < 40} for k, v in message.facts]}]}


def teams_body(message: Message) -> dict[str, Any]:
    """Microsoft Teams (Workflows / incoming webhook): one Adaptive Card."""
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
        "body": [{"type": "TextBlock", "text": message.subject, "weight": "Bolder", "wrap": True,
                  "color": "Attention" if message.severity == "critical" else "Default"},
                 {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in message.facts]}],
        "actions": [{"type": "Action.OpenUrl", "title": "Guetteur", "url": message.link}]}
    if not message.facts:
        card["body"].append({"type": "TextBlock", "text": message.text, "wrap": True})
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}


def signature(key: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def webhook_request(channel: Channel, message: Message) -> tuple[bytes, dict[str, str]]:
    """(body, headers) for this channel's format."""
    form = channel.config.get("format", "json")
    document = {"json": message.document, "slack": slack_body(message), "teams": teams_body(message)}[form]
    body = orjson.dumps(document)
    headers = {"Content-Type": "application/json", "User-Agent": "Guetteur"}
    key = channel.secrets.get("hmac_key")
    if key and form == "json":
        timestamp = str(int(time.time()))
        headers["X-Guetteur-Timestamp"] = timestamp
        headers["X-Guetteur-Signature"] = signature(key, timestamp, body)
    return body, headers


async def send_webhook(channel: Channel, message: Message, timeout: float, max_response_bytes: int) -> str:
    """POST one message; returns the status line. Raises DeliveryFailed."""
    body, headers = webhook_request(channel, message)
    verify: Any = tls_context(True, None) if channel.config.get("verify_tls", True) else False
    try:
        async with asyncio.timeout(timeout), httpx.AsyncClient(timeout=timeout, verify=verify,
                                                               follow_redirects=False) as client, \
                client.stream("POST", channel.config["url"], content=body, headers=headers) as response:
            read = 0
            async for chunk in response.aiter_raw():  # drained up to the cap, then the connection is dropped
                read += len(chunk)
                if read >= max_response_bytes:
                    break
            status = response.status_code
    except TimeoutError as exc:
        raise DeliveryFailed(f"webhook did not answer within {timeout:g}s") from exc
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"webhook: {type(exc).__name__}: {exc}"[:500]) from exc
    if 200 <= status < 300:
        return f"HTTP {status}"
    raise DeliveryFailed(f"webhook answered HTTP {status}", recoverable=status in (408, 429) or status >= 500,
                         code=str(status))
