"""Notifications in `guetteur up`: the notifier task and, for `--demo --mail`, the demo's
catch-all mail server with its channel and route."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from guetteur.config import Settings
from guetteur.notify.demo_mail import DemoMailServer, configure_demo_channel, mailbox_path
from guetteur.notify.service import Notifier

log = logging.getLogger(__name__)


@dataclass
class Notifications:
    notifier: Notifier | None
    demo_mail: DemoMailServer | None = None

    async def stop(self) -> None:
        if self.notifier is not None:
            await self.notifier.stop()
        if self.demo_mail is not None:
            await self.demo_mail.stop()


async def start_notifications(settings: Settings, pool: Any, dsn: str, owner_dsn: str, *,
                              demo_mail: bool = False) -> Notifications:
    """Start the demo mail server first (when asked), so the first alert finds its channel."""
    mail: DemoMailServer | None = None
    if demo_mail:
        mail = await DemoMailServer.start(mailbox_path(settings))
        await asyncio.to_thread(configure_demo_channel, owner_dsn, mail.port)
        log.info("demo mailbox: SMTP on 127.0.0.1:%d, messages in %s (guetteur notify mailbox)", mail.port,
                 mail.path)
    if not settings.notify.enabled:
        return Notifications(None, mail)
    notifier = Notifier(settings, pool, dsn)
    await notifier.start()
    return Notifications(notifier, mail)
