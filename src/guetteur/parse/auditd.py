"""Linux audit (auditd) logs: records, and the assembler that folds the records of one
audit event (SYSCALL + EXECVE + PATH + CWD + PROCTITLE + ... sharing a serial) into one
ECS event.

Record shape: `[node=N ]type=T msg=audit(<epoch>.<ms>:<serial>): k=v k=v ...` optionally
followed by the `\\x1d`-separated enriched fields (`ARCH=x86_64 SYSCALL=execve UID="bob"`)
that `log_format = ENRICHED` adds. User-space records carry a nested `msg='k=v ...'`.
Untrusted strings (`proctitle`, EXECVE args, `name`, `comm`, `exe`, `cwd`, `acct`...)
are quoted when printable and hex-encoded otherwise; both are decoded here.

Mapping (as Elastic's auditd integration and Auditbeat): `auditd.log.*` keeps every raw
key of the primary record (with `record_type`, `sequence`, `success` as bool),
`process.{pid,parent.pid,name,executable,exit_code,args,command_line,title,
working_directory}`, `user.{id,group.id,effective.*,saved.*,filesystem.*,audit.id}` and
names from enriched fields, `file.path` (+ `auditd.paths`), `host.architecture`,
`event.action/category/type` by syscall or record type, `event.outcome` from
`success`/`res`. Single user-space records (USER_AUTH, USER_LOGIN...) map to
authentication/session events with `user.name` (acct) and `source.ip` (addr).

`AuditAssembler` is what the registry's `parse_batch` uses: records are buffered per
(source, peer, serial); a group is closed by its EOE record, by a record with another
serial on the same stream, by age (`max_age` seconds) or by `flush()`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from guetteur.model import Event, RawRecord
from guetteur.parse import timefmt
from guetteur.parse.address import add_related, endpoint
from guetteur.parse.base import Parser

_HEADER = re.compile(r"(?:node=(\S+) )?type=(\S+) msg=audit\((\d+(?:\.\d+)?):(\d+)\):\s?(.*)$", re.DOTALL)
_KV = re.compile(r"([\w-]+)=(\"[^\"]*\"|'[^']*'|\S*)")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+$")
_ENCODED_KEYS = frozenset({
    "proctitle", "name", "comm", "exe", "cwd", "acct", "cmd", "data", "key", "path", "new", "old",
    "dir", "ocomm", "watch", "vm", "old_vm", "new_vm", "grp", "new_group", "id", "audit_backlog_wait_time",
})
_STANDALONE = ("USER_", "CRED_", "SERVICE_", "DAEMON_", "ANOM_", "LOGIN", "ADD_", "DEL_", "GRP_", "ACCT_",
               "SYSTEM_", "AVC", "USYS_", "VIRT_", "CHGRP_", "CHUSER_", "ROLE_", "SOFTWARE_", "TTY", "BPF")
_ARCH = {"c000003e": "x86_64", "40000003": "i386", "c00000b7": "aarch64", "40000028": "arm",
         "c0000015": "ppc64le", "80000016": "s390x", "c00000f3": "riscv64"}

# syscall -> (event.action, event.category, event.type)
_SYSCALLS: dict[str, tuple[str, str, str]] = {
    "execve": ("executed", "process", "start"), "execveat": ("executed", "process", "start"),
    "unlink": ("deleted", "file", "deletion"), "unlinkat": ("deleted", "file", "deletion"),
    "rmdir": ("deleted", "file", "deletion"), "rename": ("renamed", "file", "change"),
    "renameat": ("renamed", "file", "change"), "renameat2": ("renamed", "file", "change"),
    "open": ("opened-file", "file", "access"), "openat": ("opened-file", "file", "access"),
    "creat": ("created", "file", "creation"), "mkdir": ("created-directory", "file", "creation"),
    "chmod": ("changed-file-permissions-of", "file", "change"),
    "fchmod": ("changed-file-permissions-of", "file", "change"),
    "fchmodat": ("changed-file-permissions-of", "file", "change"),
    "chown": ("changed-file-ownership-of", "file", "change"),
    "fchown": ("changed-file-ownership-of", "file", "change"),
    "fchownat": ("changed-file-ownership-of", "file", "change"),
    "lchown": ("changed-file-ownership-of", "file", "change"),
    "truncate": ("truncated", "file", "change"), "ftruncate": ("truncated", "file", "change"),
    "link": ("linked", "file", "creation"), "symlink": ("linked", "file", "creation"),
    "connect": ("connected-to", "network", "connection"), "bind": ("bound-socket", "network", "connection"),
    "accept": ("accepted-connection-from", "network", "connection"),
    "accept4": ("accepted-connection-from", "network", "connection"),
    "setuid": ("changed-identity-of", "process", "change"), "setgid": ("changed-identity-of", "process", "change"),
    "setreuid": ("changed-identity-of", "process", "change"), "setresuid": ("changed-identity-of", "process", "change"),
    "kill": ("killed-pid", "process", "end"), "tkill": ("killed-pid", "process", "end"),
    "ptrace": ("traced", "process", "access"), "init_module": ("loaded-kernel-module", "driver", "start"),
    "finit_module": ("loaded-kernel-module", "driver", "start"),
    "delete_module": ("unloaded-kernel-module", "driver", "end"), "mount": ("mounted", "file", "creation"),
    "umount2": ("unmounted", "file", "deletion"), "setxattr": ("changed-file-attributes-of", "file", "change"),
}
# x86_64 syscall numbers for the common ones, when the log is not enriched.
_X86_64 = {"59": "execve", "322": "execveat", "87": "unlink", "263": "unlinkat", "84": "rmdir", "82": "rename",
           "264": "renameat", "316": "renameat2", "2": "open", "257": "openat", "85": "creat", "83": "mkdir",
           "90": "chmod", "91": "fchmod", "268": "fchmodat", "92": "chown", "93": "fchown", "260": "fchownat",
           "94": "lchown", "76": "truncate", "77": "ftruncate", "86": "link", "88": "symlink", "42": "connect",
           "49": "bind", "43": "accept", "288": "accept4", "105": "setuid", "106": "setgid", "113": "setreuid",
           "117": "setresuid", "62": "kill", "200": "tkill", "101": "ptrace", "175": "init_module",
           "313": "finit_module", "176": "delete_module", "165": "mount", "166": "umount2", "188": "setxattr"}
# user-space record type -> (event.action, event.category, event.type)
_USER_TYPES: dict[str, tuple[str, list[str], list[str]]] = {
    "USER_AUTH": ("authenticated", ["authentication"], ["info"]),
    "USER_LOGIN": ("logged-in", ["authentication", "session"], ["start"]),
    "USER_LOGOUT": ("logged-out", ["session"], ["end"]),
    "USER_START": ("started-session", ["session"], ["start"]),
    "USER_END": ("ended-session", ["session"], ["end"]),
    "USER_ACCT": ("was-authorized", ["authentication"], ["info"]),
    "CRED_ACQ": ("acquired-credentials", ["authentication"], ["info"]),
    "CRED_DISP": ("disposed-credentials", ["authentication"], ["info"]),
    "CRED_REFR": ("refreshed-credentials", ["authentication"], ["info"]),
    "USER_CMD": ("ran-command", ["process"], ["start"]),
    "USER_CHAUTHTOK": ("changed-password", ["iam"], ["user", "change"]),
    "ADD_USER": ("added-user-account", ["iam"], ["user", "creation"]),
    "DEL_USER": ("deleted-user-account", ["iam"], ["user", "deletion"]),
    "ADD_GROUP": ("added-group-account", ["iam"], ["group", "creation"]),
    "DEL_GROUP": ("deleted-group-account", ["iam"], ["group", "deletion"]),
    "USER_ROLE_CHANGE": ("changed-role", ["iam"], ["change"]),
    "ANOM_ABEND": ("crashed-program", ["process"], ["end"]),
    "ANOM_PROMISCUOUS": ("changed-promiscuous-mode-on-device", ["network"], ["change"]),
    "SERVICE_START": ("started-service", ["process"], ["start"]),
    "SERVICE_STOP": ("stopped-service", ["process"], ["end"]),
    "AVC": ("violated-selinux-policy", ["process"], ["denied"]),
    "CONFIG_CHANGE": ("changed-audit-configuration", ["configuration"], ["change"]),
}
_ID_FIELDS = (
    ("uid", "user.id", "UID", "user.name"), ("gid", "user.group.id", "GID", "user.group.name"),
    ("euid", "user.effective.id", "EUID", "user.effective.name"),
    ("egid", "user.effective.group.id", "EGID", "user.effective.group.name"),
    ("suid", "user.saved.id", "SUID", "user.saved.name"),
    ("sgid", "user.saved.group.id", "SGID", "user.saved.group.name"),
    ("fsuid", "user.filesystem.id", "FSUID", "user.filesystem.name"),
    ("fsgid", "user.filesystem.group.id", "FSGID", "user.filesystem.group.name"),
    ("auid", "user.audit.id", "AUID", "user.audit.name"),
)


def _put(event: Event, path: str, value: object) -> None:
    node = event
    parts = path.split(".")
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[parts[-1]] = value


def decode_value(key: str, raw: str, hex_allowed: bool) -> str:
    """Unquote a value; hex-decode an unquoted untrusted string (NULs become spaces)."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    if hex_allowed and raw != "(null)" and len(raw) >= 2 and _HEX.match(raw):
        try:
            text = bytes.fromhex(raw).decode("utf-8", errors="replace")
        except ValueError:
            return raw
        return text.replace("\x00", " ").strip()
    return raw


@dataclass(slots=True)
class AuditRecord:
    """One parsed audit record."""

    type: str
    timestamp: str
    serial: str
    node: str | None
    fields: dict[str, str]
    text: str


def parse_audit_record(text: str) -> AuditRecord | None:
    """The record in one auditd line, or None when it is not one."""
    start = text.find("type=")
    if start < 0 or start > 512:
        return None
    m = _HEADER.match(text, start if not text.startswith("node=") else 0)
    if m is None:
        return None
    node, rtype, stamp, serial, body = m.groups()
    when = timefmt.epoch(stamp)
    if when is None:
        return None
    fields: dict[str, str] = {}
    is_execve = rtype == "EXECVE"
    for key, raw in _KV.findall(body):
        if key == "msg" and raw.startswith("'"):
            for k2, v2 in _KV.findall(raw[1:-1]):
                fields[k2] = decode_value(k2, v2, k2 in _ENCODED_KEYS)
            continue
        hex_ok = key in _ENCODED_KEYS or (is_execve and key[:1] == "a" and key[1:2].isdigit())
        fields[key] = decode_value(key, raw, hex_ok)
    return AuditRecord(rtype, when, serial, node, fields, text)


def _apply_syscall(event: Event, f: dict[str, str]) -> None:
    process = event.setdefault("process", {})
    if "pid" in f and f["pid"].isdigit():
        process["pid"] = int(f["pid"])
    if "ppid" in f and f["ppid"].isdigit():
        process["parent"] = {"pid": int(f["ppid"])}
    if f.get("comm"):
        process["name"] = f["comm"]
    if f.get("exe"):
        process["executable"] = f["exe"]
    if "exit" in f:
        try:
            process["exit_code"] = int(f["exit"])
        except ValueError:
            pass
    for raw_key, ecs_id, enriched, ecs_name in _ID_FIELDS:
        value = f.get(raw_key)
        if value is not None and value != "4294967295":
            _put(event, ecs_id, value)
        name = f.get(enriched)
        if name and name not in ("unset", "?"):
            _put(event, ecs_name, name)
    if f.get("tty") and f["tty"] != "(none)":
        process["tty"] = {"name": f["tty"]}
    arch = f.get("ARCH") or _ARCH.get(f.get("arch", ""))
    if arch:
        event.setdefault("host", {})["architecture"] = arch
    syscall = f.get("SYSCALL") or (_X86_64.get(f.get("syscall", "")) if f.get("arch") == "c000003e" else None)
    ev = event.setdefault("event", {})
    if syscall:
        mapped = _SYSCALLS.get(syscall)
        if mapped is not None:
            ev["action"], category, kind = mapped
            ev["category"] = [category]
            ev["type"] = [kind]
        else:
            ev["action"] = syscall
    if f.get("success") in ("yes", "no"):
        ev["outcome"] = "success" if f["success"] == "yes" else "failure"


def _apply_user_record(event: Event, rtype: str, f: dict[str, str]) -> None:
    ev = event.setdefault("event", {})
    mapped = _USER_TYPES.get(rtype)
    if mapped is not None:
        ev["action"], ev["category"], ev["type"] = mapped[0], list(mapped[1]), list(mapped[2])
    res = f.get("res") or f.get("result")
    if res:
        ev["outcome"] = "success" if res in ("success", "1", "yes") else "failure"
    acct = f.get("acct")
    if acct and acct not in ("?", "(unknown)"):
        _put(event, "user.name", acct)
        add_related(event, "user", acct)
    if f.get("auid") and f["auid"] != "4294967295":
        _put(event, "user.audit.id", f["auid"])
    if f.get("uid"):
        _put(event, "user.id", f["uid"])
    addr = f.get("addr")
    src = endpoint(addr) if addr and addr != "?" else None
    if src is None and f.get("hostname") and f["hostname"] != "?":
        src = endpoint(f["hostname"])
    if src is not None:
        event["source"] = src
        add_related(event, "ip", src.get("ip"))
    if f.get("exe"):
        _put(event, "process.executable", f["exe"])
    if f.get("pid", "").isdigit():
        _put(event, "process.pid", int(f["pid"]))
    if f.get("terminal") and f["terminal"] != "?":
        _put(event, "process.tty.name", f["terminal"])
    if f.get("cmd"):
        _put(event, "process.command_line", f["cmd"])


def build_event(records: list[AuditRecord]) -> Event:
    """One ECS event from the records of one audit event (first record is the primary)."""
    primary = next((r for r in records if r.type == "SYSCALL"), records[0])
    log: dict = dict(primary.fields)
    log["record_type"] = primary.type
    log["sequence"] = int(primary.serial)
    if primary.node:
        log["node"] = primary.node
    if log.get("success") in ("yes", "no"):
        log["success"] = log["success"] == "yes"
    event: Event = {"@timestamp": primary.timestamp, "auditd": {"log": log}}
    ev = event["event"] = {"kind": "event"}
    if primary.node:
        event["host"] = {"name": primary.node}
    if primary.type == "SYSCALL":
        _apply_syscall(event, primary.fields)
    else:
        _apply_user_record(event, primary.type, primary.fields)
    paths: list[dict] = []
    others: dict[str, list[dict]] = {}
    for record in records:
        if record is primary or record.type == "EOE":
            continue
        f = record.fields
        if record.type == "EXECVE":
            argc = int(f["argc"]) if f.get("argc", "").isdigit() else 0
            args = [f[f"a{i}"] for i in range(min(argc, 4096)) if f"a{i}" in f]
            if args:
                _put(event, "process.args", args)
                _put(event, "process.args_count", len(args))
                _put(event, "process.command_line", " ".join(args))
        elif record.type == "PROCTITLE":
            if f.get("proctitle"):
                _put(event, "process.title", f["proctitle"])
        elif record.type == "CWD":
            if f.get("cwd"):
                _put(event, "process.working_directory", f["cwd"])
        elif record.type == "PATH":
            paths.append(f)
        elif record.type == "SOCKADDR":
            others.setdefault("sockaddr", []).append(f)
            if f.get("laddr"):
                dst = endpoint(f["laddr"], f.get("lport"))
                if dst is not None:
                    event["destination"] = dst
                    add_related(event, "ip", dst.get("ip"))
        else:
            others.setdefault(record.type.lower(), []).append(f)
    if paths:
        event["auditd"]["paths"] = paths
        # the PATH that names the object acted on: the last non-PARENT item
        target = next((p for p in reversed(paths) if p.get("nametype") not in ("PARENT",)), paths[-1])
        name = target.get("name")
        if name and name != "(null)":
            cwd = event.get("process", {}).get("working_directory")
            path = name if name.startswith("/") or not cwd else f"{cwd.rstrip('/')}/{name}"
            file: dict = {"path": path, "name": path.rsplit("/", 1)[-1]}
            if target.get("inode"):
                file["inode"] = target["inode"]
            if target.get("mode"):
                file["mode"] = target["mode"][-4:]
            if target.get("ouid"):
                file["uid"] = target["ouid"]
            if target.get("ogid"):
                file["gid"] = target["ogid"]
            if target.get("OUID"):
                file["owner"] = target["OUID"]
            event["file"] = file
    if others:
        event["auditd"]["data"] = others
    if len(records) > 1:
        event["auditd"]["record_types"] = [r.type for r in records]
    if "category" not in ev and primary.type.startswith(("AVC", "SELINUX", "APPARMOR")):
        ev["category"] = ["process"]
        ev["type"] = ["denied"]
    if primary.fields.get("key") and primary.fields["key"] != "(null)":
        event.setdefault("tags", []).append(primary.fields["key"])
    return event


def parse_line(text: str, record: RawRecord) -> Event | None:
    """One auditd record as its own event (used when records come one by one)."""
    parsed = parse_audit_record(text)
    return None if parsed is None else build_event([parsed])


def parse_syslog(message: str, record: RawRecord, base: Event) -> Event | None:
    """An audit record forwarded by syslog (audispd, kernel `audit: type=1400 ...`)."""
    start = message.find("type=")
    if start < 0:
        return None
    body = message[start:]  # drop "[49787.970285] audit: " kernel prefixes
    if body.startswith("type=") and "audit(" in body[:40] and " msg=audit(" not in body[:40]:
        # kernel form "type=1400 audit(…): …": give it the auditd header shape
        body = body.replace(" audit(", " msg=audit(", 1)
    parsed = parse_audit_record(body)
    if parsed is None:
        return None
    event = build_event([parsed])
    for key in ("host", "log"):
        if key in base:
            event.setdefault(key, {}).update(base[key])
    return event


def sniff_line(text: str) -> bool:
    return (text.startswith("type=") or text.startswith("node=")) and "msg=audit(" in text[:120]


def sniff_syslog(message: str) -> bool:
    return "audit(" in message[:64] and "type=" in message[:40]


def is_standalone(rtype: str) -> bool:
    """Record types that are a whole audit event by themselves (no EOE follows)."""
    return rtype.startswith(_STANDALONE)


@dataclass(slots=True)
class _Group:
    records: list[AuditRecord]
    raws: list[RawRecord]
    started: float
    texts: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AuditAssembler:
    """Folds auditd records sharing (source, peer, serial) into one event.

    `add()` returns the events of groups it closed; `expire()` closes groups older than
    `max_age` seconds; `flush()` closes all. `pending` is the number of records held.
    """

    max_age: float = 2.0
    _open: dict[tuple[str, str | None], tuple[str, _Group]] = field(default_factory=dict)
    pending: int = 0

    def add(self, record: RawRecord, text: str, parsed: AuditRecord) -> list[tuple[Event, list[RawRecord], str]]:
        stream = (record.source, record.peer)
        closed: list[tuple[Event, list[RawRecord], str]] = []
        current = self._open.get(stream)
        if current is not None and current[0] != parsed.serial:
            closed.append(self._close(stream))
            current = None
        if parsed.type == "EOE":
            if current is not None:
                current[1].raws.append(record)
                current[1].texts.append(text)
                self.pending += 1
                closed.append(self._close(stream))
            else:  # a lone EOE: keep it as its own (tiny) event rather than lose the record
                closed.append((build_event([parsed]), [record], text))
            return closed
        if current is None:
            if is_standalone(parsed.type):
                closed.append((build_event([parsed]), [record], text))
                return closed
            group = _Group([parsed], [record], time.monotonic(), [text])
            self._open[stream] = (parsed.serial, group)
        else:
            current[1].records.append(parsed)
            current[1].raws.append(record)
            current[1].texts.append(text)
        self.pending += 1
        return closed

    def _close(self, stream: tuple[str, str | None]) -> tuple[Event, list[RawRecord], str]:
        _serial, group = self._open.pop(stream)
        self.pending -= len(group.raws)
        return build_event(group.records), group.raws, "\n".join(group.texts)

    def expire(self, now: float | None = None) -> list[tuple[Event, list[RawRecord], str]]:
        moment = time.monotonic() if now is None else now
        old = [s for s, (_serial, g) in self._open.items() if moment - g.started >= self.max_age]
        return [self._close(s) for s in old]

    def flush(self) -> list[tuple[Event, list[RawRecord], str]]:
        return [self._close(s) for s in list(self._open)]

    def streams(self) -> Iterable[tuple[str, str | None]]:
        return list(self._open)


PARSERS = [
    Parser("auditd", "linux", "line", parse_line, sniff=sniff_line, priority=20),
    Parser("auditd_syslog", "linux", "syslog", parse_syslog, sniff=sniff_syslog,
           programs=("audispd", "audisp-syslog", "auditd", "audit"), priority=20),
]
