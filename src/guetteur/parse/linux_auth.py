"""Linux authentication logs (auth.log / secure): sshd, sudo, su, PAM, account management
(useradd, usermod, userdel, groupadd, groupdel, gpasswd, passwd, chpasswd), cron, crontab,
pkexec, doas, systemd-logind, login.

A syslog-kind parser: the envelope (see `syslog.py`) gives the base event and the MSG;
`parse_auth` picks the handler by program name (no regex is tried for other programs).
Field choices follow Elastic's `system.auth` pipeline: `event.action: "ssh_login"`,
`event.category: ["authentication"]` (+ `"session"` on success), `event.outcome`,
`system.auth.ssh.{event,method,signature,dropped_ip}`, `system.auth.sudo.{tty,pwd,user,
command,error}`, `user.name`, `user.effective.name`, `source.*`, `group.*`.
Lines a handler does not know keep the base event (message, host, process) unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from guetteur.model import Event, RawRecord
from guetteur.parse.address import add_related, endpoint
from guetteur.parse.base import Parser

# -- sshd ---------------------------------------------------------------------------------

_SSH_LOGIN = re.compile(
    r"(Accepted|Failed|Postponed) (\S+) for (invalid user )?(.*?) from (\S+) port (\d+)(?: ssh2)?(?:: (.*))?"
)
_SSH_INVALID = re.compile(r"[Ii]nvalid user (.*?) from (\S+?)(?: port (\d+))?(?: \[preauth\])?\s*$")
_SSH_CLOSED = re.compile(
    r"(Connection closed|Disconnected from|Connection reset|Received disconnect from|Disconnecting)"
    r"(?: by| from)?(?: (invalid|authenticating) user (\S*))?(?: user (\S*))? (\S+) port (\d+)"
    r"(?::\s*(.*?))?\s*(\[preauth\])?\s*$"
)
_SSH_MAX_AUTH = re.compile(
    r"(?:error: )?maximum authentication attempts exceeded for (invalid user )?(\S*) from (\S+) port (\d+)"
)
_SSH_NEGOTIATE = re.compile(r"(?:fatal: )?Unable to negotiate with (\S+?)(?: port (\d+))?: (no matching [^.]*)")
_SSH_DROPPED = re.compile(r"Did not receive identification string from (\S+?)(?: port (\d+))?\s*$")
_SSH_USER_FROM = re.compile(r"(.*?) user (\S*) from (\S+?)(?: port (\d+))?(?: ssh2)?(?: \[preauth\])?\s*$")
_SSH_REFUSED = re.compile(r"refused connect from (\S+) \((\S+)\)")
_SSH_USERAUTH_REQ = re.compile(r"input_userauth_request: invalid user (\S*)")
_SSH_ANY_IP = re.compile(r"(?:from|with|host|for) \[?((?:\d{1,3}\.){3}\d{1,3}|[0-9a-fA-F]*:[0-9a-fA-F:]+)\]?(?: port (\d+))?")

_LOGIN_SUCCESS = ["authentication", "session"]


def _auth_event(base: Event, action: str, outcome: str | None, category: list[str] | None = None,
                kind_type: list[str] | None = None) -> dict:
    ev = base.get("event")
    if ev is None:
        ev = base["event"] = {}
    ev["action"] = action
    ev["category"] = category or ["authentication"]
    ev["type"] = kind_type or ["info"]
    if outcome is not None:
        ev["outcome"] = outcome
    return ev


def _source(base: Event, address: str | None, port: str | None = None) -> None:
    src = endpoint(address, port)
    if src is not None:
        base["source"] = src
        add_related(base, "ip", src.get("ip"))


def _user(base: Event, name: str | None) -> None:
    if name:
        user = base.get("user")
        if user is None:
            base["user"] = {"name": name}
        else:
            user["name"] = name
        add_related(base, "user", name)


def _ssh_fields(base: Event) -> dict:
    system = base.setdefault("system", {})
    auth = system.setdefault("auth", {})
    return auth.setdefault("ssh", {})


def _ssh_login(base: Event, ssh: dict, outcome: str, user: str | None, address: str, port: str | None) -> Event:
    """The hot path (most auth.log lines): build the objects directly, no helper calls."""
    ev = base.get("event")
    category = ["authentication", "session"] if outcome == "success" else ["authentication"]
    if ev is None:
        base["event"] = {"action": "ssh_login", "category": category, "type": ["info"], "outcome": outcome}
    else:
        ev.update(action="ssh_login", category=category, type=["info"], outcome=outcome)
    base["system"] = {"auth": {"ssh": ssh}}
    src = endpoint(address, port)
    related: dict = {}
    if user:
        base["user"] = {"name": user}
        related["user"] = [user]
    if src is not None:
        base["source"] = src
        if "ip" in src:
            related["ip"] = [src["ip"]]
    if related:
        base["related"] = related
    return base


def parse_sshd(msg: str, base: Event) -> Event:
    first = msg[:4]
    if first in ("Acce", "Fail", "Post"):
        m = _SSH_LOGIN.match(msg)
        if m is not None:
            word, method, invalid, user, address, port, signature = m.groups()
            ssh: dict = {"event": word, "method": method}
            if signature:
                signature = signature.removesuffix(" [preauth]").rstrip()
                if signature:
                    ssh["signature"] = signature
            if invalid:
                ssh["invalid_user"] = True
            outcome = "success" if word == "Accepted" else "failure" if word == "Failed" else "unknown"
            return _ssh_login(base, ssh, outcome, user, address, port)
    elif first in ("Inva", "inva"):
        m = _SSH_INVALID.match(msg)
        if m is not None:
            user, address, port = m.groups()
            return _ssh_login(base, {"event": "Invalid"}, "failure", user, address, port)
    elif first in ("Conn", "Disc", "Rece"):
        m = _SSH_CLOSED.match(msg)
        if m is not None:
            what, state, user1, user2, address, port, reason, preauth = m.groups()
            user = user1 if user1 is not None else user2
            _source(base, address, port)
            _user(base, user)
            ssh = _ssh_fields(base)
            ssh["event"] = what
            if reason:
                ssh["reason"] = reason
            if preauth or state:
                # Closed before authentication completed: a failed or abandoned login, but
                # not an attempt of its own when "Failed password..." lines were logged for
                # it; a distinct action keeps `ssh_login` counts (brute force) exact.
                _auth_event(base, "ssh_preauth_close", "failure")
            else:
                _auth_event(base, "ssh_disconnect", None, ["session", "network"], ["end"])
            return base
    elif first == "Did ":
        m = _SSH_DROPPED.match(msg)
        if m is not None:
            address, port = m.groups()
            _ssh_fields(base)["dropped_ip"] = address
            _source(base, address, port)
            return base
    elif first in ("Unab", "fata"):
        m = _SSH_NEGOTIATE.match(msg)
        if m is not None:
            address, port, reason = m.groups()
            _source(base, address, port)
            _ssh_fields(base)["event"] = reason
            _auth_event(base, "ssh_key_exchange_failed", "failure", ["network"], ["connection", "denied"])
            return base
    if first in ("erro", "maxi"):
        m = _SSH_MAX_AUTH.match(msg)
        if m is not None:
            _invalid, user, address, port = m.groups()
            _ssh_fields(base)["event"] = "maximum authentication attempts exceeded"
            _auth_event(base, "ssh_login", "failure")
            _user(base, user)
            _source(base, address, port)
            return base
    if msg.startswith(("pam_", "PAM ")):
        return parse_pam(msg, base) or base
    if msg.startswith("refused connect"):
        m = _SSH_REFUSED.match(msg)
        if m is not None:
            _source(base, m.group(2))
            base["source"]["domain"] = m.group(1)
            _auth_event(base, "ssh_connection_refused", "failure", ["network"], ["connection", "denied"])
            return base
    if msg.startswith("input_userauth_request"):
        m = _SSH_USERAUTH_REQ.match(msg)
        if m is not None:
            _user(base, m.group(1))
            _auth_event(base, "ssh_login", "failure")
            return base
    m = _SSH_USER_FROM.match(msg)
    if m is not None:
        what, user, address, port = m.groups()
        if len(what) < 200:
            _ssh_fields(base)["event"] = what
            _user(base, user)
            _source(base, address, port)
            if what.startswith("error: PAM:"):
                _auth_event(base, "ssh_login", "failure")
            return base
    m = _SSH_ANY_IP.search(msg)
    if m is not None:
        _source(base, m.group(1), m.group(2))
    return base


# -- PAM ----------------------------------------------------------------------------------

_PAM_PREFIX = re.compile(r"(pam_\w+)\(([^:)]*):(\w+)\): ")
_PAM_FAILURE = re.compile(
    r"(?:PAM )?(?:(\d+) more )?authentication failures?; logname=(\S*) uid=(\d*) euid=(\d*) tty=(\S*) "
    r"ruser=(\S*) rhost=(\S*)(?:\s+user=(\S*))?"
)
_PAM_FAILLOCK = re.compile(r"Consecutive login failures for user (\S+) account temporarily locked")
_CHKPWD_FAILED = re.compile(r"password check failed for user \(?([^)\s]+)\)?")
_PAM_OPENED = re.compile(r"session opened for user (\S+?)(?:\(uid=(\d+)\))?(?: by (\S*?)\(uid=(\d+)\))?\s*$")
_PAM_CLOSED = re.compile(r"session closed for user (\S+)")
_PAM_PASSWORD = re.compile(r"password changed for (\S+)")
_PAM_UNKNOWN = re.compile(r"check pass; user unknown")


def parse_pam(msg: str, base: Event) -> Event | None:
    """PAM module messages, with or without the `pam_unix(service:type): ` prefix."""
    m = _PAM_PREFIX.match(msg)
    rest = msg
    if m is not None:
        rest = msg[m.end():]
        pam = base.setdefault("system", {}).setdefault("auth", {}).setdefault("pam", {})
        pam["module"], pam["service"], pam["type"] = m.groups()
    if rest.startswith("session opened"):
        o = _PAM_OPENED.match(rest)
        if o is not None:
            target, _tuid, by, by_uid = o.groups()
            ev = base.setdefault("event", {})
            ev["action"] = "logged-on"
            ev["category"] = ["session"]
            ev["type"] = ["start"]
            ev["outcome"] = "success"
            user = base.setdefault("user", {})
            if by:
                user["name"] = by
                add_related(base, "user", by)
            if by_uid is not None:
                user["id"] = by_uid
            user["effective"] = {"name": target}
            add_related(base, "user", target)
            return base
    elif rest.startswith("session closed"):
        c = _PAM_CLOSED.match(rest)
        if c is not None:
            ev = base.setdefault("event", {})
            ev["action"] = "logged-off"
            ev["category"] = ["session"]
            ev["type"] = ["end"]
            ev["outcome"] = "success"
            _user(base, c.group(1))
            return base
    elif "authentication failure" in rest[:40]:
        f = _PAM_FAILURE.match(rest)
        if f is not None:
            more, logname, uid, _euid, tty, ruser, rhost, user = f.groups()
            if more is None:
                _auth_event(base, "authentication_failure", "failure")
            else:
                # "PAM 2 more authentication failures": libpam's summary when a client gives
                # up after several attempts, each already logged (sshd "Failed password",
                # pam_unix "authentication failure"). A distinct action keeps it out of the
                # per-attempt counts; the number is kept.
                _auth_event(base, "authentication_failure_summary", "failure")
                pam = base.setdefault("system", {}).setdefault("auth", {}).setdefault("pam", {})
                pam["more_failures"] = int(more)
            name = user or ruser or logname
            _user(base, name)
            # uid= is the calling process's real uid (0 for sshd): it is the user's id only
            # when that user is also the caller (sudo: logname=jdoe uid=1004 ... user=jdoe)
            if uid and name and name in (logname, ruser):
                base["user"]["id"] = uid
            if rhost:
                _source(base, rhost)
            if tty:
                base.setdefault("process", {})["tty"] = {"name": tty}
            return base
    elif rest.startswith("password changed"):
        p = _PAM_PASSWORD.match(rest)
        if p is not None:
            _auth_event(base, "password-changed", "success", ["iam"], ["user", "change"])
            _user(base, p.group(1))
            return base
    elif _PAM_UNKNOWN.match(rest):
        _auth_event(base, "authentication_failure", "failure")
        return base
    elif rest.startswith("Consecutive login failures"):
        lock = _PAM_FAILLOCK.match(rest)
        if lock is not None:  # pam_faillock: too many failures, the account is now locked
            _auth_event(base, "account-locked", "failure")
            _user(base, lock.group(1))
            return base
    elif rest.startswith("password check failed"):
        chk = _CHKPWD_FAILED.match(rest)
        if chk is not None:  # unix_chkpwd, pam_unix's helper for callers that are not root
            _auth_event(base, "authentication_failure", "failure")
            _user(base, chk.group(1))
            return base
    return base if m is not None else None


# -- sudo, su, pkexec, doas -----------------------------------------------------------------

_SUDO = re.compile(
    r"\s*(\S+) : (?:(.*?) ; )?TTY=(\S+) ; PWD=(.*?) ; USER=(\S+) ;(?: GROUP=(\S+) ;)?(?: TSID=\S+ ;)?"
    r"(?: ENV=.*? ;)? COMMAND=(.*)$"
)


def parse_sudo(msg: str, base: Event) -> Event:
    m = _SUDO.match(msg)
    if m is None:
        return parse_pam(msg, base) or base
    user, error, tty, pwd, target, group, command = m.groups()
    sudo: dict = {"tty": tty, "pwd": pwd, "user": target, "command": command}
    if error:
        sudo["error"] = error
    if group:
        sudo["group"] = group
    base.setdefault("system", {}).setdefault("auth", {})["sudo"] = sudo
    ev = base.setdefault("event", {})
    ev["action"] = "sudo"
    ev["category"] = ["process"]
    ev["type"] = ["start"] if not error else ["denied"]
    ev["outcome"] = "failure" if error else "success"
    base["user"] = {"name": user, "effective": {"name": target}}
    add_related(base, "user", user)
    add_related(base, "user", target)
    return base


_SU_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Successful su for (?P<target>\S+) by (?P<user>\S+)"), "success"),
    (re.compile(r"FAILED su for (?P<target>\S+) by (?P<user>\S+)"), "failure"),
    (re.compile(r"\(to (?P<target>\S+)\) (?P<user>\S+) on (?P<tty>\S+)"), "success"),
    (re.compile(r"FAILED SU \(to (?P<target>\S+)\) (?P<user>\S+) on (?P<tty>\S+)"), "failure"),
    (re.compile(r"BAD SU (?P<user>\S+) to (?P<target>\S+)(?: on (?P<tty>\S+))?"), "failure"),
    (re.compile(r"failed: (?P<tty>\S+) changing from (?P<user>\S+) to (?P<target>\S+)"), "failure"),
    (re.compile(r"(?P<user>\S+) to (?P<target>\S+) on (?P<tty>\S+)$"), "success"),
    (re.compile(r"(?P<sign>[+-]) (?P<tty>\S+) (?P<user>[^:\s]+):(?P<target>\S+)"), "sign"),
)


def parse_su(msg: str, base: Event) -> Event:
    for pattern, outcome in _SU_PATTERNS:
        m = pattern.match(msg)
        if m is None:
            continue
        groups = m.groupdict()
        if outcome == "sign":
            outcome = "success" if groups.get("sign") == "+" else "failure"
        _auth_event(base, "su", outcome, ["authentication"], ["start" if outcome == "success" else "denied"])
        base["user"] = {"name": groups["user"], "effective": {"name": groups["target"]}}
        add_related(base, "user", groups["user"])
        add_related(base, "user", groups["target"])
        if groups.get("tty"):
            base.setdefault("process", {})["tty"] = {"name": groups["tty"]}
        return base
    return parse_pam(msg, base) or base


_PKEXEC = re.compile(r"(\S+): (.*?)(?: \[USER=([^\]]*)\])(?: \[TTY=([^\]]*)\])?(?: \[CWD=([^\]]*)\])?(?: \[COMMAND=(.*)\])?\s*$")


def parse_pkexec(msg: str, base: Event) -> Event:
    m = _PKEXEC.match(msg)
    if m is None:
        return parse_pam(msg, base) or base
    user, what, target, tty, cwd, command = m.groups()
    failed = not what.startswith("Executing command")
    _auth_event(base, "pkexec", "failure" if failed else "success", ["process"], ["start"] if not failed else ["denied"])
    base["user"] = {"name": user, "effective": {"name": target}}
    add_related(base, "user", user)
    add_related(base, "user", target)
    pk: dict = {"event": what}
    if tty:
        pk["tty"] = tty
    if cwd:
        pk["cwd"] = cwd
        base.setdefault("process", {})["working_directory"] = cwd
    if command:
        pk["command"] = command
    base.setdefault("system", {}).setdefault("auth", {})["pkexec"] = pk
    return base


_DOAS = (
    (re.compile(r"(?P<user>\S+) ran command (?P<command>.*?) as (?P<target>\S+) from (?P<cwd>.*)$"), "success"),
    (re.compile(r"(?P<user>\S+) ran command as (?P<target>\S+): (?P<command>.*)$"), "success"),
    (re.compile(r"failed command for (?P<user>\S+): (?P<command>.*)$"), "failure"),
    (re.compile(r"failed auth for (?P<user>\S+)"), "failure"),
)


def parse_doas(msg: str, base: Event) -> Event:
    for pattern, outcome in _DOAS:
        m = pattern.match(msg)
        if m is not None:
            g = m.groupdict()
            _auth_event(base, "doas", outcome, ["process"], ["start"] if outcome == "success" else ["denied"])
            base["user"] = {"name": g["user"]}
            if g.get("target"):
                base["user"]["effective"] = {"name": g["target"]}
            if g.get("command"):
                base.setdefault("system", {}).setdefault("auth", {})["doas"] = {"command": g["command"]}
            add_related(base, "user", g["user"])
            return base
    return base


# -- account management -----------------------------------------------------------------------
#
# The shadow suite (useradd, usermod, userdel, groupadd, groupmod, groupdel, gpasswd, passwd,
# chage, chfn, chsh) logs one line per account database it touches: `groupadd admins` writes
# "group added to /etc/group: name=admins, GID=1010", the same for /etc/gshadow, then
# "new group: name=admins, GID=1010". Names are quoted 'name' (shadow 4.2+) or `name' (older).
#
# Actions: user-created, user-deleted, user-changed, password-changed, group-created,
# group-deleted, group-changed, added-user-to-group, removed-user-from-group (the account
# rules match these). `user.name` is the account the line is about (as Elastic does for
# usermod), also in `user.target.name`; the administrator gpasswd/passwd name ("by root")
# is `process.user.name`, the user the tool ran as.

_NEW_USER = re.compile(
    r"new user: name=([^,\s]+), UID=(\d+), GID=(\d+), home=([^,]*), shell=([^,\s]*)(?:, from=(\S+))?"
)
_USER_CREATION, _USER_DELETION, _USER_CHANGE = ("user", "creation"), ("user", "deletion"), ("user", "change")
_GROUP_CREATION, _GROUP_DELETION, _GROUP_CHANGE = ("group", "creation"), ("group", "deletion"), ("group", "change")


_AccountLine = tuple[re.Pattern[str], str, tuple[str, str], str]


def _a(pattern: str, action: str, types: tuple[str, str], outcome: str = "success") -> _AccountLine:
    return re.compile(pattern), action, types, outcome


# Tried in order, first match wins; named groups: user, group, gid, uid, by, new.
_ACCOUNT_LINES: tuple[_AccountLine, ...] = (
    # useradd / groupadd
    _a(r"new group: name=(?P<group>[^,\s]+), GID=(?P<gid>\d+)", "group-created", _GROUP_CREATION),
    _a(r"group added to (?P<db>\S+): name=(?P<group>[^,\s]+)(?:, GID=(?P<gid>\d+))?", "group-created",
       _GROUP_CREATION),
    _a(r"add [`'](?P<user>[^'`\s]+)' to (?:shadow )?group [`'](?P<group>[^'`\s]+)'", "added-user-to-group",
       _GROUP_CHANGE),
    _a(r"failed adding user [`'](?P<user>[^'`\s]+)'", "user-created", _USER_CREATION, "failure"),
    # userdel / usermod
    _a(r"delete [`'](?P<user>[^'`\s]+)' from (?:shadow )?group [`'](?P<group>[^'`\s]+)'", "removed-user-from-group",
       _GROUP_CHANGE),
    _a(r"removed (?:shadow )?group [`'](?P<group>[^'`\s]+)'(?: owned by [`'](?P<user>[^'`\s]+)')?", "group-deleted",
       _GROUP_DELETION),
    _a(r"delete user [`'](?P<user>[^'`\s]+)'", "user-deleted", _USER_DELETION),
    _a(r"change user name [`'](?P<user>[^'`\s]+)' to [`'](?P<new>[^'`\s]+)'", "user-changed", _USER_CHANGE),
    _a(r"change user [`'](?P<user>[^'`\s]+)' password", "password-changed", _USER_CHANGE),
    _a(r"(?:lock|unlock) user [`'](?P<user>[^'`\s]+)' password", "user-changed", _USER_CHANGE),
    _a(r"change user [`'](?P<user>[^'`\s]+)' UID from [`']\d+' to [`'](?P<uid>\d+)'", "user-changed", _USER_CHANGE),
    _a(r"change user [`'](?P<user>[^'`\s]+)' ", "user-changed", _USER_CHANGE),
    _a(r"change (?:admin )?[`'](?P<user>[^'`\s]+)' to [`'](?P<new>[^'`\s]+)' in (?:shadow )?group "
       r"[`'](?P<group>[^'`\s]+)'", "group-changed", _GROUP_CHANGE),
    # groupdel / groupmod
    _a(r"group [`'](?P<group>[^'`\s]+)' removed", "group-deleted", _GROUP_DELETION),
    _a(r"remove group [`'](?P<group>[^'`\s]+)'", "group-deleted", _GROUP_DELETION),
    _a(r"group changed in \S+ \(group (?P<group>[^/,\s]+)(?:/(?P<gid>\d+))?", "group-changed", _GROUP_CHANGE),
    _a(r"change group [`'](?P<group>[^'`\s]+)' to [`'](?P<new>[^'`\s]+)'", "group-changed", _GROUP_CHANGE),
    _a(r"change GID for [`'](?P<group>[^'`\s]+)' to (?P<gid>\d+)", "group-changed", _GROUP_CHANGE),
    # gpasswd (current and older wording)
    _a(r"user (?P<user>\S+) added by (?P<by>\S+) to group (?P<group>[^\s,]+)", "added-user-to-group", _GROUP_CHANGE),
    _a(r"user (?P<user>\S+) removed by (?P<by>\S+) from group (?P<group>[^\s,]+)", "removed-user-from-group",
       _GROUP_CHANGE),
    _a(r"(?P<by>\S+) failed to add user (?P<user>\S+) to group (?P<group>[^\s,]+)", "added-user-to-group",
       _GROUP_CHANGE, "failure"),
    _a(r"(?P<by>\S+) failed to remove user (?P<user>\S+) from group (?P<group>[^\s,]+)", "removed-user-from-group",
       _GROUP_CHANGE, "failure"),
    _a(r"add member (?P<user>\S+) to group (?P<group>\S+) by (?P<by>\S+)", "added-user-to-group", _GROUP_CHANGE),
    _a(r"remove member (?P<user>\S+) from group (?P<group>\S+) by (?P<by>\S+)", "removed-user-from-group",
       _GROUP_CHANGE),
    _a(r"(?:members|administrators) of group (?P<group>\S+) set by (?P<by>\S+) to ", "group-changed", _GROUP_CHANGE),
    _a(r"(?:password of|access to) group (?P<group>\S+) (?:changed|removed|restricted) by (?P<by>\S+?)(?: in |$)",
       "group-changed", _GROUP_CHANGE),
    _a(r"(?P<by>\S+) failed to (?:change|remove|restrict|set)\b.*? group (?P<group>[^\s,]+)", "group-changed",
       _GROUP_CHANGE, "failure"),
    _a(r"(?:change the password for|remove password from|restrict access to) group (?P<group>\S+) by (?P<by>\S+)",
       "group-changed", _GROUP_CHANGE),
    _a(r"set (?:members|administrators) of (?P<group>\S+) to ", "group-changed", _GROUP_CHANGE),
    # passwd / chage / chfn / chsh
    _a(r"password for [`'](?P<user>[^'`\s]+)' changed by [`'](?P<by>[^'`\s]+)'", "password-changed", _USER_CHANGE),
    _a(r"incorrect password for (?P<user>\S+)", "password-changed", _USER_CHANGE, "failure"),
    _a(r"password locked for [`'](?P<user>[^'`\s]+)'", "password-changed", _USER_CHANGE, "failure"),
    _a(r"changed password expiry for (?P<user>\S+)", "user-changed", _USER_CHANGE),
    _a(r"changed user [`'](?P<user>[^'`\s]+)' (?:information|shell)", "user-changed", _USER_CHANGE),
    # the shared clean-up after a failed change
    _a(r"failed to add user (?P<user>\S+)", "user-created", _USER_CREATION, "failure"),
    _a(r"failed to add group (?P<group>\S+)", "group-created", _GROUP_CREATION, "failure"),
    _a(r"failed to remove group (?P<group>\S+)", "group-deleted", _GROUP_DELETION, "failure"),
)


def _iam(base: Event, types: list[str], outcome: str = "success", action: str | None = None) -> dict:
    ev = base.setdefault("event", {})
    ev["category"] = ["iam"]
    ev["type"] = types
    ev["outcome"] = outcome
    if action:
        ev["action"] = action
    return ev


def parse_account(msg: str, base: Event) -> Event:
    if msg.startswith("pam_"):
        return parse_pam(msg, base) or base
    if msg.startswith("new user"):
        m = _NEW_USER.match(msg)
        if m is not None:
            name, uid, gid, home, shell, tty = m.groups()
            _iam(base, ["user", "creation"], action="user-created")
            base["user"] = {"name": name, "id": uid}
            base["group"] = {"id": gid}
            add_related(base, "user", name)
            base.setdefault("system", {}).setdefault("auth", {})["useradd"] = {"home": home, "shell": shell}
            if tty:
                base["system"]["auth"]["useradd"]["from"] = tty
            return base
    if len(msg) > 2048:  # every shadow line is short; a flood is not worth the regex walk
        return base
    for pattern, action, types, outcome in _ACCOUNT_LINES:
        m = pattern.match(msg)
        if m is None:
            continue
        found = m.groupdict()
        _iam(base, list(types), outcome, action)
        user = found.get("user")
        if user:
            _user(base, user)
            base["user"]["target"] = {"name": user}
            if found.get("uid"):
                base["user"].setdefault("changes", {})["id"] = found["uid"]
            if found.get("new") and action == "user-changed":
                base["user"].setdefault("changes", {})["name"] = found["new"]
        if found.get("group"):
            group: dict = {"name": found["group"]}
            if found.get("gid"):
                group["id"] = found["gid"]
            base["group"] = group
        if found.get("by"):
            base.setdefault("process", {})["user"] = {"name": found["by"]}
            add_related(base, "user", found["by"])
        return base
    return parse_pam(msg, base) or base


# -- cron, logind, login ---------------------------------------------------------------------

_CRON_CMD = re.compile(r"\((\S+)\) CMD \((.*)\)\s*$", re.DOTALL)
_LOGIND_NEW = re.compile(r"New session (\S+) of user (\S+?)\.?$")
_LOGIND_REMOVED = re.compile(r"Removed session (\S+?)\.?$")
_LOGIN_FAILED = re.compile(r"FAILED LOGIN (?:\(\d+\) |\d+ )?(?:on '?(\S+?)'? )?FROM '?(\S*?)'? FOR '?(\S+?)'?, (.*)$")
_LOGIN_ROOT = re.compile(r"ROOT LOGIN\s+on '?(\S+?)'?(?: from '?(\S+?)'?)?$")


def parse_cron(msg: str, base: Event) -> Event:
    m = _CRON_CMD.match(msg)
    if m is not None:
        ev = base.setdefault("event", {})
        ev["action"] = "cron-execution"
        ev["category"] = ["process"]
        ev["type"] = ["start"]
        _user(base, m.group(1))
        base.setdefault("process", {})["command_line"] = m.group(2).strip()
        return base
    return parse_pam(msg, base) or base


# crontab(1) logs "(<real user>) <WHAT> (<crontab owner>)": `crontab -e` run by root for jdoe
# is "(root) BEGIN EDIT (jdoe)". WHAT -> (event.action, event.type, outcome); the
# configuration changes are REPLACE (new content installed) and DELETE (crontab -r).
_CRONTAB = re.compile(r"\((\S+)\) ([A-Z][A-Z ]*?) \((.*)\)\s*$", re.DOTALL)
_CRONTAB_WHAT: dict[str, tuple[str, str, str]] = {
    "REPLACE": ("crontab_replace", "change", "success"),
    "DELETE": ("crontab_delete", "deletion", "success"),
    "BEGIN EDIT": ("crontab_begin_edit", "access", "success"),
    "END EDIT": ("crontab_end_edit", "access", "success"),
    "LIST": ("crontab_list", "access", "success"),
    "AUTH": ("crontab_denied", "info", "failure"),  # "(bob) AUTH (crontab command not allowed)"
    "PERMISSION DENIED": ("crontab_denied", "info", "failure"),
    "ERROR": ("crontab_error", "info", "failure"),
}


def parse_crontab(msg: str, base: Event) -> Event:
    m = _CRONTAB.match(msg)
    if m is None or len(m.group(2)) > 40:
        return parse_pam(msg, base) or base
    real_user, what, detail = m.groups()
    action, kind, outcome = _CRONTAB_WHAT.get(what) or ("crontab_" + what.lower().replace(" ", "_"), "info", "unknown")
    ev = base.setdefault("event", {})
    ev.update(action=action, category=["configuration"], type=[kind], outcome=outcome)
    _user(base, real_user)  # who ran crontab: the actor
    if outcome == "success" and detail and " " not in detail:
        base["user"]["target"] = {"name": detail}  # whose crontab
        add_related(base, "user", detail)
    return base


def parse_logind(msg: str, base: Event) -> Event:
    m = _LOGIND_NEW.match(msg)
    if m is not None:
        ev = base.setdefault("event", {})
        ev.update(action="session-created", category=["session"], type=["start"], outcome="success")
        _user(base, m.group(2))
        base["session"] = {"id": m.group(1)}
        return base
    m = _LOGIND_REMOVED.match(msg)
    if m is not None:
        ev = base.setdefault("event", {})
        ev.update(action="session-removed", category=["session"], type=["end"], outcome="success")
        base["session"] = {"id": m.group(1)}
    return base


def parse_login(msg: str, base: Event) -> Event:
    m = _LOGIN_FAILED.match(msg)
    if m is not None:
        tty, source, user, reason = m.groups()
        _auth_event(base, "login", "failure")
        _user(base, user)
        if source:
            _source(base, source)
        if tty:
            base.setdefault("process", {})["tty"] = {"name": tty}
        base.setdefault("event", {})["reason"] = reason
        return base
    m = _LOGIN_ROOT.match(msg)
    if m is not None:
        _auth_event(base, "login", "success", _LOGIN_SUCCESS)
        _user(base, "root")
        base.setdefault("process", {})["tty"] = {"name": m.group(1)}
        if m.group(2):
            _source(base, m.group(2))
        return base
    return parse_pam(msg, base) or base


def _pam_only(msg: str, base: Event) -> Event | None:
    """Programs whose only auth lines are PAM's: anything else stays generic syslog."""
    return parse_pam(msg, base)


_HANDLERS: dict[str, Callable[[str, Event], Event | None]] = {
    "sshd": parse_sshd, "sshd-session": parse_sshd, "sshd-auth": parse_sshd, "dropbear": parse_sshd,
    "sudo": parse_sudo, "su": parse_su, "pkexec": parse_pkexec, "doas": parse_doas,
    "useradd": parse_account, "usermod": parse_account, "userdel": parse_account,
    "groupadd": parse_account, "groupmod": parse_account, "groupdel": parse_account,
    "gpasswd": parse_account, "passwd": parse_account, "chpasswd": parse_account,
    "chage": parse_account, "adduser": parse_account, "deluser": parse_account, "chfn": parse_account,
    "chsh": parse_account, "chgpasswd": parse_account, "groupmems": parse_account, "newusers": parse_account,
    "cron": parse_cron, "crond": parse_cron, "anacron": parse_cron, "crontab": parse_crontab,
    "systemd-logind": parse_logind, "login": parse_login, "pam": _pam_only, "polkitd": _pam_only,
    "systemd": _pam_only, "vsftpd": _pam_only, "dovecot": _pam_only, "gdm-password": _pam_only,
    "unix_chkpwd": _pam_only, "runuser": _pam_only,
}


def parse_auth(msg: str, record: RawRecord, base: Event) -> Event | None:
    """Extend the envelope's `base` event from an auth-related program's MSG."""
    if not base:
        return None
    name = base.get("process", {}).get("name", "")
    program = name.lower()
    if "(pam" in program:  # old PAM style "sshd(pam_unix)[15794]: 2 more authentication failures; ..."
        return parse_pam(msg, base) or base
    handler = _HANDLERS.get(program)
    if handler is None:
        # "su(pam_unix)", "sshd(pam_unix)", "postfix/smtpd": dispatch on the base name
        handler = _HANDLERS.get(program.split("(", 1)[0].split("/", 1)[0], _pam_only)
    return handler(msg, base)


def sniff_pam(message: str) -> bool:
    return message.startswith("pam_") and "(" in message[:24]


PARSERS = [
    Parser(
        "linux_auth", "linux", "syslog", parse_auth,
        sniff=sniff_pam,
        programs=tuple(_HANDLERS) + ("su(pam_unix)", "sshd(pam_unix)", "vsftpd(pam_unix)", "login(pam_unix)"),
        priority=10,
    ),
]
