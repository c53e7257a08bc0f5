"""Concrete values on real sample lines (CrowdSec hub tests, Wazuh ruleset tests,
Elastic's system/auth fixture): user, source address, outcome."""

from __future__ import annotations

import time

import conformance
import pytest

from guetteur import ecs
from guetteur.model import RawRecord
from guetteur.parse import parse_record

pytestmark = pytest.mark.skipif(not conformance.DATA.exists(), reason="shared test data absent")


def _parse(line: str, hint: str | None = None) -> dict:
    return parse_record(RawRecord(line, time.time(), "file", hint))


def _find(lines: list[str], needle: str) -> str:
    found = [line for line in lines if needle in line]
    assert found, needle
    return found[0]


@pytest.mark.parametrize(("test", "needle", "user", "ip", "outcome", "action"), [
    ("sshd-logs", "Invalid user pascal from 35.188.49.176", "pascal", "35.188.49.176", "failure", "ssh_login"),
    ("sshd-success-logs", "Accepted publickey for vagrant from 192.168.121.1 port 56296", "vagrant",
     "192.168.121.1", "success", "ssh_login"),
    ("sshd-invalid-bf", "Disconnected from authenticating user root 179.43.183.98", "root", "179.43.183.98",
     "failure", "ssh_preauth_close"),
    ("ssh-slow-bf", "Invalid user hadoop from 103.100.210.198", "hadoop", "103.100.210.198", "failure",
     "ssh_login"),
    ("sshd-bad-keyexchange-bf", "Unable to negotiate with 123.57.135.134", None, "123.57.135.134", "failure",
     "ssh_key_exchange_failed"),
    ("opnsense-sshd", "Invalid user tutu from 1.2.3.4 port 33166", "tutu", "1.2.3.4", "failure", "ssh_login"),
    ("pgsql-logs", 'password authentication failed for user "i_dont_exist"', "i_dont_exist", "1.2.3.4",
     "failure", "database_login"),
    ("pgsql-user-enum", '"zysk"', "zysk", "65.2.129.7", "failure", "database_login"),
    ("mysql-logs", "'seb'@'42.42.42.42'", "seb", "42.42.42.42", "failure", "database_login"),
    ("mysql-bf", "Access denied for user 'root'@'27.155.87.54'", "root", "27.155.87.54", "failure",
     "database_login"),
    ("mariadb-logs", "'root'@'127.0.0.1'", "root", "127.0.0.1", "failure", "database_login"),
    ("CVE-2021-4034", "pkexec", "srcuser", None, "failure", "pkexec"),
])
def test_crowdsec_values(test: str, needle: str, user: str | None, ip: str | None, outcome: str,
                         action: str) -> None:
    event = _parse(_find(conformance.crowdsec_lines(test), needle))
    assert ecs.get(event, "user.name") == user
    assert ecs.get(event, "source.ip") == ip
    assert ecs.get(event, "event.outcome") == outcome
    assert ecs.get(event, "event.action") == action


def test_crowdsec_sshd_port_and_host() -> None:
    event = _parse(_find(conformance.crowdsec_lines("sshd-logs"), "Invalid user pascal"))
    assert ecs.get(event, "source.port") == 53502
    assert ecs.get(event, "host.name") == "sd-126005"
    assert ecs.get(event, "process.pid") == 16378
    assert ecs.get(event, "event.category") == ["authentication"]


def test_crowdsec_web_attack_line() -> None:
    event = _parse(conformance.crowdsec_lines("nginx-http-path-traversal")[0])
    assert ecs.get(event, "source.ip") == "127.0.0.1"
    assert ecs.get(event, "url.original") == "/%2fetc%2fpasswd"
    assert ecs.get(event, "url.path") == "//etc/passwd"
    assert ecs.get(event, "http.response.status_code") == 404
    assert ecs.get(event, "event.outcome") == "failure"
    assert ecs.get(event, "user_agent.original") == "curl/7.68.0"


def test_crowdsec_nginx_via_syslog() -> None:
    event = _parse(conformance.crowdsec_lines("http-bf-wordpress-bf")[0])
    assert ecs.get(event, "source.ip") == "81.150.104.130"
    assert ecs.get(event, "http.request.method") == "POST"
    assert ecs.get(event, "url.path") == "/wp-login.php"
    assert ecs.get(event, "host.name") == "ip-172-31-43-28.us-east-2.compute.internal"


def test_crowdsec_nginx_basic_auth_failure() -> None:
    event = _parse(conformance.crowdsec_lines("nginx-http-generic-bf")[0])
    assert ecs.get(event, "log.level") == "error"
    assert ecs.get(event, "source.ip") == "127.0.0.1"
    assert ecs.get(event, "url.original") == "/"


WAZUH_CASES = [
    ("sudo", "dcid : TTY=pts/4", "dcid", "root", "success"),
    ("sudo", "3 incorrect password attempts", "mike", "root", "failure"),
    ("sudo", "user NOT in sudoers", "ddp2", "root", "failure"),
    ("su", "BAD SU ger to fwmaster", "ger", "fwmaster", "failure"),
    ("su", "dcid to root on /dev/ttyp1", "dcid", "root", "success"),
]


@pytest.mark.parametrize(("ini", "needle", "user", "target", "outcome"), WAZUH_CASES)
def test_wazuh_privilege_changes(ini: str, needle: str, user: str, target: str, outcome: str) -> None:
    event = _parse(_find(conformance.wazuh_lines(ini), needle))
    assert ecs.get(event, "user.name") == user
    assert ecs.get(event, "user.effective.name") == target
    assert ecs.get(event, "event.outcome") == outcome


def test_wazuh_pam_failure_and_session() -> None:
    lines = conformance.wazuh_lines("pam")
    failure = _parse(_find(lines, "sshd(pam_unix)[15794]: 2 more authentication failures"))
    assert ecs.get(failure, "event.outcome") == "failure"
    assert ecs.get(failure, "user.name") == "root"
    assert ecs.get(failure, "source.ip") == "10.0.3.1"
    opened = _parse(_find(lines, "session opened for user news"))
    assert ecs.get(opened, "event.action") == "logged-on"
    assert ecs.get(opened, "user.effective.name") == "news"


def test_wazuh_sshd_iso_and_solaris_lines() -> None:
    lines = conformance.wazuh_lines("sshd")
    iso = _parse(_find(lines, "Failed keyboard-interactive/pam for invalid user warez"))
    assert ecs.get(iso, "@timestamp") == "2013-10-30T13:51:24.140Z"
    assert ecs.get(iso, "user.name") == "warez"
    assert ecs.get(iso, "source.port") == 54197
    solaris = _parse(_find(lines, "[ID 800047 auth.notice] Failed none for root"))
    assert ecs.get(solaris, "user.name") == "root"
    assert ecs.get(solaris, "source.ip") == "192.168.1.1"
    maxed = _parse(_find(lines, "maximum authentication attempts exceeded for root"))
    assert ecs.get(maxed, "event.outcome") == "failure"


def test_elastic_auth_fixture_useradd() -> None:
    path = (conformance.ELASTIC / "from-elastic-package/parallel/system/data_stream/auth/_dev/test/pipeline"
            / "test-auth.log")
    line = _find(path.read_text().splitlines(), "new user: name=apache")
    event = _parse(line)
    assert ecs.get(event, "user.name") == "apache"
    assert ecs.get(event, "user.id") == "48"
    assert ecs.get(event, "event.type") == ["user", "creation"]
    assert ecs.get(event, "system.auth.useradd.shell") == "/sbin/nologin"


def test_auditd_sample_grouped() -> None:
    """The security-datasets auditd file: SYSCALL+EXECVE+CWD+PATH+PROCTITLE become one event."""
    from guetteur.parse import flush_pending, parse_batch

    paths = sorted((conformance.DATA / "security-datasets/atomic/linux/discovery").glob("*.log"))
    lines = [line for line in paths[0].read_text().splitlines() if line.strip()]
    records = [RawRecord(line, time.time(), "file", peer="audit.log") for line in lines]
    batch = parse_batch(records)
    rest = flush_pending()
    events = batch.events + rest.events
    assert len(events) + batch.merged + rest.merged == len(lines)
    arp = [e for e in events if ecs.get(e, "process.name") == "arp"][0]
    assert ecs.get(arp, "process.args") == ["arp", "-a"]
    assert ecs.get(arp, "process.title") == "arp -a"
    assert ecs.get(arp, "process.working_directory") == "/home/wardog"
    assert ecs.get(arp, "event.action") == "executed"
    assert ecs.get(arp, "user.id") == "1000"
