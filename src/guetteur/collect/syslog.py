"""The syslog sources, one import away: UDP (`syslog_udp`) and TCP/TLS (`syslog_tcp`)."""

from __future__ import annotations

from guetteur.collect.syslog_tcp import SyslogTcpSource
from guetteur.collect.syslog_udp import SyslogUdpSource

__all__ = ["SyslogTcpSource", "SyslogUdpSource"]
