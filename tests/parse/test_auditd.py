"""auditd records and the assembler (grouping by serial across batches, counts)."""

from __future__ import annotations

import time

import pytest

from guetteur import ecs
from guetteur.model import RawRecord
from guetteur.parse import ASSEMBLER, flush_pending, parse_batch, parse_record
from guetteur.parse.auditd import parse_audit_record

EVENT = [
    'type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59 success=yes exit=0 a0=1 items=2 '
    'ppid=29002 pid=1631 auid=1000 uid=1000 gid=1000 euid=0 tty=pts0 ses=104 comm="bash" exe="/bin/bash" key="x"',
    "type=EXECVE msg=audit(1604994496.155:92733): argc=3 a0=\"bash\" a1=\"-c\" a2=6563686F20686920746865726521",
    'type=CWD msg=audit(1604994496.155:92733): cwd="/tmp"',
    'type=PATH msg=audit(1604994496.155:92733): item=0 name="/bin/bash" inode=20 mode=0100755 nametype=NORMAL',
    "type=PROCTITLE msg=audit(1604994496.155:92733): proctitle=62617368002D63006563686F206869",
    "type=EOE msg=audit(1604994496.155:92733): ",
]


@pytest.fixture(autouse=True)
def _empty_assembler():
    flush_pending()
    yield
    flush_pending()


def _records(lines: list[str], peer: str = "audit.log") -> list[RawRecord]:
    return [RawRecord(line, time.time(), "file", peer=peer) for line in lines]


def test_one_event_from_a_group_closed_by_eoe() -> None:
    batch = parse_batch(_records(EVENT))
    assert len(batch.events) == 1 and batch.merged == 5 and batch.pending == 0
    event = batch.events[0]
    assert ecs.get(event, "process.args") == ["bash", "-c", "echo hi there!"]
    assert ecs.get(event, "process.command_line") == "bash -c echo hi there!"
    assert ecs.get(event, "process.title") == "bash -c echo hi"
    assert ecs.get(event, "process.working_directory") == "/tmp"
    assert ecs.get(event, "file.path") == "/bin/bash"
    assert ecs.get(event, "event.action") == "executed"
    assert ecs.get(event, "user.effective.id") == "0"
    assert ecs.get(event, "auditd.log.sequence") == 92733
    assert ecs.get(event, "@timestamp") == "2020-11-10T07:48:16.155Z"
    assert event["event"]["original"] == "\n".join(EVENT)


def test_group_spanning_batches_is_held_then_emitted() -> None:
    first = parse_batch(_records(EVENT[:3]))
    assert first.events == [] and first.pending == 3
    second = parse_batch(_records(EVENT[3:]))
    assert len(second.events) == 1 and second.merged == 5 and second.pending == 0


def test_new_serial_closes_the_previous_group_and_flush_closes_the_rest() -> None:
    other = [line.replace("92733", "92734") for line in EVENT[:2]]
    batch = parse_batch(_records(EVENT[:2] + other))
    assert len(batch.events) == 1 and batch.merged == 1 and batch.pending == 2
    rest = flush_pending()
    assert len(rest.events) == 1 and rest.merged == 1 and ASSEMBLER.pending == 0


def test_streams_are_kept_apart() -> None:
    batch = parse_batch(_records(EVENT[:1], peer="a") + _records(EVENT[:1], peer="b"))
    assert batch.pending == 2
    assert len(flush_pending().events) == 2


def test_max_age_closes_a_group() -> None:
    parse_batch(_records(EVENT[:2]))
    closed = ASSEMBLER.expire(now=time.monotonic() + ASSEMBLER.max_age + 1)
    assert len(closed) == 1


def test_user_space_record_is_standalone() -> None:
    line = ("type=USER_AUTH msg=audit(1700000000.1:55): pid=1 uid=0 auid=4294967295 ses=4294967295 "
            "msg='op=PAM:authentication grantors=? acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=1.2.3.4 "
            "addr=1.2.3.4 terminal=ssh res=failed'")
    batch = parse_batch(_records([line]))
    assert len(batch.events) == 1 and batch.pending == 0
    event = batch.events[0]
    assert ecs.get(event, "user.name") == "root"
    assert ecs.get(event, "source.ip") == "1.2.3.4"
    assert ecs.get(event, "event.outcome") == "failure"
    assert ecs.get(event, "event.category") == ["authentication"]


def test_single_record_parse_and_syslog_forwarded_apparmor() -> None:
    event = parse_record(RawRecord(EVENT[0], time.time(), "file", "auditd"))
    assert ecs.get(event, "process.executable") == "/bin/bash"
    line = ('Jun 24 10:35:29 h kernel: [49787.97] audit: type=1400 audit(1403598929.839:88986): apparmor="DENIED" '
            'operation="open" profile="/usr/bin/evince" name="/etc/x" pid=16418 comm="evince"')
    event = parse_record(RawRecord(line, time.time(), "file"))
    assert ecs.get(event, "auditd.log.apparmor") == "DENIED"


@pytest.mark.parametrize("line", ["type=SYSCALL msg=audit(abc:1): x=1", "type=X msg=audit(", "node= type="])
def test_not_a_record(line: str) -> None:
    assert parse_audit_record(line) is None
