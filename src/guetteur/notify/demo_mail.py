"""The demo's catch-all mail server (`guetteur up --demo --mail`): aiosmtpd on 127.0.0.1 that
accepts any message for anyone and keeps it in a maildir (`notify.demo_mailbox`, default
`data_dir/demo-mailbox`), where `guetteur notify mailbox` and `GET /api/v1/notify/demo-mailbox`
read it. Local only: it listens on the loopback address and relays nothing."""

from __future__ import annotations

import asyncio
import logging
import mailbox
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from guetteur.config import Settings

CHANNEL = "demo-mailbox"
ROUTE = "demo-mailbox-all"
SENDER = "guetteur@localhost"
RECIPIENT = "soc@demo.localhost"
MAX_MESSAGE_BYTES = 1_048_576
DEMO_THROTTLE = 200  # a local mailbox: every demo alert is worth a mail (the default would summarise after 20)


def mailbox_path(settings: Settings) -> Path:
    return settings.notify.demo_mailbox or Path(settings.data_dir) / "demo-mailbox"


class MaildirHandler:
    """aiosmtpd handler: every message into one maildir."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.maildir = mailbox.Maildir(str(path), create=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        del server, session
        content = envelope.original_content or b""
        if isinstance(content, str):
            content = content.encode()
        await asyncio.to_thread(self.maildir.add, content)
        return "250 Message accepted for delivery"


@dataclass
class DemoMailServer:
    """A running catch-all server: `port` to send to, `path` of its maildir."""

    server: asyncio.Server
    port: int
    path: Path

    @classmethod
    async def start(cls, path: Path, host: str = "127.0.0.1", port: int = 0) -> DemoMailServer:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
        handler = MaildirHandler(path)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="guetteur-demo", data_size_limit=MAX_MESSAGE_BYTES), host, port)
        bound = int(server.sockets[0].getsockname()[1])
        return cls(server, bound, path)

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def read_mailbox(path: Path, limit: int = 50) -> list[dict[str, Any]]:
    """The newest messages first: key, date, from, to, subject, severity and plain text."""
    if not path.is_dir():
        return []
    box = mailbox.Maildir(str(path), create=False)
    found: list[tuple[float, str, dict[str, Any]]] = []
    for key in box.keys():
        try:
            stamp = (path / "new" / key).stat().st_mtime if (path / "new" / key).exists() else 0.0
            raw = box.get_bytes(key)
        except (KeyError, OSError):
            continue
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        found.append((stamp, key, {"id": key, "date": message["Date"], "from": message["From"], "to": message["To"],
                                   "subject": message["Subject"], "severity": message["X-Guetteur-Severity"],
                                   "text": _text(message)[:20_000]}))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [item[2] for item in found[:limit]]


def demo_channel_config(port: int) -> dict[str, Any]:
    return {"kind": "email", "host": "127.0.0.1", "port": port, "security": "none", "sender": SENDER,
            "recipients": [RECIPIENT], "language": None, "verify_tls": True, "ca_file": None, "username": None,
            "throttle_limit": DEMO_THROTTLE}


def configure_demo_channel(owner_dsn: str, port: int) -> int:
    """Create (or point again) the demo mailbox channel and its route taking every alert."""
    from guetteur.store.notify import ensure_route_sync, upsert_channel_sync

    channel_id = upsert_channel_sync(owner_dsn, CHANNEL, "email", demo_channel_config(port), None)
    ensure_route_sync(owner_dsn, ROUTE, channel_id)
    return channel_id
