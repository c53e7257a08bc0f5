"""Every Sigma value modifier, wildcard and escape, checked on one process-creation event."""

from __future__ import annotations

import base64

import pytest
from tests.detect.sigma_helpers import detector, fires, proc_rule, sysmon1

RID = "00000000-0000-0000-0000-000000000001"


def check(selection: str, event: dict, expected: bool, **kwargs: object) -> None:
    det = detector(proc_rule(f"  sel:\n{selection}\n  condition: sel\n"), **kwargs)  # type: ignore[arg-type]
    assert (fires(det, event) == [RID]) is expected


EVENT = sysmon1(
    Image="C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    CommandLine="powershell.exe -NoP -Enc SQBFAFgA -w hidden",
    ParentImage="C:\\Windows\\explorer.exe",
    User="CORP\\Alice",
    IntegrityLevel="High",
    ProcessId="4242",
    DestinationIp="10.1.2.3",
    Empty="",
    Hashes="SHA256=ABC,IMPHASH=DEF",
)


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        # plain equality is case-insensitive
        ("    Image: 'c:\\windows\\system32\\windowspowershell\\v1.0\\POWERSHELL.EXE'", True),
        ("    Image: 'powershell.exe'", False),
        # contains / startswith / endswith
        ("    CommandLine|contains: '-enc '", True),
        ("    CommandLine|contains: '-encodedcommand'", False),
        ("    Image|startswith: 'C:\\Windows\\'", True),
        ("    Image|startswith: 'D:\\'", False),
        ("    Image|endswith: '\\POWERSHELL.exe'", True),
        ("    Image|endswith: ['\\cmd.exe', '\\pwsh.exe']", False),
        ("    Image|endswith: ['\\cmd.exe', '\\powershell.exe']", True),
        # all: every value must occur
        ("    CommandLine|contains|all: ['-nop', 'hidden']", True),
        ("    CommandLine|contains|all: ['-nop', 'bypass']", False),
        # wildcards, escapes
        ("    Image: '*\\power?hell.exe'", True),
        ("    Image: '*\\power??hell.exe'", False),
        ("    CommandLine: 'powershell.exe*hidden'", True),
        ("    CommandLine: 'powershell.exe\\*'", False),
        # re: case-sensitive unless i
        ("    CommandLine|re: '-Enc [A-Za-z0-9+/=]+'", True),
        ("    CommandLine|re: '-ENC [A-Z]+'", False),
        ("    CommandLine|re|i: '-ENC [A-Z]+'", True),
        ("    CommandLine|re: '^powershell'", True),
        ("    CommandLine|re: '^-NoP'", False),
        # cased
        ("    User|cased: 'CORP\\Alice'", True),
        ("    User|cased: 'corp\\alice'", False),
        # windash: - / and dash variants
        ("    CommandLine|windash|contains: ' /w hidden'", True),
        ("    CommandLine|windash|contains: ' /x hidden'", False),
        # numbers compare by text
        ("    ProcessId: 4242", True),
        ("    ProcessId: 4243", False),
        # gt/gte/lt/lte
        ("    ProcessId|gt: 4000", True),
        ("    ProcessId|lt: 4000", False),
        ("    ProcessId|gte: 4242", True),
        ("    ProcessId|lte: 4241", False),
        # cidr
        ("    DestinationIp|cidr: '10.0.0.0/8'", True),
        ("    DestinationIp|cidr: '192.168.0.0/16'", False),
        # exists
        ("    ParentImage|exists: true", True),
        ("    Missing|exists: true", False),
        ("    Missing|exists: false", True),
        # null: absent or empty
        ("    Missing: null", True),
        ("    Empty: null", True),
        ("    Image: null", False),
        # fieldref
        ("    Image|fieldref: Image", True),
        ("    Image|fieldref: ParentImage", False),
        ("    CommandLine|fieldref|startswith: Missing", False),
        # lists are OR-ed
        ("    IntegrityLevel: ['Low', 'High']", True),
        ("    IntegrityLevel: ['Low', 'Medium']", False),
        # keyword map of two fields is AND
        ("    IntegrityLevel: High\n    User|endswith: bob", False),
        ("    IntegrityLevel: High\n    User|endswith: alice", True),
        # System fields
        ("    EventID: 1\n    Channel: 'Microsoft-Windows-Sysmon/Operational'", True),
        ("    EventID: 4688", False),
        ("    Computer: 'WS1.corp'", True),
        ("    Provider_Name: 'Microsoft-Windows-Sysmon'", True),
    ],
)
def test_modifier(selection: str, expected: bool) -> None:
    check(selection, EVENT, expected)


def test_base64_and_base64offset() -> None:
    secret = "Invoke-Mimikatz"
    encoded = base64.b64encode(f"xx{secret}yy".encode()).decode()
    event = sysmon1(CommandLine=f"powershell -enc {encoded}")
    check("    CommandLine|base64offset|contains: 'Invoke-Mimikatz'", event, True)
    check("    CommandLine|base64offset|contains: 'Invoke-Other'", event, False)
    plain = sysmon1(CommandLine=base64.b64encode(b"whoami").decode())
    check("    CommandLine|base64: 'whoami'", plain, True)


def test_wide_base64offset() -> None:
    encoded = base64.b64encode("IEX (New-Object Net.WebClient)".encode("utf-16le")).decode()
    event = sysmon1(CommandLine=f"powershell -e {encoded}")
    check("    CommandLine|wide|base64offset|contains: 'New-Object'", event, True)
    check("    CommandLine|wide|base64offset|contains: 'Net.Sockets'", event, False)


def test_time_part_modifiers() -> None:
    event = sysmon1(UtcTime="2024-03-05T22:15:00")
    check("    UtcTime|hour: 22", event, True)
    check("    UtcTime|month: 4", event, False)


def test_expand_placeholder_with_configured_values() -> None:
    event = sysmon1(User="CORP\\adm_bob")
    rule = proc_rule("  sel:\n    User|expand: '%admins%'\n  condition: sel\n")
    det = detector(rule, placeholders={"admins": ["CORP\\adm_bob", "CORP\\adm_eve"]})
    assert fires(det, event) == [RID]
    assert fires(det, sysmon1(User="CORP\\alice")) == []


def test_unconfigured_placeholder_is_a_compile_error() -> None:
    from tests.detect.sigma_helpers import ruleset

    from guetteur.detect.engine import Detector

    det = Detector(ruleset(proc_rule("  sel:\n    User|expand: '%admins%'\n  condition: sel\n")))
    assert det.rules == {}
    assert len(det.errors) == 1 and "%admins%" in det.errors[0].reason


def test_list_field_matches_any_element() -> None:
    event = sysmon1()
    event["process"] = {"args": ["cmd.exe", "/c", "whoami"]}
    det = detector(
        """
title: args
id: 00000000-0000-0000-0000-000000000009
logsource: {category: process_creation}
detection:
  sel:
    process.args: whoami
  condition: sel
"""
    )
    assert fires(det, event) == ["00000000-0000-0000-0000-000000000009"]


def test_keywords_search_every_string_including_original() -> None:
    det = detector(
        """
title: kw
id: 00000000-0000-0000-0000-000000000002
logsource: {product: linux, service: auth}
detection:
  keywords:
    - 'session opened for user root'
    - 'FAILED SU'
  condition: keywords
"""
    )
    base = {"event": {"module": "linux", "dataset": "linux_auth"}, "process": {"name": "su"}}
    hit = {**base, "message": "pam_unix(su:session): Session opened for user ROOT by bob"}
    miss = {**base, "message": "pam_unix(su:session): session closed for user root"}
    original = {**base, "event": {**base["event"], "original": "... FAILED SU (to root) bob on pts/0"}}
    assert fires(det, hit) == ["00000000-0000-0000-0000-000000000002"]
    assert fires(det, miss) == []
    assert fires(det, original) == ["00000000-0000-0000-0000-000000000002"]


CIDR_NETWORKS = ["10.0.0.0/8", "192.168.1.0/24", "0.0.0.0/0", "203.0.113.7/32", "fc00::/7", "::ffff:0:0/96",
                 "2001:db8::/32", "::/0"]
CIDR_VALUES = ["10.1.2.3", "10.255.255.255", "11.0.0.0", "9.255.255.255", "192.168.1.200", "192.168.2.1",
               "203.0.113.7", "203.0.113.8", "0.0.0.0", "255.255.255.255", "fd12::1", "fe80::1%eth0",
               "[2001:db8::5]", "2001:db9::", "::ffff:10.1.2.3", "::", "010.1.2.3", "10.1.2", "", "host.example",
               "1.2.3.4.5", "[10.1.2.3]", "2001:db8::zz"]


@pytest.mark.parametrize("network", CIDR_NETWORKS)
def test_cidr_matches_what_the_standard_library_says(network: str) -> None:
    """The `cidr` modifier compares integers from a cached parse: the same answer as
    `ipaddress.ip_address(value) in ip_network(network)` for IPv4, IPv6, mapped, scoped,
    bracketed and invalid values, and an address of the other version never matches."""
    import ipaddress

    net = ipaddress.ip_network(network)
    for value in CIDR_VALUES:
        try:
            address = ipaddress.ip_address(value.strip("[]").split("%", 1)[0])
            expected = address.version == net.version and address in net
        except ValueError:
            expected = False
        event = sysmon1(DestinationIp=value)
        check(f"    DestinationIp|cidr: '{network}'", event, expected)
        check(f"    DestinationIp|cidr: '{network}'", event, expected)  # the cached answer
