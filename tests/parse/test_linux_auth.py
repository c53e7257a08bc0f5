"""Linux auth parser: sshd, sudo, su, PAM, account management, cron, logind."""

from __future__ import annotations

import time

import pytest

from guetteur import ecs
from guetteur.model import RawRecord
from guetteur.parse import parse_record


def _p(line: str) -> dict:
    return parse_record(RawRecord(line, time.time(), "file"))


@pytest.mark.parametrize(("msg", "expected"), [
    ("Failed password for invalid user admin from 1.2.3.4 port 22 ssh2",
     {"user.name": "admin", "source.ip": "1.2.3.4", "event.outcome": "failure", "system.auth.ssh.method": "password"}),
    ("Accepted password for bob from 2001:db8::1 port 2222 ssh2",
     {"user.name": "bob", "source.ip": "2001:db8::1", "source.port": 2222, "event.outcome": "success"}),
    ("Connection closed by authenticating user root 5.6.7.8 port 4242 [preauth]",
     {"user.name": "root", "source.ip": "5.6.7.8", "event.outcome": "failure",
      "event.action": "ssh_preauth_close"}),
    ("Disconnected from user bob 5.6.7.8 port 4242", {"event.action": "ssh_disconnect", "user.name": "bob"}),
    ("error: maximum authentication attempts exceeded for invalid user x from 9.9.9.9 port 1 ssh2 [preauth]",
     {"user.name": "x", "event.outcome": "failure"}),
    ("Did not receive identification string from 7.7.7.7 port 5", {"system.auth.ssh.dropped_ip": "7.7.7.7"}),
    ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=8.8.8.8  user=root",
     {"user.name": "root", "source.ip": "8.8.8.8", "event.outcome": "failure", "system.auth.pam.service": "sshd"}),
    ("refused connect from example.com (192.168.1.1)", {"source.ip": "192.168.1.1", "source.domain": "example.com"}),
])
def test_sshd(msg: str, expected: dict) -> None:
    event = _p(f"Jan  2 03:04:05 host sshd[77]: {msg}")
    for path, value in expected.items():
        assert ecs.get(event, path) == value, path
    assert event["event"]["dataset"] == "linux_auth"


@pytest.mark.parametrize(("program", "msg", "expected"), [
    ("sudo", "pam_unix(sudo:session): session opened for user root(uid=0) by bob(uid=1000)",
     {"event.action": "logged-on", "user.name": "bob", "user.effective.name": "root", "user.id": "1000"}),
    ("su", "pam_unix(su:session): session closed for user news", {"event.action": "logged-off", "user.name": "news"}),
    ("su", "FAILED SU (to root) bob on pts/0", {"event.outcome": "failure", "user.effective.name": "root"}),
    ("su", "Successful su for root by bob", {"event.outcome": "success", "user.name": "bob"}),
    ("groupadd", "new group: name=apache, GID=48", {"group.name": "apache", "event.type": ["group", "creation"]}),
    ("userdel", "delete user 'eve'", {"user.name": "eve", "event.type": ["user", "deletion"]}),
    ("usermod", "add 'eve' to group 'sudo'", {"group.name": "sudo", "event.action": "added-user-to-group"}),
    ("passwd", "pam_unix(passwd:chauthtok): password changed for eve", {"event.action": "password-changed"}),
    ("CRON", "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
     {"user.name": "root", "process.command_line": "cd / && run-parts --report /etc/cron.hourly"}),
    ("systemd-logind", "New session 12 of user bob.", {"session.id": "12", "user.name": "bob"}),
    ("pkexec", "bob: Executing command [USER=root] [TTY=unknown] [CWD=/home/bob] [COMMAND=/usr/bin/id]",
     {"event.outcome": "success", "user.effective.name": "root"}),
    ("doas", "failed auth for ddp", {"user.name": "ddp", "event.outcome": "failure"}),
    ("login", "FAILED LOGIN 1 FROM tty1 FOR root, Authentication failure", {"user.name": "root"}),
])
def test_other_programs(program: str, msg: str, expected: dict) -> None:
    event = _p(f"Jan  2 03:04:05 host {program}[9]: {msg}")
    for path, value in expected.items():
        assert ecs.get(event, path) == value, path


def test_unknown_program_line_stays_generic_syslog() -> None:
    event = _p("Jan  2 03:04:05 host systemd[1]: Started Session 3 of user bob.")
    assert event["event"]["dataset"] == "syslog"
    assert event["message"] == "Started Session 3 of user bob."


def test_hostname_source_is_not_an_ip() -> None:
    event = _p("Jan  2 03:04:05 host sshd[1]: error: PAM: Authentication failure for illegal user x from evil.example")
    assert ecs.get(event, "source.domain") == "evil.example"
    assert ecs.get(event, "source.ip") is None


# -- PAM failure lines next to sshd's own (they must not count as extra ssh_login attempts) --

_BURST = """\
<86>Nov 21 08:40:01 web-01 sshd[4242]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.9  user=root
<86>Nov 21 08:40:03 web-01 sshd[4242]: Failed password for root from 198.51.100.9 port 50022 ssh2
<86>Nov 21 08:40:06 web-01 sshd[4242]: Failed password for root from 198.51.100.9 port 50022 ssh2
<86>Nov 21 08:40:09 web-01 sshd[4242]: Failed password for root from 198.51.100.9 port 50022 ssh2
<86>Nov 21 08:40:09 web-01 sshd[4242]: Connection closed by authenticating user root 198.51.100.9 port 50022 [preauth]
<86>Nov 21 08:40:09 web-01 sshd[4242]: PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.9  user=root
"""


def test_pam_lines_of_an_ssh_burst_are_failures_but_not_ssh_logins() -> None:
    """Three `Failed password` are three ssh_login failures; pam_unix's per-attempt line and
    libpam's "N more" summary carry user/source/outcome under their own actions."""
    events = [_p(line) for line in _BURST.splitlines()]
    actions = [ecs.get(e, "event.action") for e in events]
    assert actions == ["authentication_failure", "ssh_login", "ssh_login", "ssh_login", "ssh_preauth_close",
                       "authentication_failure_summary"]
    for event in events:
        assert ecs.get(event, "event.outcome") == "failure"
        assert ecs.get(event, "event.category") == ["authentication"]
        assert ecs.get(event, "user.name") == "root"
        assert ecs.get(event, "source.ip") == "198.51.100.9"
    summary = events[-1]
    assert ecs.get(summary, "system.auth.pam.more_failures") == 2
    assert ecs.get(summary, "message").startswith("PAM 2 more authentication failures;")
    # uid=0 is sshd's own uid, not root's id by coincidence: no user.id for a PAM line whose
    # user is not the caller
    assert ecs.get(events[0], "user.id") is None


@pytest.mark.parametrize(("line", "expected"), [
    ("Feb  2 10:01:02 old sshd(pam_unix)[15794]: 1 more authentication failure; logname= uid=0 euid=0 tty=NODEVssh "
     "ruser= rhost=host.example.com  user=bob",
     {"event.action": "authentication_failure_summary", "system.auth.pam.more_failures": 1, "user.name": "bob",
      "source.domain": "host.example.com", "event.outcome": "failure"}),
    ("Nov 21 08:40:01 db-01 sudo: pam_unix(sudo:auth): authentication failure; logname=jdoe uid=1004 euid=0 "
     "tty=/dev/pts/0 ruser=jdoe rhost=  user=jdoe",
     {"event.action": "authentication_failure", "user.name": "jdoe", "user.id": "1004",
      "system.auth.pam.service": "sudo", "source": None}),
    ("Nov 21 08:40:01 db-01 su: pam_unix(su:auth): authentication failure; logname=bob uid=1000 euid=0 tty=pts/0 "
     "ruser=bob rhost=  user=root",
     {"event.action": "authentication_failure", "user.name": "root", "user.id": None}),
    ("Nov 21 08:40:01 web-01 sshd[9]: pam_sss(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
     "ruser= rhost=2001:db8::7 user=alice",
     {"event.action": "authentication_failure", "user.name": "alice", "source.ip": "2001:db8::7",
      "system.auth.pam.module": "pam_sss"}),
    ("Nov 21 08:40:01 web-01 sshd[9]: pam_faillock(sshd:auth): Consecutive login failures for user bob account "
     "temporarily locked",
     {"event.action": "account-locked", "event.outcome": "failure", "user.name": "bob"}),
    ("Nov 21 08:40:01 web-01 unix_chkpwd[77]: password check failed for user (bob)",
     {"event.action": "authentication_failure", "event.outcome": "failure", "user.name": "bob",
      "event.dataset": "linux_auth"}),
    ("Nov 21 08:40:01 web-01 sshd[9]: PAM service(sshd) ignoring max retries; 6 > 3",
     {"event.action": None, "event.dataset": "linux_auth", "process.name": "sshd"}),
])
def test_pam_failure_variants(line: str, expected: dict) -> None:
    event = _p(line)
    for path, value in expected.items():
        assert ecs.get(event, path) == value, path


@pytest.mark.parametrize("msg", [
    "PAM 2 more authentication failures; logname=",
    "PAM 99999999999999999999 more authentication failures; logname= uid= euid= tty= ruser= rhost=",
    "PAM " + "9" * 5000 + " more authentication failures;",
    "pam_unix(sshd:auth): authentication failure; logname=" + "x" * 20000,
    "pam_unix(: ): \x01 more authentication failures; rhost=\udcff",
    "Consecutive login failures for user",
])
def test_hostile_pam_lines_never_raise(msg: str) -> None:
    event = _p(f"Nov 21 08:40:01 web-01 sshd[1]: {msg}")
    assert event["event"]["dataset"] == "linux_auth"
    assert event["message"].endswith(msg[-8:])
    assert ecs.get(event, "event.action") in (None, "authentication_failure", "authentication_failure_summary")


# -- crontab(1) --------------------------------------------------------------------------------

@pytest.mark.parametrize(("msg", "expected"), [
    ("(jdoe) REPLACE (jdoe)",
     {"event.action": "crontab_replace", "event.category": ["configuration"], "event.type": ["change"],
      "event.outcome": "success", "user.name": "jdoe", "user.target.name": "jdoe"}),
    ("(root) BEGIN EDIT (root)", {"event.action": "crontab_begin_edit", "event.type": ["access"], "user.name": "root"}),
    ("(root) END EDIT (root)", {"event.action": "crontab_end_edit", "user.name": "root"}),
    ("(root) LIST (root)", {"event.action": "crontab_list", "event.type": ["access"], "user.name": "root"}),
    ("(root) DELETE (www-data)",
     {"event.action": "crontab_delete", "event.type": ["deletion"], "user.name": "root",
      "user.target.name": "www-data", "related.user": ["root", "www-data"]}),
    ("(bob) AUTH (crontab command not allowed)",
     {"event.action": "crontab_denied", "event.outcome": "failure", "user.name": "bob", "user.target": None}),
    ("(root) RELOAD (crontabs/root)", {"event.action": "crontab_reload", "event.outcome": "unknown"}),
])
def test_crontab(msg: str, expected: dict) -> None:
    event = _p(f"<78>Nov 21 08:40:30 web-01 crontab[2211]: {msg}")
    for path, value in expected.items():
        assert ecs.get(event, path) == value, path
    assert event["event"]["dataset"] == "linux_auth"
    assert event["process"] == {"name": "crontab", "pid": 2211}
    assert event["message"] == msg  # the cron rule matches ' REPLACE ' in it


@pytest.mark.parametrize("msg", [
    "REPLACE", "(jdoe) REPLACE", "(jdoe) replace (jdoe)", "(" * 5000, "(a) " + "A " * 5000 + "(b)",
    "(jdoe) REPLACE (jdoe" + ")" * 3000, "(\x00) LIST (\x01)", "",
])
def test_crontab_garbage_stays_a_plain_event(msg: str) -> None:
    event = _p(f"<78>Nov 21 08:40:30 web-01 crontab[2211]: {msg}")
    assert event["process"]["name"] == "crontab"
    action = ecs.get(event, "event.action")
    assert action is None or action.startswith("crontab_")


# -- account management (shadow suite) -------------------------------------------------------------

_U, _G = ["user", "change"], ["group", "change"]


@pytest.mark.parametrize(("program", "msg", "expected"), [
    ("groupadd", "group added to /etc/group: name=admins, GID=1010",
     {"event.action": "group-created", "event.category": ["iam"], "event.type": ["group", "creation"],
      "event.outcome": "success", "group.name": "admins", "group.id": "1010"}),
    ("groupadd", "group added to /etc/gshadow: name=admins", {"event.action": "group-created", "group.name": "admins",
                                                             "group.id": None}),
    ("groupadd", "new group: name=admins, GID=1010", {"event.action": "group-created", "group.id": "1010"}),
    ("useradd", "new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, from=/dev/pts/0",
     {"event.action": "user-created", "event.type": ["user", "creation"], "user.name": "bob", "user.id": "1001",
      "group.id": "1001", "system.auth.useradd.from": "/dev/pts/0"}),
    ("useradd", "failed adding user 'bob', exit code: 9",
     {"event.action": "user-created", "event.outcome": "failure", "user.name": "bob"}),
    ("usermod", "add 'bob' to group 'sudo'",
     {"event.action": "added-user-to-group", "event.type": _G, "user.name": "bob", "user.target.name": "bob",
      "group.name": "sudo"}),
    ("usermod", "add `bob' to shadow group `wheel'", {"event.action": "added-user-to-group", "group.name": "wheel"}),
    ("usermod", "delete 'bob' from group 'docker'",
     {"event.action": "removed-user-from-group", "event.type": _G, "user.name": "bob", "group.name": "docker"}),
    ("usermod", "change user name 'bob' to 'robert'",
     {"event.action": "user-changed", "event.type": _U, "user.name": "bob", "user.changes.name": "robert"}),
    ("usermod", "change user 'bob' UID from '1001' to '0'", {"event.action": "user-changed", "user.changes.id": "0"}),
    ("usermod", "change user 'bob' shell from '/bin/sh' to '/bin/bash'", {"event.action": "user-changed"}),
    ("usermod", "lock user 'bob' password", {"event.action": "user-changed", "user.name": "bob"}),
    ("usermod", "change user 'bob' password", {"event.action": "password-changed", "event.type": _U}),
    ("usermod", "change 'bob' to 'robert' in group 'sudo'", {"event.action": "group-changed", "group.name": "sudo"}),
    ("userdel", "delete user 'bob'", {"event.action": "user-deleted", "event.type": ["user", "deletion"],
                                      "user.name": "bob"}),
    ("userdel", "removed group 'bob' owned by 'bob'",
     {"event.action": "group-deleted", "event.type": ["group", "deletion"], "group.name": "bob"}),
    ("userdel", "delete 'bob' from shadow group 'sudo'", {"event.action": "removed-user-from-group"}),
    ("groupdel", "group 'admins' removed from /etc/group",
     {"event.action": "group-deleted", "event.type": ["group", "deletion"], "group.name": "admins"}),
    ("groupdel", "group 'admins' removed", {"event.action": "group-deleted", "group.name": "admins"}),
    ("groupmod", "group changed in /etc/group (group admins/1010, new name: staff)",
     {"event.action": "group-changed", "event.type": _G, "group.name": "admins", "group.id": "1010"}),
    ("groupmod", "change GID for `admins' to 1011", {"event.action": "group-changed", "group.id": "1011"}),
    ("gpasswd", "user alice added by root to group sudo",
     {"event.action": "added-user-to-group", "user.name": "alice", "user.target.name": "alice",
      "group.name": "sudo", "process.user.name": "root", "related.user": ["alice", "root"]}),
    ("gpasswd", "user alice removed by root from group sudo in /etc/gshadow",
     {"event.action": "removed-user-from-group", "group.name": "sudo", "process.user.name": "root"}),
    ("gpasswd", "root failed to add user alice to group sudo",
     {"event.action": "added-user-to-group", "event.outcome": "failure", "user.name": "alice"}),
    ("gpasswd", "members of group sudo set by root to alice,bob",
     {"event.action": "group-changed", "group.name": "sudo", "process.user.name": "root"}),
    ("gpasswd", "password of group sudo changed by root", {"event.action": "group-changed", "group.name": "sudo"}),
    ("passwd", "password for 'bob' changed by 'root'",
     {"event.action": "password-changed", "user.name": "bob", "process.user.name": "root"}),
    ("chage", "changed password expiry for bob", {"event.action": "user-changed", "user.name": "bob"}),
    ("chsh", "changed user 'bob' shell to '/bin/zsh'", {"event.action": "user-changed", "user.name": "bob"}),
])
def test_account_management(program: str, msg: str, expected: dict) -> None:
    event = _p(f"<86>Nov 21 08:40:01 db-01 {program}[4321]: {msg}")
    for path, value in expected.items():
        assert ecs.get(event, path) == value, path
    assert ecs.get(event, "event.category") == ["iam"]
    assert event["event"]["dataset"] == "linux_auth"
    assert event["message"] == msg


@pytest.mark.parametrize("msg", [
    "", "add '' to group ''", "group added to", "user  added by  to group ", "new group: name=, GID=x",
    "change user '" + "a" * 100_000, "'" * 3000, "delete 'x' from group 'y" + "'" * 5000, "\x00\x01",
    "root failed to " + "change " * 2000 + "group",
])
def test_account_garbage_never_raises(msg: str) -> None:
    event = _p(f"<86>Nov 21 08:40:01 db-01 usermod[4321]: {msg}")
    assert event["process"]["name"] == "usermod"
