"""Syslog over TLS (RFC 5425) on its own port (`syslog.tls_port`, 6514 by default; off with
`syslog.tls_enabled = false`).

The TCP listener (`syslog_tcp`) with a TLS context: the same framing (RFC 5425 octet
counting; newline framing is accepted too, as rsyslog's default), the same connection
table and limits (`max_connections`, per address, idle and frame timeouts), the same
backpressure. TLS specifics:

* the certificate and key come from `syslog.tls` (`cert_file`, `key_file`), else a
  self-signed pair is generated on first start (`guetteur.tls`), its fingerprint logged
  at start and reported by `describe()` (`guetteur tls fingerprint` prints it too);
* with `syslog.tls.client_ca_file`, clients must present a certificate signed by that CA
  (mTLS); a client without one, or with another, fails its handshake;
* each handshake must complete within `syslog.tls.handshake_timeout` seconds and counts
  against the connection limits while it runs, so idle or slow handshakes cannot hold
  slots; failed handshakes (plain text on this port, wrong or missing certificate) are
  counted as `tls_handshake` errors, timed-out ones as `tls_handshake_timeout`, and the
  connection is closed; nothing else is affected.
"""

from __future__ import annotations

import logging
from typing import Any

from guetteur.collect.sink import RecordSink
from guetteur.collect.syslog_tcp import SyslogTcpSource
from guetteur.config import Settings, TlsSettings
from guetteur.tls import Identity, server_context, server_identity

log = logging.getLogger(__name__)


class SyslogTlsSource(SyslogTcpSource):
    """Receives syslog records over TLS. `identity` is the certificate served (its fingerprint)."""

    name = "syslog-tls"

    def __init__(self, settings: Settings, sink: RecordSink, *, port: int | None = None,
                 tls: TlsSettings | None = None, **options: Any) -> None:
        """Configured like `SyslogTcpSource` (limits from `settings.syslog`), listening on
        `settings.syslog.tls_port` with `settings.syslog.tls`; keywords win over the settings.
        Raises `ConfigError` when the certificate, key or CA file does not load."""
        self.tls = settings.syslog.tls if tls is None else tls
        self.identity: Identity = server_identity(self.tls, settings.data_dir)
        context = server_context(self.tls, self.identity)
        listen = settings.syslog.tls_port if port is None else port
        super().__init__(settings, sink, port=listen, ssl_context=context,
                         handshake_timeout=self.tls.handshake_timeout, **options)

    @classmethod
    def enabled(cls, settings: Settings) -> bool:
        """On unless `syslog.tls_enabled` is false."""
        return settings.syslog.tls_enabled

    def describe(self) -> dict[str, object]:
        return {"syslog_tls": self.bound_port, "syslog_tls_sha256": self.identity.fingerprint,
                "syslog_tls_mtls": self.tls.client_ca_file is not None}

    async def start(self) -> None:
        await super().start()
        log.info("syslog TLS listening on %s:%s, certificate %s (SHA-256 %s)%s", self.host, self.bound_port,
                 self.identity.cert_file, self.identity.fingerprint,
                 ", client certificates required" if self.tls.client_ca_file is not None else "")
