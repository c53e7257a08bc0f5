"""Log line formats, written the way the real programs write them.

One small function per shape; each takes the moment (`ts`, epoch seconds) explicitly, so
the generators decide what "now" is. Zone-less timestamps (RFC 3164, Python logging,
PostgreSQL's `%m`) are written in UTC, Guetteur's default `parse.timezone`.
Shapes follow public samples in `shared/data/logs` (crowdsec hub, Wazuh ruleset tests,
OTRF Security-Datasets, Elastic fixtures).
"""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import orjson

FACILITY = {"kern": 0, "user": 1, "daemon": 3, "auth": 4, "cron": 9, "authpriv": 10, "local0": 16, "local7": 23}
SEVERITY = {"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def iso_ms(ts: float) -> str:
    """`2026-04-06T16:21:41.594Z`."""
    moment = _utc(ts)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def syslog(
    ts: float, host: str, program: str, pid: int | None, message: str, *,
    facility: str = "auth", severity: str = "info", rfc5424: bool = False,
) -> str:
    """A syslog line as rsyslog forwards it: RFC 3164 (`<38>Apr  6 16:21:41 host sshd[42]: msg`)
    or RFC 5424 (`<38>1 2026-04-06T16:21:41.594Z host sshd 42 - - msg`)."""
    pri = FACILITY[facility] * 8 + SEVERITY[severity]
    if rfc5424:
        return f"<{pri}>1 {iso_ms(ts)} {host} {program} {pid if pid is not None else '-'} - - {message}"
    moment = _utc(ts)
    stamp = f"{moment:%b} {moment.day:>2} {moment:%H:%M:%S}"
    tag = f"{program}[{pid}]" if pid is not None else program
    return f"<{pri}>{stamp} {host} {tag}: {message}"


# --- sshd ---------------------------------------------------------------------------

def sshd_accepted(user: str, ip: str, port: int, method: str = "password") -> str:
    if method == "publickey":
        return f"Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:3oQkGf0b9l1c1n6rJw4kA9pZsT2dVx8yUe5hRqN7mCk"
    return f"Accepted {method} for {user} from {ip} port {port} ssh2"


def sshd_failed(user: str, ip: str, port: int, *, invalid: bool = False) -> str:
    who = f"invalid user {user}" if invalid else user
    return f"Failed password for {who} from {ip} port {port} ssh2"


def sshd_invalid_user(user: str, ip: str, port: int) -> str:
    return f"Invalid user {user} from {ip} port {port}"


def sshd_preauth_closed(user: str, ip: str, port: int, *, invalid: bool = False) -> str:
    who = f"invalid user {user}" if invalid else f"authenticating user {user}"
    return f"Connection closed by {who} {ip} port {port} [preauth]"


def pam_session_opened(service: str, user: str, uid: int, by: str = "", by_uid: int = 0) -> str:
    return f"pam_unix({service}:session): session opened for user {user}(uid={uid}) by {by}(uid={by_uid})"


def pam_session_closed(service: str, user: str) -> str:
    return f"pam_unix({service}:session): session closed for user {user}"


def sshd_disconnected(user: str, ip: str, port: int) -> str:
    return f"Disconnected from user {user} {ip} port {port}"


# --- sudo, su, useradd, cron ----------------------------------------------------------

def sudo_command(user: str, command: str, *, pwd: str, tty: str = "pts/0", run_as: str = "root") -> str:
    return f"{user} : TTY={tty} ; PWD={pwd} ; USER={run_as} ; COMMAND={command}"


def sudo_refused(user: str, reason: str, command: str, *, pwd: str, tty: str = "pts/0") -> str:
    """`reason`: `3 incorrect password attempts`, `user NOT in sudoers`, `command not allowed`."""
    return f"{user} : {reason} ; TTY={tty} ; PWD={pwd} ; USER=root ; COMMAND={command}"


def pam_auth_failure(service: str, user: str, uid: int, tty: str, target: str) -> str:
    return (f"pam_unix({service}:auth): authentication failure; logname={user} uid={uid} euid=0 "
            f"tty=/dev/{tty} ruser={user} rhost=  user={target}")


def su_to(user: str, target: str, tty: str) -> str:
    return f"(to {target}) {user} on {tty}"


def su_failed(user: str, target: str, tty: str) -> str:
    return f"FAILED SU (to {target}) {user} on {tty}"


def useradd_new(name: str, uid: int, gid: int, home: str, shell: str) -> str:
    return f"new user: name={name}, UID={uid}, GID={gid}, home={home}, shell={shell}, from=/dev/pts/1"


def cron_cmd(user: str, command: str) -> str:
    return f"({user}) CMD ({command})"


# --- web -----------------------------------------------------------------------------

def combined_access(
    ts: float, ip: str, method: str, target: str, status: int, size: int,
    *, user: str = "-", referer: str = "-", agent: str = "-",
) -> str:
    """NCSA combined log format, as nginx and Apache write it."""
    moment = _utc(ts)
    return (f'{ip} - {user} [{moment:%d/%b/%Y:%H:%M:%S} +0000] "{method} {target} HTTP/1.1" '
            f'{status} {size} "{referer}" "{agent}"')


def uvicorn_access(ip: str, port: int, method: str, target: str, status: int) -> str:
    """`INFO:     10.0.0.5:54321 - "GET /api/v1/patients/1042/records HTTP/1.1" 200 OK`."""
    return f'INFO:     {ip}:{port} - "{method} {target} HTTP/1.1" {status} {HTTPStatus(status).phrase}'


def python_logging(ts: float, level: str, message: str) -> str:
    """The logging module's `%(asctime)s - %(levelname)s - %(message)s`."""
    moment = _utc(ts)
    return f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} - {level} - {message}"


def app_json(ts: float, **fields: Any) -> str:
    """The API's structured audit log: one JSON object, keys as the application names them."""
    return orjson.dumps({"timestamp": iso_ms(ts), **fields}).decode()


# --- PostgreSQL ----------------------------------------------------------------------

def postgresql(ts: float, pid: int, client: str, user: str, database: str, level: str, message: str) -> str:
    """`log_line_prefix = '%m [%p] %h %q%u@%d '` (Debian's default plus the client host)."""
    moment = _utc(ts)
    stamp = f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} UTC"
    return f"{stamp} [{pid}] {client} {user}@{database} {level}:  {message}"


# --- netfilter / UFW -----------------------------------------------------------------

def ufw(
    uptime: float, action: str, *, src: str, dst: str, proto: str, spt: int, dpt: int,
    inbound: bool = True, ttl: int = 52, packet_id: int = 0, length: int = 60,
) -> str:
    """A kernel netfilter line with UFW's prefix (`[UFW BLOCK]`, `[UFW ALLOW]`, `[UFW AUDIT]`)."""
    iface = "IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00" if inbound else "IN= OUT=eth0"
    tail = f"SPT={spt} DPT={dpt}"
    if proto == "TCP":
        tail += " WINDOW=64240 RES=0x00 SYN URGP=0"
    else:
        tail += f" LEN={max(length - 28, 8)}"
    return (f"[{uptime:12.6f}] [UFW {action}] {iface} SRC={src} DST={dst} LEN={length} TOS=0x00 PREC=0x00 "
            f"TTL={ttl} ID={packet_id} DF PROTO={proto} {tail}")


# --- auditd --------------------------------------------------------------------------

def _audit_id(ts: float, serial: int) -> str:
    return f"audit({ts:.3f}:{serial})"


def _hex(text: str) -> str:
    return text.encode().hex().upper()


def _syscall(ts: float, serial: int, syscall: int, items: int, pid: int, ppid: int, uid: int, auid: int,
             comm: str, exe: str, key: str, *, success: bool = True, tty: str = "(none)", ses: int = 4) -> str:
    ids = " ".join(f"{n}={uid}" for n in ("uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid"))
    return (f"type=SYSCALL msg={_audit_id(ts, serial)}: arch=c000003e syscall={syscall} "
            f"success={'yes' if success else 'no'} exit={0 if success else -13} a0=7ffc4a1e2b10 a1=7ffc4a1e2c40 "
            f"a2=0 a3=0 items={items} ppid={ppid} pid={pid} auid={auid} {ids} tty={tty} ses={ses} "
            f'comm="{comm}" exe="{exe}" subj=unconfined key="{key}"')


def _path(ts: float, serial: int, item: int, name: str, nametype: str, inode: int, mode: str, uid: int) -> str:
    return (f'type=PATH msg={_audit_id(ts, serial)}: item={item} name="{name}" inode={inode} dev=fd:01 '
            f"mode={mode} ouid={uid} ogid={uid} rdev=00:00 nametype={nametype} cap_fp=0 cap_fi=0 cap_fe=0 "
            f"cap_fver=0 cap_frootid=0")


def audit_rename(ts: float, serial: int, old: str, new: str, *, pid: int, ppid: int, uid: int, auid: int,
                 comm: str, exe: str, proctitle: str, inode: int) -> list[str]:
    """rename(2) (x86_64 syscall 82) as auditd logs it with a `-w DIR -p wa` watch:
    SYSCALL, CWD, two PARENT items, the DELETE of the old name, the CREATE of the new one."""
    parent = old.rsplit("/", 1)[0] + "/"
    return [
        _syscall(ts, serial, 82, 4, pid, ppid, uid, auid, comm, exe, "file_change"),
        f'type=CWD msg={_audit_id(ts, serial)}: cwd="{parent.rstrip("/") or "/"}"',
        _path(ts, serial, 0, parent, "PARENT", inode // 1000, "040775", uid),
        _path(ts, serial, 1, parent, "PARENT", inode // 1000, "040775", uid),
        _path(ts, serial, 2, old, "DELETE", inode, "0100664", uid),
        _path(ts, serial, 3, new, "CREATE", inode, "0100664", uid),
        f"type=PROCTITLE msg={_audit_id(ts, serial)}: proctitle={_hex(proctitle)}",
    ]


def audit_create(ts: float, serial: int, path: str, *, pid: int, ppid: int, uid: int, auid: int,
                 comm: str, exe: str, proctitle: str, inode: int) -> list[str]:
    """openat(2) with O_CREAT (x86_64 syscall 257) creating a new file."""
    parent = path.rsplit("/", 1)[0] + "/"
    return [
        _syscall(ts, serial, 257, 2, pid, ppid, uid, auid, comm, exe, "file_change"),
        f'type=CWD msg={_audit_id(ts, serial)}: cwd="{parent.rstrip("/") or "/"}"',
        _path(ts, serial, 0, parent, "PARENT", inode // 1000, "040775", uid),
        _path(ts, serial, 1, path, "CREATE", inode, "0100644", uid),
        f"type=PROCTITLE msg={_audit_id(ts, serial)}: proctitle={_hex(proctitle)}",
    ]


def audit_execve(ts: float, serial: int, argv: list[str], exe: str, *, pid: int, ppid: int, uid: int, auid: int,
                 inode: int, tty: str = "pts1", ses: int = 4) -> list[str]:
    """execve(2) (x86_64 syscall 59) with its EXECVE argument record."""
    args = " ".join(f'a{i}="{arg}"' for i, arg in enumerate(argv))
    return [
        _syscall(ts, serial, 59, 2, pid, ppid, uid, auid, exe.rsplit("/", 1)[-1], exe, "exec", tty=tty, ses=ses),
        f"type=EXECVE msg={_audit_id(ts, serial)}: argc={len(argv)} {args}",
        f'type=CWD msg={_audit_id(ts, serial)}: cwd="/root"',
        _path(ts, serial, 0, exe, "NORMAL", inode, "0100755", 0),
        _path(ts, serial, 1, "/lib64/ld-linux-x86-64.so.2", "NORMAL", 19793507, "0100755", 0),
        f"type=PROCTITLE msg={_audit_id(ts, serial)}: proctitle={_hex(chr(0).join(argv))}",
    ]


# --- Zeek ----------------------------------------------------------------------------

def zeek_conn(ts: float, uid: str, orig: tuple[str, int], resp: tuple[str, int], *, proto: str, service: str | None,
              duration: float, orig_bytes: int, resp_bytes: int, sensor: str, state: str = "SF") -> str:
    """A Zeek conn.log record in JSON, as the json-streaming-logs package writes it."""
    record: dict[str, Any] = {
        "_path": "conn", "_system_name": sensor, "_write_ts": iso_ms(ts + duration),
        "ts": round(ts, 6), "uid": uid,
        "id.orig_h": orig[0], "id.orig_p": orig[1], "id.resp_h": resp[0], "id.resp_p": resp[1],
        "proto": proto, "duration": round(duration, 6), "orig_bytes": orig_bytes, "resp_bytes": resp_bytes,
        "conn_state": state, "local_orig": orig[0].startswith("10."), "local_resp": resp[0].startswith("10."),
        "missed_bytes": 0, "history": "ShADadFf" if proto == "tcp" else "Dd",
        "orig_pkts": max(1, orig_bytes // 1400), "orig_ip_bytes": orig_bytes + 40 * max(1, orig_bytes // 1400),
        "resp_pkts": max(1, resp_bytes // 1400), "resp_ip_bytes": resp_bytes + 40 * max(1, resp_bytes // 1400),
    }
    if service:
        record["service"] = service
    return orjson.dumps(record).decode()
