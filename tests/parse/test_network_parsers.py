"""Network parsers: netfilter/UFW, pfSense filterlog, Cisco ASA, Suricata, Zeek.

Real samples from /work/shared/data (skipped when absent), Elastic's expected output
where one exists, and hostile input through the registry and each parse function.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parser_hints import FUZZED_FAMILIES, hints_of

from guetteur import ecs
from guetteur.model import RawRecord
from guetteur.parse import cisco_asa, parse_record, zeek
from guetteur.parse.cisco_asa import parse_asa_text
from guetteur.parse.community_id import community_id
from guetteur.parse.netfilter import parse_netfilter_message
from guetteur.parse.pfsense import parse_filterlog_message
from guetteur.parse.suricata import parse_eve, parse_fast

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "logs"
FIX = DATA / "elastic-fixtures"
CROWDSEC = DATA / "crowdsec-hub/tests"
ASA_DIR = FIX / "from-elastic-package/false_positives/cisco_asa/data_stream/log/_dev/test/pipeline"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


def record(text: str, hint: str | None = None, peer: str | None = None, received: float | None = None) -> RawRecord:
    return RawRecord(text, received or time.time(), "file", hint=hint, peer=peer)


# Enrichment Elastic adds (GeoIP, ASN, agent, versions), `log.level` (our one severity scale
# says "info" where Elastic writes "informational"), and vendor namespaces.
_SKIP = ("ecs.", "event.ingested", "event.original", "event.created", "tags", "message", "related.",
         "source.geo", "destination.geo", "source.as", "destination.as", "event.timezone", "log.",
         "agent.", "input.", "fileset.", "service.", "host.", "iptables.", "cisco.", "pfsense.", "suricata.",
         "zeek.", "user_agent.", "process.", "observer.name", "event.kind", "_")


def _received_for(expected: dict) -> float:
    """Receive the record in the expected year so year-less syslog times land there."""
    stamp = expected.get("@timestamp", "")
    year = int(stamp[:4]) if stamp[:4].isdigit() else 2024
    return time.mktime((year, 12, 31, 12, 0, 0, 0, 0, 0))


def _score(pairs: list[tuple[str, dict]]) -> tuple[int, int]:
    same = total = 0
    for raw, want in pairs:
        got = ecs.flatten(parse_record(record(raw, received=_received_for(want))))
        assert "unparsed" not in (got.get("tags") or []), raw
        for key, value in ecs.flatten(want).items():
            if key.startswith(_SKIP) or key == "@timestamp" and "+" in str(value)[19:] or key == "@timestamp" \
                    and str(value)[19:23] not in (".000",):
                continue
            total += 1
            have = got.get(key)
            norm = sorted(map(str, value)) if isinstance(value, list) else str(value)
            same += (sorted(map(str, have)) if isinstance(have, list) else str(have)) == norm
    return same, total


def _pairs(path: Path) -> list[tuple[str, dict]]:
    raw = need(path).read_text().splitlines()
    expected = json.loads((path.parent / (path.name + "-expected.json")).read_text())["expected"]
    return list(zip(raw, expected, strict=False))


@pytest.mark.parametrize(("fixture", "target"), [
    ("from-elastic-integrations/iptables/log/test-ubiquiti.log", 0.90),
    ("from-elastic-integrations/pfsense/log/test-opensense-transport-dash.log", 0.90),
    ("from-elastic-integrations/suricata/eve/test-eve-tls-empty-subject.log", 0.90),
    ("from-elastic-integrations/zeek/http/test-http.log", 0.90),
])
def test_matches_elastic_expected_output(fixture: str, target: float) -> None:
    same, total = _score(_pairs(FIX / fixture))
    assert total > 10
    assert same / total >= target, f"{same}/{total}"


def test_cisco_asa_matches_elastic_expected_output() -> None:
    pairs: list[tuple[str, dict]] = []
    for path in sorted(need(ASA_DIR).glob("*.log")):
        pairs += _pairs(path)
    assert len(pairs) == 536
    same, total = _score(pairs)
    assert same / total >= 0.98, f"{same}/{total}"


def test_cisco_asa_every_decoded_id_matches_its_elastic_samples() -> None:
    """A pattern of the id table that stops matching Elastic's own sample lines is a regression."""
    missed = []
    seen = set()
    for path in sorted(need(ASA_DIR).glob("*.log")):
        for line in path.read_text().splitlines():
            tag = re.search(r"%(?:ASA|FTD)-(?:\w+-)?\d-(\d{6}): ?", line)
            if tag is None or tag.group(1) not in cisco_asa._RULES:
                continue
            seen.add(tag.group(1))
            body = line[tag.end():].strip()
            if not any(pattern.search(body) for pattern, _ in cisco_asa._RULES[tag.group(1)][0]):
                missed.append(line)
    assert len(seen) > 60
    # 710006 "... to fw111:192.18.4" has no port: Elastic decodes nothing there either
    assert [line for line in missed if "710006" not in line] == []


@pytest.mark.parametrize("folder", ["iptables-logs", "iptables-scan-multi-port", "pf-logs", "pf-scan-multi-port",
                                    "pfsense-rfc5424-filterlog", "suricata-eve-detect", "suricata-logs-evelog",
                                    "suricata-logs-fastlog"])
def test_every_crowdsec_sample_is_parsed(folder: str) -> None:
    lines = [line for line in need(CROWDSEC / folder / f"{folder}.log").read_text().splitlines() if line.strip()]
    family = {"iptables": "netfilter", "pf": "pfsense", "pfsense": "pfsense", "suricata": "suricata"}
    for line in lines:
        event = parse_record(record(line))
        assert "unparsed" not in event.get("tags", []), line
        assert event["event"]["dataset"].startswith(family[folder.split("-")[0]]), line


def test_every_wazuh_cisco_asa_line_is_parsed() -> None:
    text = need(DATA / "wazuh-ruleset-tests/tests/cisco_asa.ini").read_text()
    lines = [m.group(1) for m in re.finditer(r"^log \d+ \w+ = (.*)$", text, re.M)]
    assert len(lines) == 87
    for line in lines:
        event = parse_record(record(line))
        assert event["event"]["dataset"] == "cisco_asa_line", line
        assert event["event"]["code"].isdigit()


def test_ufw_prefixes_name_the_rule() -> None:
    lines = need(CROWDSEC / "iptables-scan-multi-port/iptables-scan-multi-port.log").read_text().splitlines()
    ufw = [parse_record(record(line)) for line in lines if "[UFW " in line]
    assert len(ufw) == 32
    blocked = [e for e in ufw if e["rule"]["name"] == "UFW BLOCK"]
    assert len(blocked) == 16
    assert all(e["event"]["action"] == "block" and "denied" in e["event"]["type"] for e in blocked)
    audit = [e for e in ufw if e["rule"]["name"] == "UFW AUDIT"]
    assert all(e["event"]["action"] == "audit" for e in audit) and len(audit) == 16


def test_netfilter_fields() -> None:
    base = {"host": {"name": "fw"}}
    event = parse_netfilter_message(
        "[12.5] DROP IN=eth0 OUT= MAC=01:02:03:04:05:06:0a:0b:0c:0d:0e:0f:86:dd SRC=2001:db8::1 DST=2001:db8::2 "
        "LEN=60 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=ICMPv6 TYPE=128 CODE=0 ID=1 SEQ=2", base)
    assert event is not None
    assert event["network"]["type"] == "ipv6" and event["network"]["transport"] == "ipv6-icmp"
    assert event["source"] == {"mac": "0A-0B-0C-0D-0E-0F", "ip": "2001:db8::1"}
    assert event["iptables"]["icmp"] == {"type": 128, "code": 0, "id": 1, "seq": 2}
    assert event["rule"]["name"] == "DROP" and event["event"]["type"] == ["denied", "connection"]
    assert event["observer"]["name"] == "fw"
    assert parse_netfilter_message("nothing to see", {}) is None


def test_pfsense_ipv4_tcp_and_udp() -> None:
    tcp = parse_filterlog_message(
        "5,,,1000000103,igb1,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,10.0.0.1,10.0.0.2,40000,22,0,S,1,,64240,,mss",
        {"host": {"name": "pf"}})
    assert tcp is not None
    assert tcp["source"]["port"] == 40000 and tcp["destination"]["port"] == 22
    assert tcp["event"]["type"] == ["connection", "denied"] and tcp["network"]["direction"] == "inbound"
    assert tcp["observer"]["ingress"]["interface"]["name"] == "igb1"
    assert tcp["pfsense"]["tcp"]["flags"] == "S"
    udp = parse_filterlog_message("5,,,1000,em0,match,pass,out,4,0x0,,64,1,0,none,17,udp,76,1.1.1.1,2.2.2.2,5,53,56",
                                  {})
    assert udp is not None and udp["pfsense"]["udp"]["length"] == 56 and udp["network"]["transport"] == "udp"
    assert parse_filterlog_message("not,a,filterlog", {}) is None


def test_cisco_asa_core_messages() -> None:
    received = time.mktime((2023, 6, 1, 0, 0, 0, 0, 0, 0))
    built = parse_asa_text("May  5 17:51:17 fw1: %ASA-6-302013: Built outbound TCP connection 7 for "
                           "outside:1.1.1.1/443 (1.1.1.1/443) to inside:10.0.0.5/5555 (2.2.2.2/5555)", {}, received)
    assert built is not None
    assert built["source"]["ip"] == "10.0.0.5" and built["destination"]["ip"] == "1.1.1.1"
    assert built["observer"]["hostname"] == "fw1" and built["event"]["severity"] == 6
    assert built["@timestamp"] == "2023-05-05T17:51:17.000Z"
    teardown = parse_asa_text("%ASA-6-302014: Teardown TCP connection 7 for outside:1.1.1.1/443 to "
                              "inside:10.0.0.5/5555 duration 0:01:05 bytes 1234 TCP FINs", {}, received)
    assert teardown is not None
    assert teardown["event"]["duration"] == 65_000_000_000 and teardown["network"]["bytes"] == 1234
    assert teardown["event"]["reason"] == "TCP FINs"
    aaa = parse_asa_text("%ASA-6-113015: AAA user authentication Rejected : reason = Invalid password : "
                         "local database : user = bob : user IP = 10.1.1.1", {}, received)
    assert aaa is not None
    assert aaa["event"]["outcome"] == "failure" and aaa["source"]["user"]["name"] == "bob"
    assert aaa["source"]["ip"] == "10.1.1.1" and aaa["event"]["category"] == ["authentication", "network"]
    deny = parse_asa_text("%ASA-2-106007: Deny inbound UDP from 192.168.0.66/12981 to 10.1.2.60/53 due to DNS Query",
                          {}, received)
    assert deny is not None and deny["event"]["type"] == ["connection", "denied"]
    assert deny["network"]["community_id"] == "1:EA2VznrREgv+x0TbcMCtUOcSiT8="  # Elastic's value
    assert parse_asa_text("no tag here", {}, received) is None


def _asa(body: str, header: str = "Jun 21 2022 11:47:08 fw1 : ") -> dict:
    event = parse_asa_text(header + body, {}, time.mktime((2022, 7, 1, 0, 0, 0, 0, 0, 0)))
    assert event is not None
    return ecs.flatten(event)


def test_cisco_asa_nat_follows_the_connection_direction() -> None:
    """Outbound 302013: the "for" side is the destination, and so are its mapped address and port;
    `*.nat.*` only appears where the firewall translated."""
    e = _asa("%ASA-6-302013: Built outbound TCP connection 7 for outside:1.1.1.1/443 (1.1.1.1/443) to "
             "inside:10.0.0.5/5555 (2.2.2.2/6666)")
    assert (e["source.ip"], e["source.port"], e["destination.ip"], e["destination.port"]) == \
        ("10.0.0.5", 5555, "1.1.1.1", 443)
    assert (e["cisco.asa.mapped_source_ip"], e["cisco.asa.mapped_source_port"]) == ("2.2.2.2", 6666)
    assert (e["cisco.asa.mapped_destination_ip"], e["cisco.asa.mapped_destination_port"]) == ("1.1.1.1", 443)
    assert (e["source.nat.ip"], e["source.nat.port"]) == ("2.2.2.2", 6666)
    assert not any(key.startswith("destination.nat") for key in e)
    assert (e["cisco.asa.source_interface"], e["observer.egress.interface.name"]) == ("inside", "outside")
    assert e["network.direction"] == "outbound" and e["cisco.asa.connection_id"] == "7"
    assert set(e["related.ip"]) == {"10.0.0.5", "2.2.2.2", "1.1.1.1"}


def test_cisco_asa_identity_annotations() -> None:
    """`(LOCAL\\user, sgt)` after an endpoint, the terminating user, domain and e-mail forms."""
    e = _asa("%ASA-6-302015: Built inbound UDP connection 7 for outside:81.2.69.142/3424 (81.2.69.142/3424)"
             "(LOCAL\\alice, 123) to inside:89.160.20.112/9803 (89.160.20.112/9803)(LOCAL\\dave, 246) (bob)")
    assert e["cisco.asa.source_username"] == "LOCAL\\alice" and e["source.user.name"] == "alice"
    assert e["cisco.asa.source_user_security_group_tag"] == 123
    assert e["destination.user.name"] == "dave" and e["user.name"] == "dave"
    assert e["cisco.asa.destination_user_security_group_tag"] == 246 and e["cisco.asa.termination_user"] == "bob"
    e = _asa("%ASA-6-302014: Teardown TCP connection 261246338 for OUTSIDE:67.43.156.15/50120(LOCAL\\corp\\USER1) to "
             "OUTSIDE:1.128.3.4/443 duration 0:02:05 bytes 9610 TCP FINs from OUTSIDE (corp\\USER1)")
    assert (e["source.user.name"], e["source.user.domain"]) == ("USER1", "corp")
    assert (e["event.reason"], e["cisco.asa.termination_initiator"]) == ("TCP FINs", "OUTSIDE")
    assert e["cisco.asa.termination_user"] == "corp\\USER1" and e["event.duration"] == 125_000_000_000
    assert e["event.start"] == "2022-06-21T11:45:03.000Z" and e["event.end"] == e["@timestamp"]
    e = _asa("%ASA-6-302016: Teardown UDP connection 9828 for outside:192.168.48.1/67 to NP Identity Ifc:"
             "255.255.255.255/68 duration 0:58:46 bytes 58512")
    assert e["cisco.asa.destination_interface"] == "NP Identity Ifc" and e["network.bytes"] == 58512
    assert "event.reason" not in e
    e = _asa("%ASA-6-305011: Built dynamic TCP translation from in:10.0.0.1/5(user@example.com) to out:1.2.3.4/6")
    assert (e["source.user.name"], e["source.user.domain"]) == ("user", "example.com")


def test_cisco_asa_vpn_and_login_messages() -> None:
    e = _asa("%ASA-6-113039: Group <VPN USERS> User <j.doe> IP <67.43.156.14> AnyConnect parent session started.")
    assert (e["source.user.group.name"], e["source.user.name"], e["source.ip"]) == \
        ("VPN USERS", "j.doe", "67.43.156.14")
    assert (e["event.action"], e["event.category"], e["event.type"]) == \
        ("client-vpn-connected", ["network", "session"], ["connection", "start"])
    e = _asa("%ASA-4-722037: Group GP User paul IP 81.2.69.142 SVC closing connection: DPD failure.")
    assert (e["source.user.name"], e["event.reason"]) == ("paul", "DPD failure")
    e = _asa("%ASA-4-113019: Group = g1, Username = u1, IP = 81.2.69.144, Session disconnected. Session Type: "
             "LAN-to-LAN, Duration: 0h:32m:16s, Bytes xmt: 297103, Bytes rcv: 1216163, Reason: User Requested")
    assert (e["event.duration"], e["source.bytes"], e["destination.bytes"]) == (1936_000_000_000, 297103, 1216163)
    assert e["event.action"] == "client-vpn-disconnected" and e["cisco.asa.session_type"] == "LAN-to-LAN"
    e = _asa("%ASA-6-716039: Authentication: rejected, group = malcorp user = eve , Session Type: admin")
    assert (e["event.outcome"], e["source.user.name"], e["source.user.group.name"]) == ("failure", "eve", "malcorp")
    e = _asa("%ASA-4-750003: Local:81.2.69.144:500 Remote:192.168.2.2:500 Username:admin Negotiation aborted due "
             "to ERROR: Failed to locate an item in the database")
    assert e["event.reason"] == "Negotiation aborted due to Failed to locate an item in the database"
    assert (e["source.port"], e["destination.ip"], e["user.name"]) == (500, "192.168.2.2", "admin")
    e = _asa("%ASA-6-734001: DAP: User a.b@example.net, Addr 81.2.69.144, Connection AnyConnect: The following DAP "
             "records were selected for this connection: dap_1, dap_2")
    assert e["cisco.asa.dap_records"] == ["dap_1", "dap_2"] and e["event.action"] == "logged-in"


def test_cisco_asa_denies_filters_and_urls() -> None:
    e = _asa('%ASA-4-106023: Deny protocol 47 src outside:81.2.69.144 dst inside:172.31.98.44 by access-group "in"')
    assert (e["network.iana_number"], e["network.transport"], e["cisco.asa.rule_name"]) == ("47", "gre", "in")
    assert (e["event.type"], e["event.outcome"]) == (["connection", "denied"], "success")
    e = _asa("%ASA-4-338008: Dynamic Filter dropped blacklisted TCP traffic from inside:10.1.1.1/33340 "
             "(10.2.1.1/33340) to out:192.168.2.223/80 (192.168.2.223/80), destination 192.168.2.223 resolved from "
             "dynamic list: bad.example.com, threat-level: very-high, category: Malware")
    assert (e["event.type"], e["event.outcome"]) == (["connection", "denied"], "failure")
    assert (e["destination.domain"], e["cisco.asa.threat_level"], e["source.nat.ip"]) == \
        ("bad.example.com", "very-high", "10.2.1.1")
    e = _asa("%ASA-4-338004: Dynamic Filter monitored blacklisted TCP traffic from inside:10.1.1.1/33340 "
             "(10.2.1.1/33340) to out:192.168.2.223/80 (192.168.2.223/80), destination 192.168.2.223 resolved from "
             "dynamic list: 192.168.2.223/255.255.255.255, threat-level: high, category: Malware")
    assert e["event.category"] == ["network", "intrusion_detection"] and "destination.domain" not in e
    e = _asa("%ASA-5-304002: Access denied URL http://www.example.net/images/favicon.ico SRC 10.69.6.39 DEST "
             "192.168.0.19 on interface inside")
    assert (e["url.domain"], e["url.path"], e["url.extension"]) == ("www.example.net", "/images/favicon.ico", "ico")
    e = _asa("%ASA-4-313005: No matching connection for ICMP error message: icmp src a:10.0.0.1(LOCAL\\grp\\bob) dst "
             "b:10.0.0.2 (type 3, code 3) on a interface.  Original IP payload: udp src 10.0.0.2/53 dst 10.0.0.1/999.")
    assert (e["source.user.name"], e["source.user.group.name"], e["source.port"]) == ("bob", "grp", 53)
    e = _asa("%ASA-3-313008: Denied IPv6-ICMP type=134, code=0 from fe80::1ff:fe23:4567:890a on interface ISP1")
    assert (e["network.transport"], e["network.iana_number"], e["source.ip"]) == \
        ("ipv6-icmp", "58", "fe80::1ff:fe23:4567:890a")
    e = _asa("%ASA-6-302021: Teardown ICMP connection for faddr ff02::1/0 gaddr fe80::2/0 laddr fe80::2/0 "
             "type 134 code 0")
    assert (e["destination.ip"], e["source.ip"]) == ("ff02::1", "fe80::2") and "cisco.asa.source_interface" not in e
    e = _asa("%ASA-6-302020: Built inbound ICMP connection for faddr out:10.0.0.9/0 gaddr 1.1.1.1/0 laddr "
             "in:10.0.0.1/0 type 8 code 0")
    assert (e["cisco.asa.source_interface"], e["source.nat.ip"], e["cisco.asa.icmp_type"]) == ("in", "1.1.1.1", 8)


def test_cisco_asa_headers() -> None:
    """Host names that start like a zone abbreviation, `<PRI>` and a bare `<IP>:` process word."""
    e = _asa("%ASA-2-106017: Deny IP due to Land Attack from 10.1.1.1 to 10.1.1.1", "Apr 17 2020 14:15:07 SNL-ASA-A01 : ")
    assert e["host.hostname"] == "SNL-ASA-A01" and e["observer.hostname"] == "SNL-ASA-A01"
    e = _asa("%ASA-6-113004: AAA user accounting Successful : server =  192.168.0.8 : user = sample-user",
             "<190>Mar 03 2023 09:01:16 sac-fw : ")
    assert (e["log.syslog.priority"], e["log.syslog.facility.code"], e["log.syslog.severity.code"]) == (190, 23, 6)
    assert (e["cisco.asa.aaa_type"], e["source.user.name"], e["destination.ip"]) == \
        ("accounting", "sample-user", "192.168.0.8")
    e = _asa("%ASA-6-106015: Deny TCP (no connection) from 1.1.1.1/1 to 2.2.2.2/2 flags RST  on interface outside",
             "Dec 11 2018 08:01:38 <IP>: ")
    assert e["process.name"] == "<IP>" and "host.hostname" not in e
    e = _asa("%ASA-session-3-106102: access-list acl permitted udp for user bob out/10.1.1.1(49721) -> in/10.2.2.2(53)"
             " hit-cnt 1 first hit", "Aug  6 2020 11:01:37: ")
    assert (e["cisco.asa.suffix"], e["user.name"], e["event.type"]) == ("session", "bob", ["connection", "allowed"])


def test_suricata_alert_http_dns_flow() -> None:
    lines = need(CROWDSEC / "suricata-eve-detect/suricata-eve-detect.log").read_text().splitlines()
    alert = parse_eve(json.loads(lines[0]), lines[0], record(lines[0]))
    assert alert is not None
    assert alert["event"]["kind"] == "alert" and alert["rule"]["id"] == "2034125"
    assert alert["url"]["original"].startswith("/cgi-bin/") and alert["http"]["response"]["status_code"] == 400
    assert alert["source"]["ip"] == "1.2.3.4" and alert["destination"]["port"] == 80
    dns = parse_eve({"timestamp": "2024-01-01T00:00:00.000000+0000", "event_type": "dns", "src_ip": "10.0.0.1",
                     "src_port": 5353, "dest_ip": "8.8.8.8", "dest_port": 53, "proto": "UDP",
                     "dns": {"type": "answer", "id": 1, "rrname": "example.org", "rrtype": "A", "rcode": "NOERROR",
                             "answers": [{"rrname": "example.org", "rrtype": "A", "ttl": 60, "rdata": "93.184.216.34"}]}},
                    "", record(""))
    assert dns is not None and dns["dns"]["resolved_ip"] == ["93.184.216.34"]
    assert dns["network"]["protocol"] == "dns"
    fast = parse_fast("07/11/2022-10:29:32.251216  [**] [1:2008578:4] ET SCAN Sipvicious Scan [**] "
                      "[Classification: Attempted Information Leak] [Priority: 2] {UDP} 89.248.163.216:5116 -> "
                      "172.31.18.55:5060", record(""))
    assert fast is not None and fast["rule"]["id"] == "2008578" and fast["source"]["port"] == 5116


def test_zeek_tsv_headers_are_remembered_per_file() -> None:
    """Two files interleaved: each data line is read with its own file's columns."""
    zeek.reset_state()
    dns = need(DATA / "security-datasets/compound/LSASS_campaign_01/zeek/dns.log").read_text().splitlines()
    conn = need(DATA / "security-datasets/compound/LSASS_campaign_01/zeek/conn.log").read_text().splitlines()
    events: dict[str, list[dict]] = {"dns": [], "conn": []}
    for pair in zip(dns, conn, strict=False):
        for name, line in zip(("dns", "conn"), pair, strict=True):
            events[name].append(parse_record(record(line, peer=f"/logs/{name}.log")))
    data_dns = [e for e in events["dns"] if "zeek_header" not in e.get("tags", [])]
    data_conn = [e for e in events["conn"] if "zeek_header" not in e.get("tags", [])]
    assert data_dns and data_conn
    assert all("dns" in e and e["network"]["protocol"] == "dns" for e in data_dns)
    assert all("conn" in e["zeek"] for e in data_conn)
    # event.dataset names the log as Elastic does, from each file's own #path header
    assert {e["event"]["dataset"] for e in data_dns} == {"zeek.dns"}
    assert {e["event"]["dataset"] for e in data_conn} == {"zeek.conn"}
    assert all("unparsed" not in e.get("tags", []) for e in events["dns"] + events["conn"])
    first = data_conn[0]
    assert first["source"]["ip"] == "192.168.1.41" and first["destination"]["port"] == 53
    assert first["@timestamp"].startswith("2023-08-16T")


@pytest.mark.parametrize("hint", ["zeek_tsv", None])
def test_zeek_tsv_cut_separator_escape_is_no_header(hint: str | None, caplog: pytest.LogCaptureFixture) -> None:
    """`#separator \\x` (an escape cut short) is no header the parser can read: the record is
    kept as any other line, and the parser says so instead of raising (no traceback logged)."""
    zeek.reset_state()
    with caplog.at_level("ERROR"):
        event = parse_record(RawRecord("#separator \\x", time.time(), "file", hint, "/logs/conn.log"))
    assert event["event"]["original"] == "#separator \\x"
    assert "zeek_header" not in event.get("tags", [])
    assert not [r for r in caplog.records if "raised" in r.getMessage()]
    # a well-formed escape still sets the separator
    ok = parse_record(RawRecord("#separator \\x09", time.time(), "file", "zeek_tsv", "/logs/conn.log"))
    assert "zeek_header" in ok["tags"]


def test_zeek_json_variants() -> None:
    for path in sorted(need(DATA / "security-datasets/compound/apt29/day1/zeek").glob("*.log")):
        for line in path.read_text().splitlines()[:50]:
            event = parse_record(record(line))
            stream = json.loads(line)["@stream"]
            assert event["event"]["dataset"] == f"zeek.{stream}", line[:100]
            assert stream in event["zeek"]


_CONN = {"ts": 1700000000.5, "uid": "CzVQ1m3aaJ7ZKq2Xi", "id.orig_h": "10.0.0.5", "id.orig_p": 49152,
         "id.resp_h": "93.184.216.34", "id.resp_p": 443, "proto": "tcp", "service": "ssl", "duration": 1.5,
         "orig_bytes": 700, "resp_bytes": 5000, "conn_state": "SF", "local_orig": True, "local_resp": False,
         "orig_ip_bytes": 900, "resp_ip_bytes": 5300, "orig_pkts": 8, "resp_pkts": 9}
_DNS = {"ts": 1700000001.0, "uid": "C2", "id.orig_h": "10.0.0.5", "id.orig_p": 5353, "id.resp_h": "10.0.0.1",
        "id.resp_p": 53, "proto": "udp", "trans_id": 7, "query": "example.com", "qtype_name": "A",
        "rcode_name": "NOERROR", "answers": ["93.184.216.34"]}
_HTTP = {"ts": 1700000002.0, "uid": "C3", "id.orig_h": "10.0.0.5", "id.orig_p": 50000, "id.resp_h": "10.0.0.80",
         "id.resp_p": 80, "trans_depth": 1, "method": "GET", "host": "intranet", "uri": "/", "status_code": 200}


@pytest.mark.parametrize(("obj", "dataset"), [
    ({**_CONN, "_path": "conn"}, "zeek.conn"),
    ({**_CONN, "@stream": "conn"}, "zeek.conn"),
    (_CONN, "zeek.conn"),  # no name: guessed from conn_state
    ({**_DNS, "_path": "dns"}, "zeek.dns"),
    (_DNS, "zeek.dns"),
    ({**_HTTP, "_path": "http"}, "zeek.http"),
    (_HTTP, "zeek.http"),
    ({"ts": 1700000003.0, "uid": "C4", "_path": "weird", "name": "bad_TCP_checksum"}, "zeek.weird"),
    ({"ts": 1700000003.0, "uid": "C5", "id.orig_h": "10.0.0.5"}, "zeek.unknown"),
    ({**_CONN, "_path": "Conn"}, "zeek.conn"),
    ({**_CONN, "_path": "conn; DROP TABLE events"}, "zeek.unknown"),
    ({**_CONN, "_path": "x" * 500}, "zeek.unknown"),
])
def test_zeek_json_dataset_names_the_log(obj: dict, dataset: str) -> None:
    event = parse_record(record(json.dumps(obj)))
    assert event["event"]["dataset"] == dataset
    assert dataset.removeprefix("zeek.") in event["zeek"]


def test_zeek_tsv_dataset_from_path_header() -> None:
    """Hand-written TSV: the #path header names the dataset; header lines keep `zeek_tsv`."""
    zeek.reset_state()
    lines = [
        "#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", "#path\tconn",
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tconn_state",
        "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tstring",
        "1700000000.000000\tCabc\t10.0.0.5\t49152\t10.0.0.1\t53\tudp\tdns\tSF",
    ]
    events = [parse_record(record(line, peer="/opt/zeek/logs/current/conn.log")) for line in lines]
    assert all(e["event"]["dataset"] == "zeek_tsv" for e in events[:-1])
    data = events[-1]
    assert data["event"]["dataset"] == "zeek.conn"
    assert data["source"]["ip"] == "10.0.0.5" and data["destination"]["port"] == 53
    assert data["network"]["protocol"] == "dns"


def test_zeek_dataset_routes_to_product_and_service() -> None:
    """detect's classification of the new dataset names: product zeek, the log as service."""
    from guetteur.detect.logsource import classify

    for obj, service in ((_CONN, "conn"), (_DNS, "dns"), (_HTTP, "http")):
        source = classify(parse_record(record(json.dumps(obj))))
        assert source.product == "zeek"
        assert service in source.services


def test_community_id_reference_values() -> None:
    """Values from the Community ID spec's test vectors."""
    assert community_id("tcp", "128.232.110.120", "66.35.250.204", 34855, 80) == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
    assert community_id("udp", "192.168.1.52", "8.8.8.8", 54585, 53) == "1:d/FP5EW3wiY1vCndhwleRRKHowQ="
    assert community_id("icmp", "192.168.0.89", "192.168.0.1", 8, 0) == "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="
    assert community_id("tcp", "not-an-ip", "1.1.1.1", 1, 2) is None


# ---- hostile input -----------------------------------------------------------------------------

_HINTS = hints_of(*FUZZED_FAMILIES["test_network_parsers.py"])  # from the registry


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)), st.sampled_from(_HINTS))
def test_garbage_never_raises(data: str | bytes, hint: str | None) -> None:
    assert "event" in parse_record(RawRecord(data, time.time(), "syslog-udp", hint=hint))


_TOKENS = st.sampled_from(["IN=", "SRC=1.2.3.4", "DST=", "PROTO=TCP", "SPT=x", "DPT=99999999999", "MAC=zz:",
                           "%ASA-6-302013:", "Built", "inbound", "for", "to", "a:1.1.1.1/1", "(", ")", "duration",
                           "0:0:0", "bytes", ",", "4", "6", "tcp", "#fields", "\t", "-", "[UFW BLOCK]", "filterlog:"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS, max_size=25))
def test_token_soup_never_raises(tokens: list[str]) -> None:
    text = " ".join(tokens)
    parse_netfilter_message(text, {})
    parse_filterlog_message(text.replace(" ", ","), {})
    parse_asa_text(text, {}, time.time())
    parse_fast(text, record(text))
    parse_record(record(text, hint="zeek_tsv", peer="soup"))
    parse_record(record("<134>Jan  1 00:00:00 fw filterlog: " + text.replace(" ", ",")))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=15),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["timestamp", "event_type", "src_ip", "dest_ip", "src_port", "proto",
                                        "alert", "http", "dns", "tls", "flow", "fileinfo", "ts", "uid",
                                        "id.orig_h", "id.orig_p", "@stream", "query", "method", "result"]),
                       _json_values, max_size=8))
def test_wrong_shaped_json_never_raises(obj: dict) -> None:
    parse_eve(obj, "", record(""))
    zeek.parse_zeek_json(obj, "", record(""))
    parse_record(record(json.dumps(obj, default=str)))


_ASA_TOKENS = st.sampled_from([
    "%ASA-6-302013:", "%ASA-4-106023:", "%FTD-6-302014:", "%ASA-6-113039:", "%ASA-4-338008:", "%ASA-5-304001:",
    "%ASA-4-313005:", "%ASA-6-302020:", "%ASA-4-750003:", "%ASA-4-419002:", "Built", "Teardown", "inbound",
    "outbound", "TCP", "icmp", "protocol", "47", "connection", "for", "from", "to", "src", "dst", "faddr", "gaddr",
    "laddr", "a:1.1.1.1/1", "fe80::1/0", "x:fe80::1", "(1.1.1.1/2)", "(LOCAL\\u, 5)", "(u)", "Group", "User", "IP",
    "<g>", "<", ">", "=", ",", ":", "duration", "0:00:01", "0h:1m:2s", "bytes", "access-list", "->", "(3)",
    "resolved", "list:", "threat-level:", "ERROR:", "Local:1.1.1.1:5", "Remote:", "Username:x", "http://a/b.c",
    "on", "interface", "by", "access-group", '"acl"', "type", "code", "8", "(type 3, code 3)", "\\", "@"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_ASA_TOKENS, max_size=30), st.sampled_from(["", "<190>Jun  1 2022 11:47:08 fw : ", "Jun 1 x: "]))
def test_cisco_asa_token_soup_never_raises(tokens: list[str], header: str) -> None:
    """Message-id tags followed by pieces of every decoded pattern, in any order."""
    text = header + " ".join(tokens)
    event = parse_asa_text(text, {}, time.time())
    assert event is None or event["event"]["code"].isdigit()
    assert "event" in parse_record(record(text, hint="cisco_asa"))


def test_cisco_asa_oversized_repetitive_bodies_are_parsed() -> None:
    """60 kB bodies made of the words the patterns look for (backtracking bombs for careless regexes)."""
    for code in sorted(cisco_asa._RULES):
        for unit in ("from ", "for x", "src a:", "Group <", "to a:1.1.1.1/1 ", "resolved from list: "):
            event = parse_asa_text(f"%ASA-6-{code}: " + unit * (60_000 // len(unit)), {}, time.time())
            assert event is not None and event["event"]["code"] == code


def test_truncated_real_lines_never_raise() -> None:
    samples = []
    for path in (CROWDSEC / "iptables-logs/iptables-logs.log", CROWDSEC / "pf-logs/pf-logs.log",
                 CROWDSEC / "suricata-eve-detect/suricata-eve-detect.log", ASA_DIR / "test-sample.log"):
        samples += need(path).read_text().splitlines()[:3]
    for line in samples:
        for cut in range(0, len(line), max(1, len(line) // 40)):
            parse_record(record(line[:cut]))
            parse_record(record(line[:cut], hint="cisco_asa"))
