"""One Windows event, whatever shape it came in, to one ECS document.

Every Windows reader (EVTX JSON, event XML, Winlogbeat JSON, flattened NXLog/Azure
exports) extracts the same three things and calls `build`:

- `System`: a `WinSystem` dict (event id, channel, provider, computer, time...);
- `event_data`: the `<EventData>` fields, name -> string, **unchanged** (Sigma rules
  match on these names and values; they land in `winlog.event_data` as they are);
- `user_data`: the `<UserData>` child's fields, if any (`winlog.user_data`).

`build` fills `winlog.*` as Winlogbeat does, then the ECS fields Elastic's ingest
pipelines derive (`event.category/type/action/outcome`, `user.*`, `process.*`,
`source.*`, `file.*`, `registry.*`, `dns.*`...), from the tables in `windows_fields`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict

from guetteur.model import Event
from guetteur.parse import severity
from guetteur.parse import windows_fields as F
from guetteur.parse.timefmt import iso

# Bound of every per-value cache below: a host writes few distinct values, hostile input many.
_CACHE_LIMIT = 4096


class WinSystem(TypedDict, total=False):
    event_id: str
    channel: str
    provider: str
    provider_guid: str
    computer: str
    record_id: str
    time: str  # ECS @timestamp text, already UTC
    level: str  # number as text ("4") or a rendered name ("information")
    task: str
    opcode: str
    keywords: int | list[str]
    version: int
    pid: int
    tid: int
    user_sid: str
    activity_id: str


_FAST_ISO = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:[.,](\d{1,9}))?(Z|[+-]00:?00)?$")
# SystemTime as Windows and the evtx library render it: already ECS text once cut to milliseconds
_SYSTEM_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3,9}Z").fullmatch


def windows_time(text: str, assume_utc: bool = True) -> str | None:
    """ECS time text for SystemTime / UtcTime / TimeCreated values.

    Windows writes UTC (`SystemTime` with `Z`, Sysmon `UtcTime` without zone), so a
    zone-less value is UTC unless `assume_utc` is False (NXLog local `EventTime`)."""
    if _SYSTEM_TIME(text) is not None:
        return text[:23] + "Z"
    m = _FAST_ISO.match(text)
    if m is not None and (m.group(4) or assume_utc):
        frac = (m.group(3) or "")[:3].ljust(3, "0")
        return f"{m.group(1)}T{m.group(2)}.{frac}Z"
    return iso(text.strip())


_GUIDS: dict[str, str] = {}  # provider GUID as written -> as Winlogbeat writes it; few per host


def provider_guid_text(guid: str) -> str:
    """A provider GUID as Winlogbeat writes it, `{lower-case}`, when it came without braces
    (the evtx library's rendering); a braced GUID is kept as written."""
    found = _GUIDS.get(guid)
    if found is None:
        found = guid if guid.startswith("{") else "{" + guid.lower() + "}"
        if len(_GUIDS) < _CACHE_LIMIT:
            _GUIDS[guid] = found
    return found


def to_text(value: Any) -> str:
    """An EventData value as the text the XML held (JSON renderers turn numbers into numbers)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list):
        # one level only: deeper nesting never comes from Windows and must not recurse
        return "\n".join(v if isinstance(v, str) else "" if isinstance(v, (list, dict)) else to_text(v)
                         for v in value)
    if isinstance(value, dict):
        inner = value.get("#text")
        return to_text(inner) if isinstance(inner, (str, int, float, bool)) else ""
    return str(value)


def _int(text: str | None) -> int | None:
    """Decimal or 0x-hex text to int (Windows writes pids both ways)."""
    if not text or text == "-":
        return None
    try:
        if text[0] == "0" and text[1:2] in ("x", "X"):  # no slice of two for the usual decimal
            return int(text, 16)
        return int(text)
    except ValueError:
        return None


def _basename(path: str) -> str:
    # `rsplit(sep, 1)[-1]` without the list
    path = path[path.rfind("\\") + 1:]
    return path[path.rfind("/") + 1:]


_ARG = re.compile(r'(?:[^\s"]+|"[^"]*(?:"|$))+')
_REGEX_SPLIT_MAX = 256  # past this length the piecewise split below is faster than the regex


def split_command_line(line: str) -> list[str]:
    """Split a Windows command line as Elastic does: on whitespace outside double quotes,
    quotes kept (an unclosed quote runs to the end)."""
    if '"' not in line:
        return line.split()
    if len(line) <= _REGEX_SPLIT_MAX:
        return _ARG.findall(line)
    return _split_quoted(line)


def _split_quoted(line: str) -> list[str]:
    """`_ARG.findall(line)` built from `str.split` calls: the regex walks long lines
    (encoded PowerShell, scripts passed inline) a character at a time."""
    out: list[str] = []
    token: str | None = None  # the argument being assembled from quoted and bare pieces
    segments = line.split('"')
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        if i & 1:  # inside quotes; the last quote is unclosed when there is no segment after it
            piece = '"' + seg + '"' if i < last else '"' + seg
            token = piece if token is None else token + piece
            continue
        if not seg:
            continue
        words = seg.split()
        if not words:  # only whitespace between two quoted pieces
            if token is not None:
                out.append(token)
                token = None
            continue
        if token is not None:
            if seg[0].isspace():
                out.append(token)
            else:
                words[0] = token + words[0]
            token = None
        if not seg[-1].isspace():
            token = words.pop()
        out.extend(words)
    if token is not None:
        out.append(token)
    return out


def _useful(value: str | None) -> bool:
    return bool(value) and value != "-"


def _ip(value: str | None) -> str | None:
    if not _useful(value):
        return None
    assert value is not None
    if value.startswith("::ffff:") and "." in value:  # IPv4-mapped, as Elastic stores it
        value = value[7:]
    return value


def _user_pair(account: str) -> tuple[str | None, str]:
    """`DOMAIN\\name` -> (domain, name)."""
    domain, sep, name = account.partition("\\")
    return (domain, name) if sep else (None, account)


_HASH_NAMES = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "IMPHASH": "imphash", "SHA384": "sha384",
               "SHA512": "sha512"}


def _hashes(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if not text:
        return out
    for part in text.split(","):
        algo, sep, value = part.partition("=")
        if sep and (name := _HASH_NAMES.get(algo) or _HASH_NAMES.get(algo.strip().upper())):
            out[name] = value.strip().lower()
    return out


class _Builder:
    """Holds the event being built; small helpers keep `build` readable."""

    __slots__ = ("event", "related_users", "related_ips")

    def __init__(self, event: Event) -> None:
        self.event = event
        self.related_users: list[str] = []
        self.related_ips: list[str] = []

    def obj(self, name: str) -> dict[str, Any]:
        """The top-level object `name` of the event, created empty when missing."""
        node = self.event.get(name)
        if node is None:
            node = self.event[name] = {}
        return node

    def user(self, where: dict[str, Any], sid: str | None, name: str | None, domain: str | None) -> None:
        # `x and x != "-"` is `_useful(x)` inlined: this runs several times per Security event
        if sid and sid != "-":
            where["id"] = sid
        if name and name != "-":
            if "@" in name:
                name = name.split("@", 1)[0]
            where["name"] = name
            if name and name != "-" and name not in self.related_users:
                self.related_users.append(name)
        if domain and domain != "-":
            where["domain"] = domain

    def add_user(self, name: str | None) -> None:
        if name and name != "-" and name not in self.related_users:
            self.related_users.append(name)

    def add_ip(self, ip: str | None) -> None:
        if ip and ip not in self.related_ips:
            self.related_ips.append(ip)


# Per-value caches of the System mappings: a host writes a handful of levels and keyword
# masks, so each is worked out once. Bounded anyway (hostile input can vary them freely).
_LEVEL_INFO: dict[str, tuple[str, tuple[str, int] | None]] = {}
_OPCODES, _SECURITY_TASKS = F.OPCODES, F.SECURITY_TASKS  # module globals: one lookup less per record
_KEYWORD_INFO: dict[int, tuple[tuple[str, ...], str | None]] = {}


def _level_info(level: str) -> tuple[str, tuple[str, int] | None]:
    """(`winlog.level` word, (`log.level`, `event.severity`) or None) for System/Level."""
    found = _LEVEL_INFO.get(level)
    if found is None:
        word = F.LEVELS.get(level, level.lower())
        found = (word, severity.from_level(word))
        if len(_LEVEL_INFO) < _CACHE_LIMIT:
            _LEVEL_INFO[level] = found
    return found


def _keyword_info(keywords: int) -> tuple[tuple[str, ...], str | None]:
    """(keyword names, outcome) for a System/Keywords mask."""
    found = _KEYWORD_INFO.get(keywords)
    if found is None:
        names = tuple(name for bit, name in F.KEYWORDS if keywords & bit)
        outcome = "failure" if keywords & F.AUDIT_FAILURE else "success" if keywords & F.AUDIT_SUCCESS else None
        found = (names, outcome)
        if len(_KEYWORD_INFO) < _CACHE_LIMIT:
            _KEYWORD_INFO[keywords] = found
    return found


def build(system: WinSystem, event_data: dict[str, str], user_data: dict[str, Any] | None = None,
          message: str | None = None) -> Event:
    """The ECS event for one Windows record (see the module docstring)."""
    return build_fields(system.get("event_id", ""), system.get("channel") or "", system.get("provider") or "",
                        system.get("provider_guid"), system.get("computer"), system.get("record_id"),
                        system.get("activity_id"), system.get("version"), system.get("time"), system.get("pid"),
                        system.get("tid"), system.get("user_sid"), system.get("level"), system.get("opcode"),
                        system.get("task"), system.get("keywords"), event_data, user_data, message)


def build_fields(event_id: str, channel: str, provider: str, provider_guid: str | None, computer: str | None,
                 record_id: str | None, activity_id: str | None, version: int | None, when: str | None,
                 pid: int | None, tid: int | None, user_sid: str | None, level: str | None, opcode: str | None,
                 task: str | None, keywords: int | list[str] | None, event_data: dict[str, str],
                 user_data: dict[str, Any] | None = None, message: str | None = None) -> Event:
    """`build` with the `WinSystem` facts passed one by one: the EVTX reader has them in
    local variables and skips the intermediate dict (it runs once per imported record)."""
    winlog: dict[str, Any] = {"event_id": event_id}
    meta: dict[str, Any] = {"kind": "event", "code": event_id}
    event: Event = {"event": meta, "winlog": winlog}
    if channel:
        winlog["channel"] = channel
    if provider:
        winlog["provider_name"] = provider
        meta["provider"] = provider
    # the System facts Winlogbeat keeps as they are
    if provider_guid is not None and provider_guid != "":
        winlog["provider_guid"] = provider_guid
    if computer is not None and computer != "":
        winlog["computer_name"] = computer
    if record_id is not None and record_id != "":
        winlog["record_id"] = record_id
    if activity_id is not None and activity_id != "":
        winlog["activity_id"] = activity_id
    if version is not None and version != "":
        winlog["version"] = version
    if computer:
        event["host"] = {"name": computer}
    if when is not None:
        event["@timestamp"] = when
    if pid is not None:
        process: dict[str, Any] = {"pid": pid}
        if tid is not None:
            process["thread"] = {"id": tid}
        winlog["process"] = process
    if user_sid:
        winlog["user"] = {"identifier": user_sid}
    if level is not None and level != "":
        word, found = _LEVEL_INFO.get(level) or _level_info(level)
        winlog["level"] = word
        if found is not None:
            event["log"] = {"level": found[0]}
            meta["severity"] = found[1]
    if opcode:
        winlog["opcode"] = _OPCODES.get(opcode, opcode)
    if task:
        winlog["task"] = _SECURITY_TASKS.get(task, task) if provider.endswith("Security-Auditing") else task
    outcome: str | None = None
    if isinstance(keywords, int):
        names, outcome = _KEYWORD_INFO.get(keywords) or _keyword_info(keywords)
        if names:
            winlog["keywords"] = list(names)
    elif isinstance(keywords, list):
        winlog["keywords"] = keywords
        if "Audit Failure" in keywords:
            outcome = "failure"
        elif "Audit Success" in keywords:
            outcome = "success"
    if outcome is not None:
        meta["outcome"] = outcome
        winlog["outcome"] = outcome
    # The System values as the record holds them, which Sigma rules compare (`Level: 4`,
    # `Keywords: '0x8010000000000000'`); winlog.level/keywords hold their names.
    raw: dict[str, str] = {}
    if level and level.isdigit():
        raw["Level"] = level
    if isinstance(keywords, int):
        raw["Keywords"] = f"0x{keywords:016x}"
    if raw:
        winlog["system"] = raw
    winlog["event_data"] = event_data
    if user_data:
        winlog["user_data"] = user_data
    if message:
        event["message"] = message

    b = _Builder(event)
    if provider == "Microsoft-Windows-Sysmon" or channel == "Microsoft-Windows-Sysmon/Operational":
        _sysmon(b, event_id, event_data, meta)
    elif channel == "Security" or provider == "Microsoft-Windows-Security-Auditing":
        _security(b, event_id, event_data, user_data, meta, winlog)
    elif provider.startswith("Microsoft-Windows-PowerShell") or channel.startswith("Microsoft-Windows-PowerShell") \
            or channel == "Windows PowerShell":
        _powershell(b, event_id, event_data, meta)
    elif channel == "System" or provider in ("Service Control Manager", "Microsoft-Windows-Eventlog"):
        _system(b, event_id, event_data, user_data, meta)
    if b.related_users:
        event.setdefault("related", {})["user"] = b.related_users
    if b.related_ips:
        event.setdefault("related", {})["ip"] = b.related_ips
    return event


def _classify(meta: dict[str, Any], entry: tuple[tuple[str, ...], tuple[str, ...], str] | None) -> None:
    if entry is not None:
        meta["category"] = list(entry[0])
        meta["type"] = list(entry[1])
        meta["action"] = entry[2]


# ---- Security ---------------------------------------------------------------------------------

Getter = Callable[[str], "str | None"]


# The few Security ids with fields of their own, one small handler each, at the step of
# `_security` where their fields go (accounts, logon id, the object acted on).

def _subject_from_user_data(b: _Builder, user: dict[str, Any], user_data: dict[str, Any] | None) -> None:
    """1102 (audit log cleared): the subject is in UserData."""
    if user_data:
        b.user(user, to_text(user_data.get("SubjectUserSid")), to_text(user_data.get("SubjectUserName")),
               to_text(user_data.get("SubjectDomainName")))


def _renamed_account(b: _Builder, user: dict[str, Any], get: Getter) -> None:
    """4781: the old name is the target, the new one the change."""
    old, new = get("OldTargetUserName"), get("NewTargetUserName")
    if _useful(old):
        user.setdefault("target", {})["name"] = old
    if _useful(new):
        user["changes"] = {"name": new}
    b.add_user(new)
    b.add_user(old)


def _session_account(b: _Builder, user: dict[str, Any], get: Getter) -> None:
    """4778/4779 (session reconnected/disconnected): account and client."""
    b.user(user, None, get("AccountName"), get("AccountDomain"))
    if (ip := _ip(get("ClientAddress"))) is not None:
        b.obj("source")["ip"] = ip
        b.add_ip(ip)
    if _useful(get("ClientName")):
        b.obj("source")["domain"] = get("ClientName")


def _credential_account(b: _Builder, user: dict[str, Any], get: Getter) -> None:
    """4776 (credential validation): the account and the workstation it came from."""
    b.user(user, None, get("TargetUserName"), None)
    if _useful(get("Workstation")):
        b.obj("source")["domain"] = get("Workstation")


def _logon_id_from_user_data(logon_id: str | None, get: Getter, user_data: dict[str, Any] | None) -> str | None:
    """1102: the subject's logon id is in UserData."""
    return (to_text(user_data.get("SubjectLogonId")) or None) if user_data else logon_id


def _session_logon_id(logon_id: str | None, get: Getter, user_data: dict[str, Any] | None) -> str | None:
    return get("LogonID") if logon_id is None else logon_id


def _share_file(b: _Builder, ed: dict[str, str], get: Getter) -> None:
    """5140/5145: the share and the path in it."""
    share = get("ShareName")
    rel = get("RelativeTargetName")
    if _useful(share):
        file = b.obj("file")
        assert share is not None
        file["path"] = f"{share}\\{rel}" if _useful(rel) else share
        if _useful(rel):
            assert rel is not None
            file["name"] = _basename(rel)


def _object_file(b: _Builder, ed: dict[str, str], get: Getter) -> None:
    """4656/4663: the object a handle was asked for or used on."""
    if _useful(get("ObjectName")):
        file = b.obj("file")
        file["path"] = get("ObjectName")
        file["name"] = _basename(ed["ObjectName"])


def _task_name(b: _Builder, ed: dict[str, str], get: Getter) -> None:
    """4698/4702: scheduled task created or updated."""
    if _useful(get("TaskName")):
        b.event.setdefault("winlog", {}).setdefault("task_name", get("TaskName"))


_AccountHandler = Callable[[_Builder, dict[str, Any], Getter], None]
_LogonIdHandler = Callable[["str | None", Getter, "dict[str, Any] | None"], "str | None"]
_ObjectHandler = Callable[[_Builder, dict[str, str], Getter], None]
_SUBJECT_FROM_USER_DATA = frozenset(("1102",))
_ACCOUNTS: dict[str, _AccountHandler] = {
    "4781": _renamed_account, "4778": _session_account, "4779": _session_account, "4776": _credential_account,
}
_LOGON_IDS: dict[str, _LogonIdHandler] = {
    "1102": _logon_id_from_user_data, "4778": _session_logon_id, "4779": _session_logon_id,
}
_LOGON_FAILURES = frozenset(("4625", "4776"))
_OBJECTS: dict[str, _ObjectHandler] = {
    "5140": _share_file, "5145": _share_file, "4656": _object_file, "4663": _object_file,
    "4698": _task_name, "4702": _task_name,
}


@dataclass(frozen=True, slots=True)
class _SecurityPlan:
    """What the tables say about one Security event id, looked up once per id."""

    classification: tuple[tuple[str, ...], tuple[str, ...], str] | None
    subject_is_user: bool
    target_is_user: bool
    target_is_target: bool
    target_is_effective: bool
    group_membership: bool
    logon_id_from_target: bool
    kerberos: bool
    subject_from_user_data: bool
    account: _AccountHandler | None
    logon_id: _LogonIdHandler | None
    logon_failure: bool
    object: _ObjectHandler | None


_SECURITY_PLANS: dict[str, _SecurityPlan] = {}


def _security_plan(eid: str) -> _SecurityPlan:
    plan = _SECURITY_PLANS.get(eid)
    if plan is None:
        plan = _SecurityPlan(
            F.SECURITY.get(eid), eid in F.SUBJECT_IS_USER, eid in F.TARGET_IS_USER, eid in F.TARGET_IS_TARGET,
            eid in F.TARGET_IS_EFFECTIVE, eid in F.GROUP_MEMBERSHIP, eid in F.LOGON_ID_FROM_TARGET,
            eid in F.KERBEROS, eid in _SUBJECT_FROM_USER_DATA, _ACCOUNTS.get(eid), _LOGON_IDS.get(eid),
            eid in _LOGON_FAILURES, _OBJECTS.get(eid))
        if len(_SECURITY_PLANS) < _CACHE_LIMIT:
            _SECURITY_PLANS[eid] = plan
    return plan


def _security_user(b: _Builder, plan: _SecurityPlan, eid: str, get: Getter, ed: dict[str, str],
                   user_data: dict[str, Any] | None) -> dict[str, Any]:
    """user.* (with target, effective, changes) from the subject and target fields."""
    user: dict[str, Any] = {}
    if plan.subject_is_user:
        b.user(user, get("SubjectUserSid"), get("SubjectUserName"), get("SubjectDomainName"))
        if plan.subject_from_user_data:
            _subject_from_user_data(b, user, user_data)
    if plan.target_is_user:
        sid = get("TargetUserSid") or get("TargetSid")
        name = get("TargetUserName")
        domain = get("TargetDomainName")
        # user.* is the account that logs on unless the subject already took it (4648)
        if "name" in user or "id" in user:
            target: dict[str, Any] = {}
            b.user(target, sid, name, domain)
            if target and eid != "4648":
                user["target"] = target
        else:
            b.user(user, sid, name, domain)
    if plan.target_is_target:
        target = {}
        b.user(target, get("TargetSid"), get("TargetUserName"), get("TargetDomainName"))
        if target:
            user["target"] = target
    if plan.target_is_effective:
        effective: dict[str, Any] = {}
        b.user(effective, get("TargetUserSid"), get("TargetUserName"), get("TargetDomainName"))
        if effective:
            user["effective"] = effective
    if plan.group_membership:
        _group(b, user, ed)
    if plan.account is not None:
        plan.account(b, user, get)
    return user


def _security_logon(plan: _SecurityPlan, get: Getter, user_data: dict[str, Any] | None) -> dict[str, Any]:
    """winlog.logon: id, type, and why a logon failed."""
    logon: dict[str, Any] = {}
    logon_id = get("TargetLogonId") if plan.logon_id_from_target else get("SubjectLogonId")
    if plan.logon_id is not None:
        logon_id = plan.logon_id(logon_id, get, user_data)
    if logon_id:
        logon["id"] = logon_id
    if (kind := get("LogonType")) and (kind := F.LOGON_TYPES.get(kind)) is not None:
        logon["type"] = kind
    if plan.logon_failure:
        failure: dict[str, str] = {}
        if (text := F.LOGON_STATUS.get((get("Status") or "").lower())) is not None:
            failure["status"] = text
        if (text := F.LOGON_STATUS.get((get("SubStatus") or "").lower())) is not None:
            failure["sub_status"] = text
        if (text := F.FAILURE_REASONS.get((get("FailureReason") or "").replace("%%", "").strip())):
            failure["reason"] = text
        if failure:
            logon["failure"] = failure
    return logon


def _created_process(b: _Builder, ed: dict[str, str], get: Getter) -> None:
    """4688: the new process and its parent."""
    process = b.obj("process")
    if (pid := _int(get("NewProcessId"))) is not None:
        process["pid"] = pid
    if _useful(get("NewProcessName")):
        process["executable"] = get("NewProcessName")
        process["name"] = _basename(ed["NewProcessName"])
    cmd = get("CommandLine")
    if cmd:
        process["command_line"] = cmd
        process["args"] = split_command_line(cmd)
    parent: dict[str, Any] = {}
    if (pid := _int(get("ProcessId"))) is not None:
        parent["pid"] = pid
    if _useful(get("ParentProcessName")):
        parent["executable"] = get("ParentProcessName")
        parent["name"] = _basename(ed["ParentProcessName"])
    if parent:
        process["parent"] = parent


def _acting_process(b: _Builder, ed: dict[str, str], get: Getter) -> None:
    """Any other id: the process that acted, when named."""
    pid = _int(get("ProcessId") or get("ProcessID"))
    exe = get("ProcessName") or get("Application") or get("CallerProcessName")
    useful_exe = exe and exe != "-"
    if pid is not None or useful_exe:
        process = b.obj("process")
        if pid is not None:
            process["pid"] = pid
        if useful_exe:
            assert exe is not None
            process["executable"] = exe
            process["name"] = _basename(exe)


def _security_network(b: _Builder, eid: str, ed: dict[str, str], get: Getter) -> None:
    """source.* and destination.* from the address fields."""
    ip = get("IpAddress") or get("SourceAddress")
    if ip and ip != "-":
        if ip.startswith("::ffff:") and "." in ip:  # IPv4-mapped, as Elastic stores it
            ip = ip[7:]
        source = b.obj("source")
        source["ip"] = ip
        b.add_ip(ip)
        if (port := _int(get("IpPort") or get("SourcePort"))) is not None:
            source["port"] = port
    if (eid == "4624" or eid == "4648" or eid == "4625") and (value := get("WorkstationName")) and value != "-":
        b.obj("source")["domain"] = value
    if "DestAddress" in ed and (dst := _ip(ed["DestAddress"])) is not None:
        destination = b.obj("destination")
        destination["ip"] = dst
        b.add_ip(dst)
        if (port := _int(get("DestPort"))) is not None:
            destination["port"] = port


def _security_service(b: _Builder, eid: str, ed: dict[str, str], get: Getter) -> None:
    """service.* and the service's file (4697 and any id naming a service)."""
    if "ServiceName" in ed or eid == "4697":
        service: dict[str, Any] = {}
        if _useful(get("ServiceName")):
            service["name"] = get("ServiceName")
        if (stype := F.SERVICE_TYPES.get(get("ServiceType") or "")) is not None:
            service["type"] = stype
        if service:
            b.event["service"] = service
        if _useful(get("ServiceFileName")):
            b.obj("file")["path"] = get("ServiceFileName")


def _security(b: _Builder, eid: str, ed: dict[str, str], user_data: dict[str, Any] | None,
              meta: dict[str, Any], winlog: dict[str, Any]) -> None:
    plan = _security_plan(eid)
    entry = plan.classification
    if entry is not None:
        meta["category"] = list(entry[0])
        meta["type"] = list(entry[1])
        meta["action"] = entry[2]
    get = ed.get
    user = _security_user(b, plan, eid, get, ed, user_data)
    if user:
        b.event["user"] = user
    logon = _security_logon(plan, get, user_data)
    if logon:
        winlog["logon"] = logon
    (_created_process if eid == "4688" else _acting_process)(b, ed, get)
    _security_network(b, eid, ed, get)
    _security_service(b, eid, ed, get)
    if plan.kerberos:
        status = (get("Status") or "").lower()
        if status and meta.get("outcome") is None:
            meta["outcome"] = "success" if status == "0x0" else "failure"
    if plan.object is not None:
        plan.object(b, ed, get)


def _group(b: _Builder, user: dict[str, Any], ed: dict[str, str]) -> None:
    member = ed.get("MemberName")
    target: dict[str, Any] = {}
    if _useful(member):
        assert member is not None
        parts = member.split(",")
        name = parts[0].replace("CN=", "").replace("cn=", "")
        target["name"] = name
        b.add_user(name)
        if len(parts) >= 4:
            target["domain"] = parts[3].replace("DC=", "").replace("dc=", "")
    elif _useful(ed.get("MemberSid")):
        target["id"] = ed["MemberSid"]
    group: dict[str, str] = {}
    if _useful(gid := ed.get("TargetSid") or ed.get("TargetUserSid")):
        group["id"] = gid  # type: ignore[assignment]
    if _useful(ed.get("TargetUserName")):
        group["name"] = ed["TargetUserName"]
    if _useful(ed.get("TargetDomainName")):
        group["domain"] = ed["TargetDomainName"].replace("DC=", "").replace("dc=", "")
    if group:
        b.event["group"] = group
        if target:
            target["group"] = dict(group)
    if target:
        user["target"] = target


# ---- Sysmon -----------------------------------------------------------------------------------

_PROCESS_KEYS = {prefix: (prefix + "Image", prefix + "ProcessId", prefix + "ProcessGuid", prefix + "ProcessGUID")
                 for prefix in ("", "Source")}


def _process_from(b: _Builder, ed: dict[str, str], prefix: str = "") -> dict[str, Any]:
    """process.* from Sysmon's Image/ProcessId/ProcessGuid (or SourceImage... with prefix)."""
    image_key, pid_key, guid_key, guid_key2 = _PROCESS_KEYS[prefix]
    process = b.obj("process")
    image = ed.get(image_key)
    if image and image != "-":
        process["executable"] = image
        process["name"] = _basename(image)
    if (pid := _int(ed.get(pid_key))) is not None:
        process["pid"] = pid
    guid = ed.get(guid_key) or ed.get(guid_key2)
    if guid and guid != "-":
        process["entity_id"] = guid
    return process


def _accessing_process(b: _Builder, ed: dict[str, str]) -> dict[str, Any]:
    """8 (CreateRemoteThread), 10 (ProcessAccess): the source process acts on a target."""
    get = ed.get
    process = _process_from(b, ed, "Source")
    if (tid := _int(get("SourceThreadId"))) is not None:
        process["thread"] = {"id": tid}
    target: dict[str, Any] = {}
    if _useful(get("TargetImage")):
        target["executable"] = get("TargetImage")
        target["name"] = _basename(ed["TargetImage"])
    if (pid := _int(get("TargetProcessId"))) is not None:
        target["pid"] = pid
    if target:
        b.obj("Target")["process"] = target  # Elastic's sysmon pipeline name
    return process


def _sysmon_parent(process: dict[str, Any], get: Getter) -> None:
    parent_image = get("ParentImage")
    useful_image = parent_image and parent_image != "-"
    if useful_image or get("ParentProcessId"):
        parent: dict[str, Any] = {}
        if useful_image:
            assert parent_image is not None
            parent["executable"] = parent_image
            parent["name"] = _basename(parent_image)
        if (pid := _int(get("ParentProcessId"))) is not None:
            parent["pid"] = pid
        if (value := get("ParentProcessGuid")) and value != "-":
            parent["entity_id"] = value
        if value := get("ParentCommandLine"):
            parent["command_line"] = value
            parent["args"] = split_command_line(value)
        process["parent"] = parent


_PE_FIELDS = (("OriginalFileName", "original_file_name"), ("Company", "company"), ("Description", "description"),
              ("FileVersion", "file_version"), ("Product", "product"))


def _process_image(b: _Builder, process: dict[str, Any], hashes: dict[str, str], pe: dict[str, str],
                   get: Getter) -> None:
    """1, 5, 8, 10: hashes and PE header of the process's image."""
    if hashes:
        process["hash"] = hashes
    if pe:
        process["pe"] = pe


def _loaded_image(b: _Builder, process: dict[str, Any], hashes: dict[str, str], pe: dict[str, str],
                  get: Getter) -> None:
    """6 (driver loaded), 7 (image loaded): the loaded file, its hashes, PE header and signature."""
    path = get("ImageLoaded")
    if _useful(path):
        assert path is not None
        file = b.obj("file")
        file["path"] = path
        file["name"] = _basename(path)
        if hashes:
            file["hash"] = hashes
        if pe:
            file["pe"] = pe
        signed = get("Signed")
        if signed:
            signature: dict[str, Any] = {"signed": signed == "true"}
            if _useful(get("Signature")):
                signature["subject_name"] = get("Signature")
            if _useful(get("SignatureStatus")):
                signature["status"] = get("SignatureStatus")
                signature["valid"] = get("SignatureStatus") == "Valid"
            file["code_signature"] = signature


def _target_file(b: _Builder, eid: str, ed: dict[str, str], meta: dict[str, Any], hashes: dict[str, str]) -> None:
    """2, 11, 15, 23, 26-29: the file created, deleted, streamed or timestamped."""
    path = ed.get("TargetFilename")
    if _useful(path):
        assert path is not None
        file = b.obj("file")
        file["path"] = path
        name = _basename(path)
        file["name"] = name
        directory = path[: len(path) - len(name) - 1]
        if directory:
            file["directory"] = directory
        if "." in name:
            file["extension"] = name.rsplit(".", 1)[1].lower()
        if hashes:
            file["hash"] = hashes


def _pipe(b: _Builder, eid: str, ed: dict[str, str], meta: dict[str, Any], hashes: dict[str, str]) -> None:
    """17, 18: the named pipe created or connected."""
    if _useful(ed.get("PipeName")):
        b.obj("file")["name"] = ed.get("PipeName")


def _sysmon_connection(b: _Builder, eid: str, ed: dict[str, str], meta: dict[str, Any],
                       hashes: dict[str, str]) -> None:
    _sysmon_network(b, ed)


def _sysmon_registry(b: _Builder, eid: str, ed: dict[str, str], meta: dict[str, Any],
                     hashes: dict[str, str]) -> None:
    _registry(b, eid, ed, meta)


def _sysmon_dns(b: _Builder, eid: str, ed: dict[str, str], meta: dict[str, Any], hashes: dict[str, str]) -> None:
    _dns(b, ed)


_ImageHandler = Callable[[_Builder, dict[str, Any], dict[str, str], dict[str, str], Getter], None]
_SysmonObject = Callable[[_Builder, str, dict[str, str], dict[str, Any], dict[str, str]], None]
# by Sysmon event id: who acts (default: Image/ProcessId), whose image the hashes describe,
# and what the event is about beyond the process
_SYSMON_ACTORS: dict[str, Callable[[_Builder, dict[str, str]], dict[str, Any]]] = {
    "8": _accessing_process, "10": _accessing_process,
}
_SYSMON_IMAGES: dict[str, _ImageHandler] = {
    "1": _process_image, "5": _process_image, "8": _process_image, "10": _process_image,
    "6": _loaded_image, "7": _loaded_image,
}
_SYSMON_OBJECTS: dict[str, _SysmonObject] = {
    "3": _sysmon_connection, "17": _pipe, "18": _pipe, "22": _sysmon_dns,
    **dict.fromkeys(("2", "11", "15", "23", "26", "27", "28", "29"), _target_file),
    **dict.fromkeys(("12", "13", "14"), _sysmon_registry),
}


def _sysmon(b: _Builder, eid: str, ed: dict[str, str], meta: dict[str, Any]) -> None:
    if (entry := F.SYSMON.get(eid)) is not None:
        meta["category"] = list(entry[0])
        meta["type"] = list(entry[1])
        meta["action"] = entry[2]
    get = ed.get
    actor = _SYSMON_ACTORS.get(eid)
    process = _process_from(b, ed) if actor is None else actor(b, ed)
    if (cmd := get("CommandLine")) is not None and cmd != "":
        process["command_line"] = cmd
        process["args"] = split_command_line(cmd)
    if (value := get("CurrentDirectory")) and value != "-":
        process["working_directory"] = value
    _sysmon_parent(process, get)
    hashes = _hashes(get("Hashes") or get("Hash") or "")
    pe: dict[str, str] = {}
    for key, name in _PE_FIELDS:
        if (value := get(key)) and value != "-":
            pe[name] = value
    if (image := _SYSMON_IMAGES.get(eid)) is not None:
        image(b, process, hashes, pe, get)
    if not process:
        b.event.pop("process", None)
    account = get("User")
    if _useful(account):
        assert account is not None
        domain, name = _user_pair(account)
        user: dict[str, Any] = {"name": name}
        if domain:
            user["domain"] = domain
        b.event["user"] = user
        b.add_user(name)
    if (about := _SYSMON_OBJECTS.get(eid)) is not None:
        about(b, eid, ed, meta, hashes)


def _sysmon_network(b: _Builder, ed: dict[str, str]) -> None:
    get = ed.get
    network: dict[str, Any] = {}
    if get("Protocol"):
        network["transport"] = ed["Protocol"].lower()
    network["type"] = "ipv6" if get("SourceIsIpv6") == "true" else "ipv4"
    initiated = get("Initiated")
    if initiated:
        network["direction"] = "egress" if initiated == "true" else "ingress"
    if _useful(name := get("DestinationPortName")):
        network["protocol"] = name
    b.event["network"] = network
    for side, prefix in (("source", "Source"), ("destination", "Destination")):
        node: dict[str, Any] = {}
        ip = _ip(get(prefix + "Ip"))
        if ip is not None:
            node["ip"] = ip
            b.add_ip(ip)
        if (port := _int(get(prefix + "Port"))) is not None:
            node["port"] = port
        if _useful(host := get(prefix + "Hostname")):
            node["domain"] = host
        if node:
            b.event[side] = node


def _registry(b: _Builder, eid: str, ed: dict[str, str], meta: dict[str, Any]) -> None:
    kind = ed.get("EventType") or ""
    if kind in ("CreateKey",):
        meta["type"] = ["creation"]
    elif kind in ("DeleteKey", "DeleteValue"):
        meta["type"] = ["deletion"]
    path = ed.get("TargetObject")
    if not _useful(path):
        return
    assert path is not None
    registry: dict[str, Any] = {"path": path}
    hive, _, rest = path.partition("\\")
    if (short := F.REGISTRY_HIVES.get(hive.upper())) is not None:
        registry["hive"] = short
        if eid == "13" or kind in ("SetValue", "DeleteValue"):
            key, _, value = rest.rpartition("\\")
            registry["key"] = key
            registry["value"] = value
        else:
            registry["key"] = rest
    details = ed.get("Details")
    if details and eid == "13":
        data: dict[str, Any] = {"strings": [details]}
        word = details.split(" ", 1)[0]
        if (dtype := F.REGISTRY_DATA_TYPES.get(word)) is not None:
            data["type"] = dtype
            if word in ("DWORD", "QWORD") and "(" in details:
                data["strings"] = [str(_int(details[details.find("(") + 1:].rstrip(")")) or 0)]
        else:
            data["type"] = "SZ"
        registry["data"] = data
    b.event["registry"] = registry


def _dns(b: _Builder, ed: dict[str, str]) -> None:
    dns: dict[str, Any] = {}
    name = ed.get("QueryName")
    if _useful(name):
        dns["question"] = {"name": name}
    answers: list[dict[str, str]] = []
    resolved: list[str] = []
    for entry in (ed.get("QueryResults") or "").split(";"):
        entry = entry.strip()
        if not entry or entry == "-":
            continue
        if entry.startswith("type:"):
            bits = entry.split(" ", 2)
            if len(bits) == 3:
                answers.append({"type": "CNAME" if bits[1] == "5" else bits[1], "data": bits[2]})
            continue
        ip = entry[7:] if entry.startswith("::ffff:") else entry
        answers.append({"type": "AAAA" if ":" in ip else "A", "data": ip})
        resolved.append(ip)
        b.add_ip(ip)
    if answers:
        dns["answers"] = answers
    if resolved:
        dns["resolved_ip"] = resolved
    status = ed.get("QueryStatus")
    if status is not None:
        dns["response_code"] = "NOERROR" if status == "0" else status
    if dns:
        b.event["dns"] = dns
        b.obj("network")["protocol"] = "dns"


# ---- System, PowerShell -----------------------------------------------------------------------

def _system(b: _Builder, eid: str, ed: dict[str, str], user_data: dict[str, Any] | None,
            meta: dict[str, Any]) -> None:
    _classify(meta, F.SYSTEM.get(eid))
    if eid == "7045":
        service: dict[str, Any] = {}
        if _useful(ed.get("ServiceName")):
            service["name"] = ed["ServiceName"]
        if _useful(ed.get("ServiceType")):
            service["type"] = ed["ServiceType"]
        if service:
            b.event["service"] = service
        image = ed.get("ImagePath")
        if _useful(image):
            b.obj("file")["path"] = image
        account = ed.get("AccountName")
        if _useful(account):
            assert account is not None
            domain, name = _user_pair(account)
            user: dict[str, Any] = {"name": name}
            if domain:
                user["domain"] = domain
            b.event["user"] = user
            b.add_user(name)
    elif eid == "104" and user_data:
        user = {}
        b.user(user, None, to_text(user_data.get("SubjectUserName")), to_text(user_data.get("SubjectDomainName")))
        if user:
            b.event["user"] = user
        channel = to_text(user_data.get("Channel"))
        if channel:
            b.obj("winlog")["cleared_channel"] = channel


def _powershell(b: _Builder, eid: str, ed: dict[str, str], meta: dict[str, Any]) -> None:
    _classify(meta, F.POWERSHELL.get(eid))
    ps: dict[str, Any] = {}
    if eid == "4104":
        file: dict[str, Any] = {}
        if ed.get("ScriptBlockText"):
            file["script_block_text"] = ed["ScriptBlockText"]
        if ed.get("ScriptBlockId"):
            file["script_block_id"] = ed["ScriptBlockId"]
        if ed.get("Path"):
            b.obj("file")["path"] = ed["Path"]
            b.obj("file")["name"] = _basename(ed["Path"])
        if file:
            ps["file"] = file
        if (n := _int(ed.get("MessageNumber"))) is not None:
            ps["sequence"] = n
        if (n := _int(ed.get("MessageTotal"))) is not None:
            ps["total"] = n
    elif eid == "4103":
        payload = ed.get("Payload")
        if payload:
            ps["payload"] = payload
        context = ed.get("ContextInfo") or ""
        # ContextInfo is "        Key = value" lines; Host Application carries the command line
        for line in context.splitlines():
            key, sep, value = line.strip().partition(" = ")
            if not sep:
                continue
            if key == "Host Application":
                process = b.obj("process")
                process["command_line"] = value
                process["args"] = split_command_line(value)
                if args := process["args"]:
                    process["executable"] = args[0].strip('"')
                    process["name"] = _basename(process["executable"])
            elif key == "User":
                domain, name = _user_pair(value)
                user: dict[str, Any] = {"name": name}
                if domain:
                    user["domain"] = domain
                b.event["user"] = user
                b.add_user(name)
            elif key == "Command Name":
                ps["command"] = {"name": value}
    if ps:
        b.event["powershell"] = ps
