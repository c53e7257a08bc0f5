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
