"""Notifications of alerts: channels (email, webhooks), routes, throttling, digests and a
reliable outbox (docs/notifications.md).

The alert manager writes `created` / `escalated` rows to `alert_history`; the `Notifier`
(`service.py`) reads them past its cursor, routes them (`routing.py`) and writes outbox rows in
the same transaction, then delivers the outbox (`email.py`, `webhook.py`) with retries and a
dead letter. Nothing in the detection path waits on a mail server. The notifier itself is
`guetteur.notify.service.Notifier` (not re-exported: `store.notify` imports this package).
"""

from guetteur.notify.channels import ChannelConfig, EmailConfig, WebhookConfig, parse_channel
from guetteur.notify.model import AlertChange, Channel, DeliveryFailed, Match, Route

__all__ = [
    "AlertChange", "Channel", "ChannelConfig", "DeliveryFailed", "EmailConfig", "Match", "Route",
    "WebhookConfig", "parse_channel",
]
