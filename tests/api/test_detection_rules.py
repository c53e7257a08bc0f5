"""`GET /api/v1/detection/rules` says what each rule is (title, level, ATT&CK, log source),
lists the correlation rules (type, correlated rules, group-by, timespan) and what each did."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.api.conftest import send_tcp

from guetteur.config import DetectSettings

RULE_ID = "6c1d3f0e-2a4b-4c8d-9e7f-000000000001"
CORRELATION_ID = "6c1d3f0e-2a4b-4c8d-9e7f-000000000002"
BUILTIN_STEP = "0313ad75-7e62-484d-88c7-760a4253a5dc"  # "SSH Failure Burst Before Success"

RULES = f"""\
title: API test SSH password failure
id: {RULE_ID}
name: api_test_ssh_failure
status: test
level: low
tags: [attack.credential-access, attack.t1110]
logsource: {{product: linux, service: auth}}
detection:
  selection:
    event.outcome: failure
    event.action: ssh_login
  condition: selection
---
title: API test SSH failures from one address
id: {CORRELATION_ID}
status: test
level: high
tags: [attack.credential-access, attack.t1110.001]
correlation:
  type: event_count
  rules: [api_test_ssh_failure]
  group-by: [source.ip]
  timespan: 2m
  condition: {{gte: 3}}
  generate: true
"""


async def fetch_rules(running: Any) -> dict[str, Any]:
    response = await running.http.get("/api/v1/detection/rules",
                                      headers={"Authorization": f"Bearer {running.read_key}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_rules_and_correlations_with_titles_and_counters(make_running: Any, tmp_path: Path) -> None:
    """Our rule comes with its title, level, ATT&CK technique, log source and exact hit count;
    our correlation with its type, the rule it correlates, group-by, timespan, condition and
    the time it fired; the built-in pack's correlations are all listed (24), the step that
    `guetteur hunt` showed as `?` by its title; no rule is without a title."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ssh.yml").write_text(RULES)
    now = datetime.now(UTC)
    stamp = f"{now:%b} {now.day:>2} {now:%H:%M:%S}"
    lines = "".join(f"<38>{stamp} web-01 sshd[9]: Failed password for root from 198.51.100.79 port {4000 + n} ssh2\n"
                    for n in range(3))
    async with make_running(detect=DetectSettings(rules_dirs=[rules])) as running:
        await asyncio.to_thread(send_tcp, running.tcp, lines.encode())
        await running.wait_stored(3)
        deadline = time.monotonic() + 30
        while True:  # workers report their counters every few seconds
            body = await fetch_rules(running)
            rule = {r["rule_id"]: r for r in body["data"]}.get(RULE_ID)
            corr = {c["rule_id"]: c for c in body["correlations"]}.get(CORRELATION_ID)
            if (rule and rule["hits"] == 3 and corr and corr["hits"] >= 1) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
            await asyncio.to_thread(send_tcp, running.tcp, b"<13>Nov 21 08:40:00 h app: tick\n")
        schema = (await running.http.get("/api/openapi.json")).json()

    assert rule is not None and corr is not None
    assert rule["title"] == "API test SSH password failure"
    assert (rule["level"], rule["status"], rule["name"]) == ("low", "test", "api_test_ssh_failure")
    assert rule["tags"] == ["attack.credential-access", "attack.t1110"]
    assert rule["attack"] == {"techniques": ["T1110"], "tactics": ["credential-access"]}
    assert rule["logsource"] == {"product": "linux", "category": None, "service": "auth"}
    assert rule["source"].endswith("rules/ssh.yml")
    assert (rule["hits"], rule["errors"]) == (3, 0) and rule["evaluations"] >= 3 and rule["time_ms"] >= 0
    assert rule["enabled"] and rule["alert"]

    assert corr["title"] == "API test SSH failures from one address"
    assert (corr["type"], corr["level"], corr["generate"]) == ("event_count", "high", True)
    assert corr["rules"] == [{"reference": "api_test_ssh_failure", "rule_id": RULE_ID,
                              "title": "API test SSH password failure"}]
    assert corr["group_by"] == ["source.ip"]
    assert (corr["timespan"], corr["timespan_seconds"], corr["condition"]) == ("2m", 120.0, "gte 3")
    assert corr["attack"]["techniques"] == ["T1110.001"]
    assert corr["hits"] == 1

    correlations = {c["rule_id"]: c for c in body["correlations"]}
    assert body["correlation_count"] == len(correlations) == _pack_correlations() + 1  # the built-in pack's and ours
    step = correlations[BUILTIN_STEP]
    assert (step["title"], step["type"], step["alert"]) == ("SSH Failure Burst Before Success", "event_count", False)
    assert step["group_by"] == ["host.name", "source.ip"] and step["timespan"] == "2m"
    assert body["count"] == len(body["data"]) >= 65
    assert all(r["title"] and r["level"] for r in body["data"])

    documented = schema["components"]["schemas"]
    assert {"rules", "group_by", "timespan", "condition"} <= set(documented["CorrelationPublic"]["properties"])
    assert {"title", "level", "attack", "logsource", "hits", "time_ms"} <= set(documented["RulePublic"]["properties"])


def _pack_correlations() -> int:
    """Correlation rules in the built-in pack (rules/), counted from its YAML documents."""
    import yaml

    from guetteur.detect.rules import builtin_rules_dir

    pack = builtin_rules_dir()
    assert pack is not None
    return sum(1 for path in pack.rglob("*.yml")
               for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict) and "correlation" in doc)
