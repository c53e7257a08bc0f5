"""Helpers for the Sigma engine tests: build a Detector from inline YAML, build events."""

from __future__ import annotations

from typing import Any

from guetteur.detect.engine import Detector
from guetteur.detect.rules import RuleSet, load_rule_texts

WINDOWS_RULE_HEADER = """
title: {title}
id: {rule_id}
status: test
level: high
tags: [attack.execution, attack.t1059.001]
logsource:
  product: windows
  category: process_creation
"""


def ruleset(*texts: str) -> RuleSet:
    return load_rule_texts((f"rule{i}.yml", text) for i, text in enumerate(texts))


def detector(*texts: str, **kwargs: Any) -> Detector:
    rs = ruleset(*texts)
    assert not rs.errors, rs.errors
    det = Detector(rs, **kwargs)
    assert not det.errors, det.errors
    assert not det.unrouted, det.unrouted
    return det


def proc_rule(detection: str, rule_id: str = "00000000-0000-0000-0000-000000000001", title: str = "t") -> str:
    """A windows/process_creation rule with the given `detection:` body (indented YAML)."""
    return WINDOWS_RULE_HEADER.format(title=title, rule_id=rule_id) + "detection:\n" + detection


def sysmon1(**event_data: Any) -> dict[str, Any]:
    """A Sysmon process-creation event in our ECS shape (original fields in winlog.event_data)."""
    return {
        "@timestamp": "2024-01-01T00:00:00.000Z",
        "event": {"id": "ev1", "module": "windows", "dataset": "windows_evtx", "kind": "event"},
        "host": {"name": "ws1"},
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": "1",
            "provider_name": "Microsoft-Windows-Sysmon",
            "computer_name": "ws1.corp",
            "event_data": {k: v for k, v in event_data.items()},
        },
    }


def fires(det: Detector, event: dict[str, Any]) -> list[str]:
    return [h.rule_id for h in det.match(event)]
