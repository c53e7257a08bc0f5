"""Email over SMTP with aiosmtplib: STARTTLS, implicit TLS or plain (local relays), optional
authentication; a plain-text and an HTML part. SMTP 5xx answers are permanent (dead letter);
4xx, timeouts and dropped connections are retried."""

from __future__ import annotations

import asyncio
import re
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from guetteur.notify.message import Message
from guetteur.notify.model import Channel, DeliveryFailed

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
SUBJECT_MAX = 250


def header_text(value: str, limit: int = SUBJECT_MAX) -> str:
    """A header value from untrusted parts (log fields): no control characters (no header
    injection), bounded length."""
    clean = _CONTROL.sub(" ", value).strip()
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def build_email(channel: Channel, message: Message) -> EmailMessage:
    config = channel.config
    mail = EmailMessage()
    mail["Subject"] = header_text(message.subject)
    mail["From"] = config["sender"]
    mail["To"] = ", ".join(config["recipients"])
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=str(config["sender"]).rsplit("@", 1)[-1])
    mail["X-Guetteur-Severity"] = message.severity
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


def tls_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file) if verify else ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _permanent(code: int) -> bool:
    return 500 <= code < 600


async def send_email(channel: Channel, message: Message, timeout: float) -> str:
    """Send one message; returns the server's answer. Raises DeliveryFailed."""
    config = channel.config
    security = config.get("security", "starttls")
    password = channel.secrets.get("password")
    try:
        context = tls_context(bool(config.get("verify_tls", True)), config.get("ca_file"))
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryFailed(f"TLS setup failed (ca_file?): {exc}", recoverable=False) from exc
    try:
        async with asyncio.timeout(timeout):
            errors, answer = await aiosmtplib.send(
                build_email(channel, message), hostname=config["host"], port=int(config["port"]),
                username=config.get("username") or None, password=password if config.get("username") else None,
                use_tls=security == "tls", start_tls=security == "starttls", tls_context=context,
                timeout=timeout)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        raise DeliveryFailed(f"SMTP refused every recipient: {exc}",
                             recoverable=not all(_permanent(c) for c in codes)) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise DeliveryFailed(f"SMTP {exc.code}: {exc.message}"[:500], recoverable=not _permanent(exc.code),
                             code=str(exc.code)) from exc
    except TimeoutError as exc:
        raise DeliveryFailed(f"SMTP server did not finish within {timeout:g}s") from exc
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise DeliveryFailed(f"SMTP: {type(exc).__name__}: {exc}"[:500]) from exc
    if errors:
        refused = ", ".join(f"{to} ({r.code})" for to, r in errors.items())
        raise DeliveryFailed(f"SMTP refused some recipients: {refused}"[:500],
                             recoverable=not all(_permanent(r.code) for r in errors.values()))
    return answer[:200]
