"""Digest of every event the parsers make from a fixed corpus: compare two commits.

    python bench/parse_digest.py [--out events.tsv] [--lines extra.txt]
    PYTHONPATH=/tmp/old/src python bench/parse_digest.py --out old.tsv   # another checkout
    PYTHONPATH=/tmp/pure/src python bench/parse_digest.py   # compiled build vs pure: an unbuilt
                                                            # copy of the same commit (git archive)

Run both from the same folder: the shared samples' file paths are part of the events.

A speed change to the parsers must leave their output byte-for-byte identical: same
fields, same values, same key order (the stored JSON follows it). The corpus is every
row of `bench/parsers.py` (with its hint and auto-detected), the first 300 lines of every
text file under `../shared/data/logs` (auto-detected), a 3,000-line sample of those
under every parser's hint, and 30,000 mutated lines (seeded: bytes cut, inserted,
replaced, hostile addresses and times spliced in), and every Windows Security event id
of the field tables and every Sysmon event id built with every field, few fields and none. Reception time is fixed, so two
runs of one commit print the same digest. `--out` writes one line per event
(`group<TAB>JSON`) to diff when the digests differ.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import parsers as bench_parsers
from guetteur.model import RawRecord
from guetteur.parse import PARSERS, flush_pending, parse_batch

RECEIVED = 1796482203.25
SPLICES = [b"999.1.1.1", b"::1", b"1.2.3.04", b"Feb 30 ", b" - - ", b"[01/Jan/2026:00:00:00 +0000]",
           b"fe80::1%eth0", b"1.2.3.4.5", b"256.1.1.1", b"01.2.3.4"]


def mutate(rng: random.Random, line: bytes) -> bytes:
    b = bytearray(line)
    for _ in range(rng.randint(1, 4)):
        op = rng.randint(0, 5)
        pos = rng.randint(0, max(0, len(b) - 1))
        if op == 0 and b:
            del b[pos]
        elif op == 1:
            b.insert(pos, rng.choice(b' :.[]"-0123456789abcdef\xff\x00{}=<>/\\'))
        elif op == 2 and b:
            b[pos] = rng.randint(0, 255)
        elif op == 3:
            b[pos:pos] = rng.choice(SPLICES)
        elif op == 4:
            b = b[:pos]
        else:
            b = b[pos:] + b[:pos]
    return bytes(b)


# every field the Security handlers read, for the synthetic Security events below
SECURITY_FIELDS = {
    "SubjectUserSid": "S-1-5-21-1", "SubjectUserName": "alice", "SubjectDomainName": "CORP", "SubjectLogonId": "0x3e7",
    "TargetUserSid": "S-1-5-21-2", "TargetSid": "S-1-5-21-3", "TargetUserName": "bob", "TargetDomainName": "CORP2",
    "TargetLogonId": "0x1234", "OldTargetUserName": "old", "NewTargetUserName": "new", "AccountName": "carol",
    "AccountDomain": "DOM", "ClientAddress": "10.0.0.9", "ClientName": "WS1", "Workstation": "WS2", "LogonID": "0x99",
    "LogonType": "3", "Status": "0xc000006d", "SubStatus": "0xc0000064", "FailureReason": "%%2313",
    "NewProcessId": "0x1a", "NewProcessName": "C:\\Windows\\cmd.exe", "CommandLine": 'cmd /c "echo a"',
    "ProcessId": "0x10", "ParentProcessName": "C:\\Windows\\explorer.exe", "ProcessName": "C:\\x\\y.exe",
    "IpAddress": "::ffff:10.1.2.3", "IpPort": "5555", "WorkstationName": "WS3", "DestAddress": "10.9.9.9",
    "DestPort": "445", "ServiceName": "svc", "ServiceType": "0x10", "ServiceFileName": "C:\\svc.exe",
    "ShareName": "\\\\*\\C$", "RelativeTargetName": "dir\\f.txt", "ObjectName": "C:\\secret.txt",
    "TaskName": "\\task1", "MemberName": "CN=x", "MemberSid": "S-1-5-21-4",
}


def security_events() -> list[dict]:
    """Every Security event id the field tables name, with every field, none, "-" in all,
    every other one, every third one, and no logon ids; without, with empty and with UserData."""
    from guetteur.parse import windows_ecs, windows_fields

    ids = set(windows_fields.SECURITY) | {"1102", "4625", "4656", "4663", "4697", "4698", "4702", "4776", "4778",
                                          "4779", "4781", "5140", "5145", "4688", "4624", "4648", "9999"}
    for name in ("SUBJECT_IS_USER", "TARGET_IS_USER", "TARGET_IS_TARGET", "TARGET_IS_EFFECTIVE", "GROUP_MEMBERSHIP",
                 "LOGON_ID_FROM_TARGET", "KERBEROS"):
        ids |= set(getattr(windows_fields, name, ()))
    full = SECURITY_FIELDS
    variants = [full, {}, {k: "-" for k in full}, {k: v for i, (k, v) in enumerate(full.items()) if i % 2},
                {k: v for i, (k, v) in enumerate(full.items()) if i % 3 == 0},
                {k: v for k, v in full.items() if k not in ("SubjectLogonId", "TargetLogonId")}]
    user_data = [None, {}, {"SubjectUserSid": "S-1-5-18", "SubjectUserName": "SYSTEM", "SubjectDomainName": "NT",
                            "SubjectLogonId": "0x3e7"}]
    return [windows_ecs.build({"event_id": eid, "channel": "Security", "provider": "Microsoft-Windows-Security-Auditing",
                               "computer": "dc1", "time": "2026-01-01T00:00:00.000Z"}, dict(fields), data)
            for eid in sorted(ids) for fields in variants for data in user_data]


SYSMON_FIELDS = {
    "Image": "C:\\Windows\\System32\\cmd.exe", "ProcessId": "4242", "ProcessGuid": "{abc}", "CommandLine": "cmd /c dir",
    "CurrentDirectory": "C:\\Users\\a\\", "ParentImage": "C:\\Windows\\explorer.exe", "ParentProcessId": "100",
    "ParentProcessGuid": "{def}", "ParentCommandLine": "explorer.exe", "Hashes": "MD5=0A,SHA256=0B,IMPHASH=0C",
    "OriginalFileName": "Cmd.Exe", "Company": "Microsoft", "Description": "Windows Command Processor",
    "FileVersion": "10.0", "Product": "Windows", "User": "CORP\\alice", "SourceImage": "C:\\x\\src.exe",
    "SourceProcessId": "7", "SourceProcessGuid": "{src}", "SourceThreadId": "8", "TargetImage": "C:\\x\\lsass.exe",
    "TargetProcessId": "600", "ImageLoaded": "C:\\x\\a.dll", "Signed": "true", "Signature": "Microsoft",
    "SignatureStatus": "Valid", "TargetFilename": "C:\\Temp\\evil.PS1", "PipeName": "\\pipe\\x",
    "Protocol": "tcp", "SourceIsIpv6": "false", "SourceIp": "10.0.0.1", "SourcePort": "5000",
    "DestinationIp": "10.0.0.2", "DestinationPort": "443", "DestinationHostname": "h", "Initiated": "true",
    "TargetObject": "HKLM\\SOFTWARE\\x\\y", "Details": "DWORD (0x00000001)", "EventType": "SetValue",
    "QueryName": "example.org", "QueryStatus": "0", "QueryResults": "type:  5 a.org;1.2.3.4;", "Hash": "SHA1=0D",
}


def sysmon_events() -> list[dict]:
    """Every Sysmon event id 1-29 and 255 with every field, none, "-" in all, every other one."""
    from guetteur.parse import windows_ecs

    full = SYSMON_FIELDS
    variants = [full, {}, {k: "-" for k in full}, {k: v for i, (k, v) in enumerate(full.items()) if i % 2},
                {k: v for i, (k, v) in enumerate(full.items()) if i % 2 == 0}]
    return [windows_ecs.build({"event_id": str(eid), "channel": "Microsoft-Windows-Sysmon/Operational",
                               "provider": "Microsoft-Windows-Sysmon", "computer": "ws1",
                               "time": "2026-01-01T00:00:00.000Z"}, dict(fields))
            for eid in [*range(1, 30), 255] for fields in variants]


def corpus(extra: list[bytes]) -> Iterator[tuple[str, list[RawRecord]]]:
    for i in range(0, len(extra), 5000):
        yield "lines", [RawRecord(line, RECEIVED, "syslog-tcp", None, "127.0.0.1:40000") for line in extra[i:i + 5000]]
    for label, hint, load in bench_parsers.ROWS:
        lines = load()[:4000]
        yield f"{label}/hint", [RawRecord(line, RECEIVED, "file", hint, "/var/log/x.log") for line in lines]
        yield f"{label}/auto", [RawRecord(line.encode(), RECEIVED, "syslog-udp", None, "10.0.0.1:514") for line in lines]
    data = bench_parsers.DATA
    every: list[bytes] = []
    for path in sorted(glob.glob(str(data / "**" / "*"), recursive=True)):
        if not Path(path).is_file() or path.endswith((".evtx", ".gz", ".zip", ".md")):
            continue
        lines = [line for line in Path(path).read_bytes()[:400_000].split(b"\n") if line.strip()][:300]
        every.extend(lines)
        yield f"file:{Path(path).relative_to(data)}", [RawRecord(line, RECEIVED, "file", None, path) for line in lines]
    rng = random.Random(7)
    sample = rng.sample(every, min(3000, len(every)))
    for name in sorted(PARSERS):
        yield f"hint:{name}", [RawRecord(line, RECEIVED, "http", name) for line in sample]
    seeds = extra[:3000] + sample
    mutated = [mutate(rng, rng.choice(seeds)) for _ in range(30_000)]
    for i in range(0, len(mutated), 5000):
        yield "mutated", [RawRecord(line, RECEIVED, "syslog-tcp", None, "127.0.0.1:1") for line in mutated[i:i + 5000]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write every event as group<TAB>JSON to this file")
    parser.add_argument("--lines", help="a file of extra lines parsed first (e.g. the ingest mix)")
    args = parser.parse_args(argv)
    if not bench_parsers.DATA.exists():
        print(f"no sample data at {bench_parsers.DATA}", file=sys.stderr)
        return 1
    extra = [line for line in Path(args.lines).read_bytes().split(b"\n") if line] if args.lines else []
    total = hashlib.sha256()
    count = 0
    out = open(args.out, "wb") if args.out else None
    try:
        for group, records in corpus(extra):
            events = parse_batch(records).events + flush_pending().events
            for event in events:
                line = group.encode() + b"\t" + orjson.dumps(event, default=repr) + b"\n"
                total.update(line)
                if out is not None:
                    out.write(line)
            count += len(events)
        for event in security_events() + sysmon_events():
            line = b"windows\t" + orjson.dumps(event, default=repr) + b"\n"
            total.update(line)
            if out is not None:
                out.write(line)
            count += 1
    finally:
        if out is not None:
            out.close()
    print(f"{count} events, sha256 {total.hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
