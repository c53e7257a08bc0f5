"""The demo's attack scenarios sent through a running Guetteur's real ports, and what each must
raise (shared by the detection and the alert end-to-end tests)."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import yaml
from tests.e2e.conftest import send_tcp, send_udp

from guetteur.demo import SCENARIOS, Sim, parser_hint
from guetteur.demo.step import HTTP, SYSLOG_TCP, SYSLOG_UDP, Step

PACK = Path(__file__).resolve().parents[2] / "rules"

# scenario -> rule files whose alerting rule (the last document of the file) must fire
EXPECTED: dict[str, tuple[str, ...]] = {
    "ssh_brute_force": ("linux/credential_access_ssh_brute_force.yml",
                        "linux/credential_access_ssh_success_after_brute_force.yml"),
    "password_spraying": ("linux/credential_access_ssh_password_spraying.yml",),
    "sudo_abuse": ("linux/privilege_escalation_sudo_success_after_failures.yml",
                   "linux/persistence_linux_uid0_account_created.yml"),
    "patient_idor": ("application/collection_api_patient_record_idor.yml",),
    "data_exfiltration": ("network/exfiltration_network_large_outbound_transfer.yml",),
    "ransomware": ("linux/impact_linux_ransomware_file_renames.yml", "linux/impact_linux_ransom_note_created.yml",
                   "linux/impact_linux_snapshot_deleted.yml"),
    "port_scan": ("network/discovery_network_port_scan.yml",),
}


def alerting_rule_id(path: Path) -> str:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return str(docs[-1]["id"])


async def send_steps(running: Any, steps: list[Step]) -> int:
    """Send steps in order over their transports; consecutive lines of one transport together."""
    sent = 0
    index = 0
    while index < len(steps):
        transport = steps[index].transport
        hint = parser_hint(steps[index].fmt) if transport == HTTP else None
        run = []
        while index < len(steps) and steps[index].transport == transport and (
                transport != HTTP or parser_hint(steps[index].fmt) == hint):
            run.append(steps[index].line.encode())
            index += 1
        if transport == SYSLOG_TCP:
            await asyncio.to_thread(send_tcp, running.tcp, b"".join(line + b"\n" for line in run))
        elif transport == SYSLOG_UDP:
            await asyncio.to_thread(send_udp, running.udp, run)
            await asyncio.sleep(0.05)
        else:
            params = {"source": hint} if hint else {}
            response = await running.ingest(b"\n".join(run), **params)
            assert response.status_code == 202, response.text
        sent += len(run)
    return sent


async def play_every_scenario(running: Any) -> int:
    """Every scenario, stamped so that it ends "now" as if played live, sent at once; returns
    the lines sent. One simulated clock for all scenarios, in the past: event time only moves
    forward, as on a real wire, and every line is older than "now" (a backlog being caught
    up), its first lines a few tens of seconds old, within the correlation lateness."""
    sent = 0
    for seed, name in enumerate(sorted(SCENARIOS), 1):
        dry_run = Sim(rng=random.Random(seed), clock=lambda: 0.0)
        list(SCENARIOS[name].play(dry_run))
        began = time.time() - dry_run.pending - 1
        sim = Sim(rng=random.Random(seed), clock=lambda at=began: at)
        sent += await send_steps(running, list(SCENARIOS[name].play(sim)))
    return sent
