"""The streaming Detector: routing, field mapping, prefilter, filters, switches, reload, hits."""

from __future__ import annotations

import copy
from typing import Any

from tests.detect.sigma_helpers import detector, fires, proc_rule, ruleset, sysmon1

from guetteur.detect.engine import Detector
from guetteur.detect.rules import load_rule_texts

RID = "00000000-0000-0000-0000-000000000001"
CMD_RULE = proc_rule("  sel:\n    Image|endswith: '\\cmd.exe'\n    CommandLine|contains: 'whoami'\n  condition: sel\n")


def security_4688(**data: Any) -> dict[str, Any]:
    return {
        "event": {"module": "windows", "dataset": "windows_evtx"},
        "winlog": {"channel": "Security", "event_id": "4688", "provider_name": "Microsoft-Windows-Security-Auditing",
                   "event_data": data},
    }


def test_process_creation_routes_sysmon_1_and_security_4688_with_aliases() -> None:
    det = detector(CMD_RULE)
    assert fires(det, sysmon1(Image="C:\\Windows\\cmd.exe", CommandLine="cmd /c whoami")) == [RID]
    assert fires(det, security_4688(NewProcessName="C:\\Windows\\cmd.exe", CommandLine="cmd /c whoami")) == [RID]
    # same fields on a Sysmon network connection (event 3): not a process creation
    network = sysmon1(Image="C:\\Windows\\cmd.exe", CommandLine="cmd /c whoami")
    network["winlog"]["event_id"] = "3"
    assert fires(det, network) == []
    # no Windows metadata at all
    assert fires(det, {"message": "cmd.exe whoami"}) == []


def test_ecs_fallback_when_original_fields_are_absent() -> None:
    det = detector(CMD_RULE)
    event = sysmon1()
    event["process"] = {"executable": "C:\\Windows\\cmd.exe", "command_line": "cmd /c whoami"}
    assert fires(det, event) == [RID]


def test_generic_process_creation_rule_sees_linux_process_events() -> None:
    det = detector(
        """
title: linux whoami
id: 00000000-0000-0000-0000-000000000003
logsource: {product: linux, category: process_creation}
detection:
  sel:
    Image|endswith: /whoami
  condition: sel
"""
    )
    event = {"event": {"module": "linux", "dataset": "auditd", "category": ["process"], "type": ["start"]},
             "process": {"executable": "/usr/bin/whoami"}}
    assert fires(det, event) == ["00000000-0000-0000-0000-000000000003"]
    windows = sysmon1(Image="C:\\whoami")
    assert fires(det, windows) == []


def test_service_routes_by_channel_and_webserver_by_dataset() -> None:
    det = detector(
        """
title: log cleared
id: 00000000-0000-0000-0000-000000000004
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 1102
  condition: sel
""",
        """
title: traversal
id: 00000000-0000-0000-0000-000000000005
logsource: {category: webserver}
detection:
  sel:
    cs-method: GET
    c-uri|contains: '../../'
  condition: sel
""",
    )
    cleared = {"event": {"module": "windows"}, "winlog": {"channel": "Security", "event_id": "1102"}}
    system = {"event": {"module": "windows"}, "winlog": {"channel": "System", "event_id": "1102"}}
    web = {"event": {"module": "web", "dataset": "web_access"}, "http": {"request": {"method": "GET"}},
           "url": {"original": "/a/../../etc/passwd"}}
    assert fires(det, cleared) == ["00000000-0000-0000-0000-000000000004"]
    assert fires(det, system) == []
    assert fires(det, web) == ["00000000-0000-0000-0000-000000000005"]


def test_unmapped_log_source_is_listed_not_compiled() -> None:
    rs = ruleset("title: x\nid: 00000000-0000-0000-0000-000000000006\nlogsource: {product: azure, service: signinlogs}\n"
                 "detection:\n  sel: {a: 1}\n  condition: sel\n")
    det = Detector(rs)
    assert det.rules == {} and len(det.unrouted) == 1 and "azure" in det.unrouted[0].reason


def many_rules(count: int) -> list[str]:
    return [
        proc_rule(f"  sel:\n    CommandLine|contains: 'marker{i:04d}x'\n  condition: sel\n",
                  rule_id=f"00000000-0000-0000-0000-{i:012d}", title=f"r{i}")
        for i in range(count)
    ]


def test_prefilter_selects_few_candidates_among_many_rules() -> None:
    det = detector(*many_rules(500), CMD_RULE)
    event = sysmon1(CommandLine="x MARKER0042X y", Image="C:\\a.exe")
    assert fires(det, event) == ["00000000-0000-0000-0000-000000000042"]
    assert len(det.candidates_for(event)) <= 3
    assert fires(det, sysmon1(CommandLine="nothing", Image="C:\\a.exe")) == []


def test_prefilter_agrees_with_evaluating_every_rule() -> None:
    texts = many_rules(40) + [
        proc_rule("  sel:\n    CommandLine|re: 'mark.r00(1|2)'\n  condition: sel\n", rule_id="10000000-0000-0000-0000-000000000001"),
        proc_rule("  sel:\n    CommandLine|contains: 'marker0001x'\n  f:\n    User: bob\n  condition: sel and not f\n",
                  rule_id="10000000-0000-0000-0000-000000000002"),
        proc_rule("  sel:\n    - 'MARKER0003X'\n  condition: sel\n", rule_id="10000000-0000-0000-0000-000000000003"),
        proc_rule("  sel:\n    CommandLine|contains: 'c:\\\\temp\\\\\"quoted\"'\n  condition: sel\n",
                  rule_id="10000000-0000-0000-0000-000000000004"),
    ]
    det = detector(*texts)
    events = [
        sysmon1(CommandLine=c, User=u)
        for c in ("marker0001x", "MARKER0002X and marker0003x", "marker0039x", "none", 'C:\\TEMP\\"quoted"')
        for u in ("bob", "eve")
    ]
    for event in events:
        from guetteur.detect.view import EventView

        view = EventView(event, det._state.slots)
        brute = sorted(r.id for r in det.rules.values() if r.match(view))
        assert sorted(fires(det, event)) == brute


def test_enable_disable_and_stats() -> None:
    det = detector(CMD_RULE)
    event = sysmon1(Image="C:\\cmd.exe", CommandLine="whoami")
    assert fires(det, event) == [RID]
    assert det.enable(RID, False)
    assert fires(det, event) == []
    assert det.enable(RID, True)
    assert fires(det, event) == [RID]
    assert det.stats()[RID].hits == 2 and det.stats()[RID].evaluations == 2
    assert not det.enable("no-such-rule", False)


def test_reload_update_remove_keep_stats_and_switches() -> None:
    det = detector(CMD_RULE)
    event = sysmon1(Image="C:\\cmd.exe", CommandLine="whoami")
    det.match(event)
    det.enable(RID, False)
    other = proc_rule("  sel:\n    CommandLine: whoami\n  condition: sel\n", rule_id="00000000-0000-0000-0000-000000000007")
    det.reload(ruleset(CMD_RULE, other))
    assert fires(det, event) == ["00000000-0000-0000-0000-000000000007"]  # RID still disabled
    assert det.stats()[RID].hits == 1
    det.enable(RID, True)
    replacement = load_rule_texts([("r.yml", CMD_RULE.replace("whoami", "ipconfig"))]).rules
    det.update(replacement)
    assert sorted(fires(det, event)) == ["00000000-0000-0000-0000-000000000007"]
    assert fires(det, sysmon1(Image="C:\\cmd.exe", CommandLine="ipconfig")) == [RID]
    det.remove("00000000-0000-0000-0000-000000000007")
    assert fires(det, event) == []
    assert set(det.rules) == {RID}


def test_global_filter_is_an_exception() -> None:
    sigma_filter = """
title: Filter admin accounts
id: 20000000-0000-0000-0000-000000000001
logsource: {product: windows, category: process_creation}
filter:
  rules:
    - 00000000-0000-0000-0000-000000000001
  selection:
    User|startswith: 'adm_'
  condition: not selection
"""
    det = detector(CMD_RULE, sigma_filter)
    assert fires(det, sysmon1(Image="C:\\cmd.exe", CommandLine="whoami", User="bob")) == [RID]
    assert fires(det, sysmon1(Image="C:\\cmd.exe", CommandLine="whoami", User="adm_bob")) == []


def test_hit_fields_and_correlation_only_rules() -> None:
    texts = [
        CMD_RULE,
        """
title: many whoami
id: 30000000-0000-0000-0000-000000000001
correlation:
  type: event_count
  rules: [00000000-0000-0000-0000-000000000001]
  group-by: [Computer]
  timespan: 5m
  condition: {gte: 3}
""",
    ]
    rs = ruleset(*texts)
    assert not rs.errors and len(rs.correlations) == 1
    det = Detector(rs)
    event = sysmon1(Image="C:\\cmd.exe", CommandLine="whoami")
    (hit,) = det.match(event)
    assert hit.rule_id == RID and hit.level == "high" and hit.alert is False
    assert hit.attack_tags == ["attack.execution", "attack.t1059.001"]
    assert hit.event_ids == ["ev1"] and hit.event_times == ["2024-01-01T00:00:00.000Z"]
    assert hit.host == "ws1" and hit.event is event
    assert hit.to_dict(with_event=False)["alert"] is False


def test_hostile_events_never_raise() -> None:
    det = detector(CMD_RULE, *many_rules(20))
    weird: list[Any] = [
        {},
        {"event": None, "winlog": "x"},
        {"event": {"module": ["windows"], "dataset": {"a": 1}}, "winlog": {"channel": ["Security"], "event_id": {"x": 1}}},
        {"winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "event_data": None}},
        {"winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": "1",
                    "event_data": {"CommandLine": ["a", None, 3, {"b": 1}], "Image": b"bytes"}}},
        sysmon1(CommandLine="\x00\ud800 marker0001x " + "x" * 2_000_000),
    ]
    cyclic = sysmon1(CommandLine="marker0002x")
    cyclic["self"] = cyclic
    weird.append(cyclic)
    for event in weird:
        assert isinstance(det.match(event), list)
    assert det.match_batch([copy.deepcopy(sysmon1(CommandLine="marker0003x"))] * 2)[1].rule_id.endswith("3")
