"""Windows parsers: EVTX JSON, event XML, Winlogbeat JSON, flattened NXLog/Azure exports.

Real samples from /work/shared/data (skipped when absent); hostile input through the
registry and the parse functions directly.
"""

from __future__ import annotations

import glob
import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parser_hints import FUZZED_FAMILIES, hints_of

from guetteur import ecs
from guetteur.model import RawRecord
from guetteur.parse import parse_record
from guetteur.parse.windows_ecs import _ARG, _split_quoted, split_command_line, windows_time
from guetteur.parse.windows_evtx import parse_evtx_import, parse_evtx_json
from guetteur.parse.windows_flat import parse_flat
from guetteur.parse.windows_xml import parse_event_xml, parse_xml_record
from guetteur.parse.winlogbeat import parse_winlogbeat

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SECURITY = DATA / "logs/elastic-fixtures/from-elastic-package/parallel/system/data_stream/security/_dev/test/pipeline"
CROWDSEC = DATA / "logs/crowdsec-hub/tests"
EVTX_DIR = DATA / "logs/windows-evtx/deepbluecli"
SIGMA = DATA / "sigma/regression_data"
OTRF = DATA / "logs/security-datasets"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


def record(text: str, hint: str | None = None) -> RawRecord:
    return RawRecord(text, time.time(), "http", hint=hint)


# Fields Elastic adds that are not the parser's to fill (agent metadata, enrichment).
_NOT_OURS = ("agent.", "ecs.", "event.ingested", "event.original", "log.file", "host.", "event.kind",
             "winlog.event_data.", "winlog.keywords", "winlog.process", "winlog.provider_guid", "log.level")


def test_winlogbeat_security_matches_elastic_expected_output() -> None:
    """>= 90% of the fields Elastic's pipeline sets on the Security fixtures come out equal."""
    need(SECURITY)
    total = same = 0
    for raw_path in sorted(SECURITY.glob("*.json")):
        if raw_path.name.endswith("-expected.json"):
            continue
        events = json.loads(raw_path.read_text())["events"]
        expected = json.loads((raw_path.parent / (raw_path.name + "-expected.json")).read_text())["expected"]
        for raw, want in zip(events, expected, strict=True):
            got = ecs.flatten(parse_record(record(json.dumps(raw))))
            assert got["event.dataset"] == "winlogbeat"
            for key, value in ecs.flatten(want).items():
                if key.startswith(_NOT_OURS):
                    continue
                total += 1
                norm = sorted(map(str, value)) if isinstance(value, list) else str(value)
                have = got.get(key)
                same += (sorted(map(str, have)) if isinstance(have, list) else str(have)) == norm
    assert total > 400
    assert same / total >= 0.90, f"{same}/{total}"


def test_4688_process_fields_and_event_data_kept() -> None:
    need(SECURITY)
    raw = json.loads((SECURITY / "test-security-windows2019-4688-process-created.json").read_text())["events"][0]
    event = parse_record(record(json.dumps(raw)))
    assert event["process"]["executable"] == "C:\\Windows\\System32\\wevtutil.exe"
    assert event["process"]["name"] == "wevtutil.exe"
    assert event["process"]["pid"] == 0x11CC
    assert event["process"]["parent"]["pid"] == 0x122C
    assert event["process"]["args"] == ['"C:\\Windows\\system32\\wevtutil.exe"', "cl", "Security"]
    # unlike Elastic, the original EventData stays whole: Sigma matches NewProcessName
    assert event["winlog"]["event_data"]["NewProcessName"] == "C:\\Windows\\System32\\wevtutil.exe"
    assert event["winlog"]["event_id"] == "4688"
    assert event["event"]["code"] == "4688"
    assert event["@timestamp"] == "2019-11-14T17:10:15.151Z"


def test_crowdsec_event_xml_4625() -> None:
    """Both crowdsec samples (plain XML and the Event Viewer copy with `- ` prefixes)."""
    for name in ("windows-bf/windows-bf.log", "windows-logs/windows-logs.log"):
        lines = [line for line in need(CROWDSEC / name).read_text().splitlines() if line.strip()]
        assert lines
        for line in lines:
            event = parse_record(record(line))
            assert "unparsed" not in event.get("tags", []), line[:80]
            assert event["event"]["dataset"] == "windows_xml"
            assert event["winlog"]["channel"] == "Security"
            assert event["winlog"]["event_id"] == "4625"
            assert event["event"]["action"] == "logon-failed"
            assert event["event"]["outcome"] == "failure"
            kind = {"3": "Network", "8": "NetworkCleartext", "10": "RemoteInteractive"}
            assert event["winlog"]["logon"]["type"] == kind[event["winlog"]["event_data"]["LogonType"]]
            assert event["host"]["name"] == "exchange-1.mydomain.test"
    first = parse_record(record(need(CROWDSEC / "windows-bf/windows-bf.log").read_text().splitlines()[0]))
    assert first["source"]["ip"] == "192.168.9.212"
    assert first["user"]["name"] == "asdfasdf"
    assert first["winlog"]["logon"]["failure"]["sub_status"] == "User logon with misspelled or bad user account"
    assert first["@timestamp"] == "2022-04-29T12:36:01.902Z"


def test_xml_entities_unnamed_data_and_user_data() -> None:
    xml = (
        '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
        '<Provider Name="Service Control Manager"/><EventID Qualifiers="16384">7036</EventID>'
        '<Level>4</Level><TimeCreated SystemTime="2020-01-02T03:04:05.678901Z"/>'
        "<EventRecordID>42</EventRecordID><Channel>System</Channel><Computer>pc</Computer></System>"
        "<EventData><Data>a &amp; b</Data><Data>running</Data></EventData></Event>"
    )
    event = parse_event_xml(xml)
    assert event is not None
    assert event["winlog"]["event_data"] == {"param1": "a & b", "param2": "running"}
    assert event["winlog"]["record_id"] == "42"
    cleared = (
        "<Event><System><Provider Name='Microsoft-Windows-Eventlog'/><EventID>1102</EventID>"
        "<Keywords>0x4020000000000000</Keywords><Channel>Security</Channel></System><UserData>"
        "<LogFileCleared xmlns='x'><SubjectUserSid>S-1-5-21-1</SubjectUserSid><SubjectUserName>bob"
        "</SubjectUserName><SubjectDomainName>D</SubjectDomainName><SubjectLogonId>0x1</SubjectLogonId>"
        "</LogFileCleared></UserData></Event>"
    )
    event = parse_event_xml(cleared)
    assert event is not None
    assert event["event"]["action"] == "audit-log-cleared"
    assert event["user"] == {"id": "S-1-5-21-1", "name": "bob", "domain": "D"}
    assert event["winlog"]["user_data"]["xml_name"] == "LogFileCleared"
    assert event["event"]["outcome"] == "success"


def _every_evtx() -> list[str]:
    return sorted(glob.glob(str(EVTX_DIR / "*.evtx"))) + sorted(glob.glob(str(SIGMA / "**/*.evtx"), recursive=True))


def test_every_evtx_sample_parses_with_string_event_data() -> None:
    """DeepBlueCLI and every SigmaHQ regression EVTX: parsed, EventData strings, times UTC."""
    from guetteur.collect.evtx import iter_evtx_records

    files = _every_evtx()
    if not files:
        pytest.skip("no evtx samples")
    count = 0
    for path in files:
        for rec in iter_evtx_records(path):
            event = parse_record(rec)
            count += 1
            assert event["event"]["dataset"] == "windows_evtx", path
            assert all(isinstance(v, str) for v in event["winlog"]["event_data"].values()), path
            assert event["@timestamp"].endswith("Z")
            assert event["winlog"]["event_id"] == event["event"]["code"]
    assert count > 600


def _json_objects(text: str) -> list[dict]:
    """SigmaHQ regression .json files hold concatenated pretty-printed objects."""
    decoder = json.JSONDecoder()
    out, pos = [], 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        obj, pos = decoder.raw_decode(text, pos)
        out.append(obj)
    return out


def test_sigma_regression_json_matches_evtx_rendering() -> None:
    """The evtx_dump JSON of each regression sample gives the same event_data as its EVTX."""
    from guetteur.collect.evtx import iter_evtx_records

    pairs = sorted(glob.glob(str(need(SIGMA) / "**/*.json"), recursive=True))
    checked = fields = equal = 0
    for json_path in pairs:
        evtx_path = json_path[:-5] + ".evtx"
        if not Path(evtx_path).exists():
            continue
        from_json = [parse_record(record(json.dumps(o))) for o in _json_objects(Path(json_path).read_text())]
        from_evtx = [parse_record(r) for r in iter_evtx_records(evtx_path)]
        assert len(from_json) == len(from_evtx), json_path
        for a, b in zip(from_json, from_evtx, strict=True):
            # the JSON files were exported separately and a few values were edited by hand
            # (case, trailing blanks): same names everywhere, same text nearly everywhere
            mine, theirs = a["winlog"]["event_data"], b["winlog"]["event_data"]
            assert mine.keys() == theirs.keys(), json_path
            fields += len(mine)
            equal += sum(mine[k].rstrip().casefold() == theirs[k].rstrip().casefold() for k in mine)
            assert a["event"].get("category") == b["event"].get("category")
        checked += 1
    assert checked > 150
    assert equal == fields


def test_sysmon_process_creation_ecs() -> None:
    from guetteur.collect.evtx import iter_evtx_records

    path = need(EVTX_DIR / "sliver-sysmon.evtx")
    events = [parse_record(r) for r in iter_evtx_records(path)]
    created = next(e for e in events if e["winlog"]["event_id"] == "1")
    assert created["event"]["category"] == ["process"] and created["event"]["type"] == ["start"]
    assert created["process"]["executable"] == created["winlog"]["event_data"]["Image"]
    assert created["process"]["parent"]["executable"] == created["winlog"]["event_data"]["ParentImage"]
    assert created["process"]["command_line"] == created["winlog"]["event_data"]["CommandLine"]
    assert created["process"]["hash"]["sha256"].islower()
    assert created["user"]["name"] and created["user"]["domain"]
    remote = next(e for e in events if e["winlog"]["event_id"] == "8")
    assert remote["process"]["executable"] == "C:\\JOINT_BALL.exe"
    assert remote["Target"]["process"]["name"] == "spoolsv.exe"


def test_sysmon_network_registry_dns_mapping() -> None:
    def sysmon(eid: str, data: dict[str, str]) -> dict:
        obj = {"Event": {"System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
                                    "EventID": int(eid), "Channel": "Microsoft-Windows-Sysmon/Operational",
                                    "TimeCreated": {"#attributes": {"SystemTime": "2024-01-01T00:00:00Z"}}},
                         "EventData": data}}
        event = parse_evtx_json(obj, "", record(""))
        assert event is not None
        return event

    net = sysmon("3", {"Image": "C:\\x.exe", "Protocol": "tcp", "Initiated": "true", "SourceIsIpv6": "false",
                       "SourceIp": "10.0.0.1", "SourcePort": "5000", "DestinationIp": "1.2.3.4",
                       "DestinationPort": "443", "DestinationHostname": "example.org"})
    assert net["source"] == {"ip": "10.0.0.1", "port": 5000}
    assert net["destination"] == {"ip": "1.2.3.4", "port": 443, "domain": "example.org"}
    assert net["network"]["direction"] == "egress" and net["network"]["transport"] == "tcp"
    reg = sysmon("13", {"EventType": "SetValue", "TargetObject": "HKLM\\SOFTWARE\\Run\\evil",
                        "Details": "DWORD (0x00000001)"})
    assert reg["registry"]["hive"] == "HKLM"
    assert reg["registry"]["key"] == "SOFTWARE\\Run" and reg["registry"]["value"] == "evil"
    assert reg["registry"]["data"] == {"strings": ["1"], "type": "SZ_DWORD"}
    dns = sysmon("22", {"QueryName": "evil.example", "QueryStatus": "0",
                        "QueryResults": "type:  5 cdn.example;::ffff:1.2.3.4;"})
    assert dns["dns"]["question"]["name"] == "evil.example"
    assert dns["dns"]["resolved_ip"] == ["1.2.3.4"]
    created = sysmon("11", {"Image": "C:\\a.exe", "TargetFilename": "C:\\Users\\x\\evil.PS1"})
    assert created["file"] == {"path": "C:\\Users\\x\\evil.PS1", "name": "evil.PS1",
                               "directory": "C:\\Users\\x", "extension": "ps1"}


def test_security_logon_events() -> None:
    def security(eid: str, data: dict[str, str], keywords: str = "0x8020000000000000") -> dict:
        obj = {"Event": {"System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
                                    "EventID": int(eid), "Channel": "Security", "Keywords": keywords},
                         "EventData": data}}
        event = parse_evtx_json(obj, "", record(""))
        assert event is not None
        return event

    logon = security("4624", {"SubjectUserName": "PC$", "TargetUserName": "alice", "TargetDomainName": "CORP",
                              "TargetUserSid": "S-1-5-21-9", "TargetLogonId": "0x99", "LogonType": 10,
                              "IpAddress": "::ffff:10.1.1.1", "IpPort": "3389"})  # type: ignore[dict-item]
    assert logon["user"] == {"id": "S-1-5-21-9", "name": "alice", "domain": "CORP"}
    assert logon["winlog"]["logon"] == {"id": "0x99", "type": "RemoteInteractive"}
    assert logon["source"] == {"ip": "10.1.1.1", "port": 3389}
    assert logon["winlog"]["event_data"]["LogonType"] == "10"  # number rendered back to the XML text
    assert logon["event"]["category"] == ["authentication"]
    group = security("4732", {"SubjectUserName": "admin", "MemberName": "CN=bob,OU=x,DC=corp,DC=local",
                              "TargetUserName": "Administrators", "TargetSid": "S-1-5-32-544"})
    assert group["group"] == {"id": "S-1-5-32-544", "name": "Administrators"}
    assert group["user"]["target"]["name"] == "bob"
    kerberos = security("4771", {"TargetUserName": "svc", "Status": "0x18", "IpAddress": "10.0.0.5"},
                        keywords="0x8010000000000000")
    assert kerberos["event"]["outcome"] == "failure"
    assert kerberos["user"]["name"] == "svc"


def test_otrf_flattened_and_azure_shapes() -> None:
    files = sorted(glob.glob(str(need(OTRF) / "atomic/windows/*/*.json")))
    files += [str(OTRF / "compound/Log4Shell/sysmon_log4shell_cve2021_44228_java_serialized_object_2022-05-13045800.json"),
              str(OTRF / "compound/Log4Shell/securityauditing_log4shell_cve2021_44228_java_serialized_object_2022-05-13045400.json"),
              str(OTRF / "compound/Log4Shell/syslog_sysmon_log4shell_cve2021_44228_jndi_reference_2022-05-11181020.json")]
    seen = 0
    for path in files:
        for line in Path(path).read_text().splitlines():
            if not line.strip():
                continue
            event = parse_record(record(line))
            seen += 1
            assert event["event"].get("dataset") in ("windows_flat", "windows_xml"), line[:120]
            assert event["winlog"]["event_id"]
            assert "EventID" not in event["winlog"]["event_data"]
            assert "Hostname" not in event["winlog"]["event_data"]
    assert seen > 8000


def test_flat_sysmon_keeps_event_data_names() -> None:
    line = json.dumps({"EventID": 1, "SourceName": "Microsoft-Windows-Sysmon", "Hostname": "WS5",
                       "Channel": "Microsoft-Windows-Sysmon/Operational", "@timestamp": "2020-10-21T09:40:38.926Z",
                       "Image": "C:\\w\\cmd.exe", "CommandLine": "cmd /c whoami", "ProcessId": "42",
                       "Keywords": -9223372036854775808, "Type": "0"})
    event = parse_flat(json.loads(line), line, record(line))
    assert event is not None
    assert event["winlog"]["event_data"] == {"Image": "C:\\w\\cmd.exe", "CommandLine": "cmd /c whoami",
                                             "ProcessId": "42", "Type": "0"}
    assert event["process"]["pid"] == 42
    assert event["host"]["name"] == "WS5"
    assert event["@timestamp"] == "2020-10-21T09:40:38.926Z"


def test_deep_json_under_the_import_hint_is_bounded() -> None:
    deep = '{"Event": {"System": {"EventID": 1}, "UserData": ' + '{"a": ' * 900 + "1" + "}" * 900 + "}}"
    event = parse_record(record(deep, "windows_evtx_import"))
    assert event["winlog"]["event_id"] == "1"
    nested = '{"Event": {"System": {"EventID": 1}, "EventData": {"X": ' + "[" * 500 + "]" * 500 + "}}}"
    assert parse_record(record(nested, "windows_evtx_import"))["winlog"]["event_data"]["X"] == ""


def test_evtx_xml_and_json_renderings_give_the_same_event() -> None:
    """The evtx library renders each record as XML and as JSON: the XML reader and the EVTX
    JSON reader (which skips the shared `WinSystem` step for speed) must agree on every field."""
    from evtx import PyEvtxParser

    files = _every_evtx()
    if not files:
        pytest.skip("no evtx samples")
    compared = 0
    for path in files:
        as_xml = [r["data"] for r in PyEvtxParser(path, number_of_threads=1).records()]
        as_json = [r["data"] for r in PyEvtxParser(path, number_of_threads=1).records_json()]
        assert len(as_xml) == len(as_json), path
        for xml, text in zip(as_xml, as_json, strict=True):
            from_xml = parse_event_xml(xml)
            from_json = parse_evtx_import(text, record(text))
            assert from_xml is not None and from_json is not None
            from_json["event"].pop("dataset")
            assert ecs.flatten(from_json) == ecs.flatten(from_xml), (path, xml[:300])
            compared += 1
    assert compared > 600


def test_helpers() -> None:
    assert windows_time("2022-04-29T12:36:01.9027913Z") == "2022-04-29T12:36:01.902Z"
    assert windows_time("2020-10-19 10:46:42.027") == "2020-10-19T10:46:42.027Z"
    assert windows_time("2020-10-19T10:46:42+02:00") == "2020-10-19T08:46:42.000Z"
    assert windows_time("garbage") is None
    assert split_command_line('"C:\\a b\\c.exe"  -x "y z"') == ['"C:\\a b\\c.exe"', "-x", '"y z"']
    assert split_command_line("") == []
    assert split_command_line('a "b c') == ["a", '"b c']
    long = '"C:\\Program Files\\x.exe" -enc ' + "QQ" * 300 + ' -x"a b"c  "unclosed tail'
    assert split_command_line(long) == ['"C:\\Program Files\\x.exe"', "-enc", "QQ" * 300, '-x"a b"c',
                                        '"unclosed tail']


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='"ab \t\n\u00a0\u2003\\', max_size=40))
def test_long_command_line_split_matches_the_regex(line: str) -> None:
    """Lines past the regex threshold are split piecewise: same arguments as the regex."""
    assert _split_quoted(line) == _ARG.findall(line)


def test_per_value_caches_stay_bounded() -> None:
    """Keyword masks, levels, provider GUIDs and Security ids are cached per value: hostile
    records with ever-new values must not grow the caches without bound."""
    from guetteur.parse import windows_ecs, windows_evtx

    for i in range(5000):
        text = json.dumps({"Event": {"System": {
            "EventID": 4000 + i, "Channel": "Security", "Level": f"L{i}", "Keywords": hex(i << 8),
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing", "Guid": f"G{i}"}}}}})
        assert parse_evtx_import(text, record(text)) is not None
    for cache in (windows_evtx._MASKS, windows_ecs._GUIDS, windows_ecs._LEVEL_INFO, windows_ecs._KEYWORD_INFO,
                  windows_ecs._SECURITY_PLANS):
        assert len(cache) <= windows_ecs._CACHE_LIMIT


# ---- hostile input -----------------------------------------------------------------------------

_HINTS = hints_of(*FUZZED_FAMILIES["test_windows_parsers.py"])  # from the registry


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)), st.sampled_from(_HINTS))
def test_garbage_never_raises(data: str | bytes, hint: str | None) -> None:
    event = parse_record(RawRecord(data, time.time(), "http", hint=hint))
    assert "event" in event


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["Event", "System", "EventData", "UserData", "winlog", "EventID",
                                        "Channel", "SourceName", "Type", "SyslogMessage", "x"]),
                       _json_values, max_size=5),
       st.dictionaries(st.sampled_from(["System", "EventData", "UserData", "EventID", "event_id", "event_data",
                                        "TimeCreated", "Provider", "Execution", "Keywords"]),
                       _json_values, max_size=6))
def test_wrong_shaped_json_never_raises(outer: dict, inner: dict) -> None:
    """Right keys, wrong types: the parse functions return an event or None, never raise."""
    for obj in (outer, {"Event": inner}, {"winlog": inner}, {**inner, "EventID": 1, "Channel": "Security"},
                {"Event": {"System": inner, "EventData": outer}}):
        for parse in (parse_evtx_json, parse_winlogbeat, parse_flat):
            parse(obj, "", record(""))
        parse_record(record(json.dumps(obj, default=str)))


def test_truncated_real_records_never_raise() -> None:
    from guetteur.collect.evtx import iter_evtx_records

    samples = [r.text() for r in list(iter_evtx_records(need(EVTX_DIR / "sliver-sysmon.evtx")))[:5]]
    samples += [line for line in need(CROWDSEC / "windows-bf/windows-bf.log").read_text().splitlines()[:3]]
    for text in samples:
        for cut in range(0, len(text), max(1, len(text) // 60)):
            piece = text[:cut]
            parse_record(record(piece, "windows_evtx"))
            parse_record(record(piece, "windows_evtx_import"))
            parse_record(record(piece))
            parse_xml_record(piece, record(piece))


def test_huge_xml_is_bounded() -> None:
    """Half a megabyte of unclosed `<Data>` tags: the scan stops at the first cut element
    (it used to be quadratic and take minutes), the fields before it are kept."""
    big = ("<Event><System><EventID>1</EventID></System><EventData><Data Name='a'>1</Data>"
           + "<Data Name='x'>" * 30_000 + "</EventData>")
    event = parse_record(record(big))
    assert event["winlog"]["event_data"]["a"] == "1"
    assert len(event["winlog"]["event_data"]) <= 3
    many_systems = "<System><EventID>" * 30_000
    assert "unparsed" in parse_record(record("<Event>" + many_systems)).get("tags", [])
