"""Demo traffic: a simulated small medical practice logging into a running Guetteur.

`run_demo(...)` plays normal traffic and attack scenarios through the real syslog and
HTTP inputs; `SCENARIOS` / `SCENARIO_DESCRIPTIONS` name and describe the attacks;
`normal_traffic(sim)` and each `Scenario.play(sim)` yield `Step`s for tests and benchmarks.
"""

from guetteur.demo.normal import normal_traffic
from guetteur.demo.runner import DemoStats, parser_hint, run_demo
from guetteur.demo.scenarios import SCENARIO_DESCRIPTIONS, SCENARIOS, Scenario
from guetteur.demo.sim import Sim
from guetteur.demo.step import FORMATS, HTTP, SYSLOG_TCP, SYSLOG_UDP, Step
from guetteur.demo.transports import (
    DeliveryError,
    HttpIngestClient,
    IngestRefused,
    SyslogTcpClient,
    SyslogUdpClient,
)

__all__ = [
    "FORMATS", "HTTP", "SCENARIOS", "SCENARIO_DESCRIPTIONS", "SYSLOG_TCP", "SYSLOG_UDP",
    "DeliveryError", "DemoStats", "HttpIngestClient", "IngestRefused", "Scenario", "Sim", "Step",
    "SyslogTcpClient", "SyslogUdpClient", "normal_traffic", "parser_hint", "run_demo",
]
