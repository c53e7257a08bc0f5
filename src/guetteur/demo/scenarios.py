"""Attack scenarios the demo plays between normal traffic.

Each scenario is a generator `fn(sim) -> Iterator[Step]`: the sender honours each step's
`delay`; tests iterate it with no waiting. A pause is announced with `sim.wait(...)` before
the line after it is written, so every line carries the time it is sent (see `sim.py`). Every line a scenario yields belongs to that
scenario (the sender counts them under its name), and `SCENARIOS` describes what each
one must make Guetteur detect: the detection work checks each description against the
alerts raised. docs/demo.md lists them for users.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from guetteur.demo import hosts, lines
from guetteur.demo.hosts import API, BASTION, DB, FILES, FIREWALL, JDOE, WEB
from guetteur.demo.normal import auth_line, http_line, kernel_line, nginx_line
from guetteur.demo.sim import Sim
from guetteur.demo.step import Step


def ssh_brute_force(sim: Sim) -> Iterator[Step]:
    """8-14 failed passwords for `deploy` on web-01 from one address within about a
    minute, then `Accepted password` from the same address and a session."""
    rng = sim.rng
    ip = hosts.attacker_ip(rng)
    user = "deploy"
    for _ in range(rng.randint(8, 14)):
        pid, port = sim.pid(), hosts.ephemeral_port(rng)
        delay = sim.wait(rng.uniform(1.0, 4.5))
        yield auth_line(sim, WEB.name, "sshd", pid, lines.sshd_failed(user, ip, port), delay=delay, severity="notice")
        yield auth_line(sim, WEB.name, "sshd", pid, lines.sshd_preauth_closed(user, ip, port))
    pid, port = sim.pid(), hosts.ephemeral_port(rng)
    delay = sim.wait(rng.uniform(1.0, 4.0))
    yield auth_line(sim, WEB.name, "sshd", pid, lines.sshd_accepted(user, ip, port), delay=delay)
    yield auth_line(sim, WEB.name, "sshd", pid, lines.pam_session_opened("sshd", user, 1100))


def password_spraying(sim: Sim) -> Iterator[Step]:
    """One address tries one or two common passwords against 12-18 different accounts on
    bastion-01 (some of which do not exist), a few seconds apart; none succeeds."""
    rng = sim.rng
    ip = hosts.attacker_ip(rng)
    existing = {p.login for p in hosts.STAFF}
    for user in rng.sample(hosts.GUESSED_USERS, rng.randint(12, 18)):
        pid, port = sim.pid(), hosts.ephemeral_port(rng)
        invalid = user not in existing and user not in ("root", "backup", "postgres")
        delay = sim.wait(rng.uniform(0.5, 3.0))
        if invalid:
            yield auth_line(sim, BASTION.name, "sshd", pid, lines.sshd_invalid_user(user, ip, port), delay=delay)
        yield auth_line(sim, BASTION.name, "sshd", pid, lines.sshd_failed(user, ip, port, invalid=invalid),
                        delay=0 if invalid else delay, severity="notice")
        yield auth_line(sim, BASTION.name, "sshd", pid, lines.sshd_preauth_closed(user, ip, port, invalid=invalid))


def sudo_abuse(sim: Sim) -> Iterator[Step]:
    """`jdoe`, who never uses sudo, fails sudo's password three times, is refused a root
    shell, escapes to one through `find -exec /bin/sh` (GTFOBins), then adds a UID 0 user."""
    rng = sim.rng
    host, user, tty, home = DB.name, JDOE.login, "pts/1", f"/home/{JDOE.login}"
    pid = sim.pid()
    yield auth_line(sim, host, "sshd", pid, lines.sshd_accepted(user, BASTION.ip, hosts.ephemeral_port(rng)))
    yield auth_line(sim, host, "sshd", pid, lines.pam_session_opened("sshd", user, JDOE.uid))
    pid = sim.pid()
    for _ in range(3):
        delay = sim.wait(rng.uniform(2.0, 6.0))
        yield auth_line(sim, host, "sudo", pid, lines.pam_auth_failure("sudo", user, JDOE.uid, tty, user),
                        delay=delay, severity="notice")
    yield auth_line(sim, host, "sudo", None,
                    lines.sudo_refused(user, "3 incorrect password attempts", "/usr/bin/cat /etc/shadow", pwd=home,
                                       tty=tty), severity="alert")
    delay = sim.wait(rng.uniform(3.0, 8.0))
    yield auth_line(sim, host, "sudo", None,
                    lines.sudo_refused(user, "command not allowed", "/bin/bash", pwd=home, tty=tty),
                    delay=delay, severity="alert")
    pid = sim.pid()
    delay = sim.wait(rng.uniform(5.0, 10.0))
    yield auth_line(sim, host, "sudo", None,
                    lines.sudo_command(user, "/usr/bin/find /home/jdoe -maxdepth 0 -exec /bin/sh -p ; -quit",
                                       pwd=home, tty=tty), delay=delay)
    yield auth_line(sim, host, "sudo", pid, lines.pam_session_opened("sudo", "root", 0, user, JDOE.uid))
    delay = sim.wait(rng.uniform(2.0, 6.0))
    yield auth_line(sim, host, "useradd", sim.pid(),
                    lines.useradd_new("support", 0, 0, "/root", "/bin/bash"), delay=delay)


def patient_idor(sim: Sim) -> Iterator[Step]:
    """`nurse.costa`, authenticated, walks through 25-35 consecutive patient ids that are
    not hers (`GET /api/v1/patients/{id}/records`), about one a second; the API answers
    200 (the flaw), 404 for ids that do not exist. Uvicorn access + JSON audit lines."""
    rng = sim.rng
    user = "nurse.costa"
    ip = hosts.API_CLIENT_IPS[hosts.API_USERS.index(user)]
    own = hosts.patients_of(user)
    start = hosts.PATIENT_IDS.start
    walked = [p for p in range(start, start + 60) if p not in own][: rng.randint(25, 35)]
    yield http_line(lines.python_logging(sim.now(), "INFO", f"login succeeded for user {user} from {ip}"),
                    "python-logging")
    for patient in walked:
        target = f"/api/v1/patients/{patient}/records"
        status = 404 if rng.random() < 0.06 else 200
        delay = sim.wait(rng.uniform(0.4, 2.0))
        yield http_line(lines.uvicorn_access(ip, hosts.ephemeral_port(rng), "GET", target, status), "uvicorn",
                        delay=delay)
        yield http_line(lines.app_json(
            sim.now(), level="INFO" if status == 200 else "WARNING", logger="medapi.audit", host=API.name,
            message="patient record read" if status == 200 else "patient not found", user=user, src_ip=ip,
            patient_id=patient, action="patient.record.read", http_method="GET", path=target, status=status,
            request_id=f"{rng.getrandbits(64):016x}",
        ), "app-json")


def data_exfiltration(sim: Sim) -> Iterator[Step]:
    """files-01 pushes 12-20 large uploads (150-900 MB each, several GB in total) to one
    external address on 443 within a minute (Zeek conn + UFW outbound lines), while an
    export endpoint on web-01 serves 8-25 MB pages to another external address."""
    rng = sim.rng
    drop = hosts.attacker_ip(rng)
    for _ in range(rng.randint(12, 20)):
        sent = rng.randint(150_000_000, 900_000_000)
        port = hosts.ephemeral_port(rng)
        delay = sim.wait(rng.uniform(0.5, 3.0))
        yield kernel_line(sim, lines.ufw(sim.uptime(), "AUDIT", src=FILES.ip, dst=drop, proto="TCP", spt=port, dpt=443,
                                         inbound=False, ttl=64, packet_id=rng.randint(1, 65535)),
                          delay=delay, severity="info")
        yield http_line(lines.zeek_conn(sim.now(), sim.zeek_uid(), (FILES.ip, port), (drop, 443), proto="tcp",
                                        service="ssl", duration=rng.uniform(20, 90), orig_bytes=sent,
                                        resp_bytes=rng.randint(20_000, 90_000), sensor=FIREWALL.name), "zeek-conn")
    scraper = hosts.attacker_ip(rng)
    agent = "python-requests/2.32.3"
    for page in range(1, rng.randint(9, 15)):
        delay = sim.wait(rng.uniform(0.3, 1.5))
        yield nginx_line(sim, scraper, "GET", f"/api/v1/export/patients?format=csv&page={page}", 200,
                         rng.randint(8_000_000, 25_000_000), agent=agent, delay=delay)


RANSOM_EXTENSIONS = (".locked", ".lockbit", ".akira", ".encrypted", ".crypt")
RANSOM_NOTE = "README_TO_RESTORE_FILES.txt"
_DOCUMENTS = (
    "budget-2026.ods", "payroll-march.xlsx", "contracts/lease-2024.pdf", "board/minutes-2026-02.docx",
    "patients/consent-forms.zip", "it/network-diagram.vsdx", "hr/reviews-2025.docx", "scans/xray-0412.dcm",
    "invoices/INV-2026-0311.pdf", "photos/team-2025.jpg", "reports/quarterly-q1.pptx", "it/passwords-old.kdbx",
)


def ransomware(sim: Sim) -> Iterator[Step]:
    """On files-01 a `python3` process running as root (login uid 1002) first deletes the
    LVM snapshot of the share (the Linux `vssadmin delete shadows`), then renames 40-80
    documents to a ransomware extension within seconds, and drops a ransom note.
    auditd: EXECVE of `lvremove`, rename(2) SYSCALL/PATH records, openat(O_CREAT)."""
    rng = sim.rng
    ext = rng.choice(RANSOM_EXTENSIONS)
    pid, ppid, auid = sim.pid(), 1_642, 1_002
    proctitle = "python3\0/tmp/.cache/upd.py"
    for text in lines.audit_execve(sim.now(), sim.audit_serial(), ["lvremove", "-f", "/dev/vg_data/share_snap"],
                                   "/usr/sbin/lvm", pid=sim.pid(), ppid=pid, uid=0, auid=auid, inode=sim.inode()):
        yield http_line(text, "auditd")
    folders = ("finance", "hr", "medical-secretariat", "it", "direction")
    count = rng.randint(40, 80)
    for i in range(count):
        folder = folders[i % len(folders)]
        document = _DOCUMENTS[i % len(_DOCUMENTS)]
        stem, _, suffix = document.rpartition(".")
        old = f"/srv/share/{folder}/{stem}-{i // len(_DOCUMENTS)}.{suffix}"
        delay = sim.wait(rng.uniform(0.03, 0.25) if i else rng.uniform(1.0, 3.0))
        for j, text in enumerate(lines.audit_rename(sim.now(), sim.audit_serial(), old, old + ext, pid=pid, ppid=ppid,
                                                    uid=0, auid=auid, comm="python3", exe="/usr/bin/python3.11",
                                                    proctitle=proctitle, inode=sim.inode())):
            yield http_line(text, "auditd", delay=delay if j == 0 else 0.0)
    for folder in folders:
        for text in lines.audit_create(sim.now(), sim.audit_serial(), f"/srv/share/{folder}/{RANSOM_NOTE}", pid=pid,
                                       ppid=ppid, uid=0, auid=auid, comm="python3", exe="/usr/bin/python3.11",
                                       proctitle=proctitle, inode=sim.inode()):
            yield http_line(text, "auditd")


def port_scan(sim: Sim) -> Iterator[Step]:
    """One address probes 40-120 distinct TCP ports of the public address in a few
    seconds; UFW blocks each (`[UFW BLOCK]` kernel lines)."""
    rng = sim.rng
    ip = hosts.attacker_ip(rng)
    spt = hosts.ephemeral_port(rng)
    common = [21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 389, 443, 445, 465, 587, 993, 995, 1433, 1521,
              2049, 3306, 3389, 5432, 5900, 6379, 8000, 8080, 8443, 9200, 11211, 27017]
    ports = common + rng.sample(range(1024, 65535), rng.randint(8, 88))
    rng.shuffle(ports)
    for dpt in ports:
        delay = sim.wait(rng.uniform(0.01, 0.08))
        yield kernel_line(sim, lines.ufw(sim.uptime(), "BLOCK", src=ip, dst=hosts.PUBLIC_IP, proto="TCP", spt=spt,
                                         dpt=dpt, ttl=rng.randint(38, 52), packet_id=rng.randint(1, 65535),
                                         length=44), delay=delay)


@dataclass(frozen=True, slots=True)
class Scenario:
    """An attack the demo plays.

    name:        the key in `SCENARIOS` and in `DemoStats.scenario_lines`.
    description: what happens, and what a detection must see in it.
    techniques:  MITRE ATT&CK technique ids the scenario exercises.
    play:        the generator of its steps.
    """

    name: str
    description: str
    techniques: tuple[str, ...]
    play: Callable[[Sim], Iterator[Step]]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("ssh_brute_force", "SSH brute force then success: one source address, >= 8 `Failed password` for "
                 "`deploy` on web-01 in about a minute (< 2 min), then `Accepted password` from that address.",
                 ("T1110.001", "T1078"), ssh_brute_force),
        Scenario("password_spraying", "Password spraying: one source address, one failed SSH login on each of "
                 ">= 12 distinct user names on bastion-01 within about a minute.", ("T1110.003",), password_spraying),
        Scenario("sudo_abuse", "Sudo abuse: `jdoe` (never uses sudo) fails sudo authentication 3 times, is refused "
                 "`/bin/bash`, runs `find -exec /bin/sh` as root, then `useradd` creates UID 0 user `support` on db-01.",
                 ("T1548.003", "T1136.001"), sudo_abuse),
        Scenario("patient_idor", "IDOR on the patient API: `nurse.costa` reads the records of >= 25 distinct patients "
                 "that are not hers within about a minute (sequential ids; uvicorn access + JSON audit lines).",
                 ("T1213", "T1530"), patient_idor),
        Scenario("data_exfiltration", "Data exfiltration burst: files-01 uploads >= 12 x 150-900 MB to one external "
                 "address on 443 within a minute (Zeek conn `orig_bytes`, UFW outbound), plus an external client "
                 "pulling 8-25 MB CSV export pages from web-01.", ("T1048", "T1567"), data_exfiltration),
        Scenario("ransomware", "Ransomware-like mass renames on files-01: `lvremove -f` of the share snapshot, then "
                 ">= 40 rename(2) of documents to one ransomware extension (.locked, .lockbit, .akira...) by one "
                 "`python3` process within seconds, then a ransom note `README_TO_RESTORE_FILES.txt` in each folder.",
                 ("T1486", "T1490"), ransomware),
        Scenario("port_scan", "Port scan: one source address hits >= 40 distinct TCP destination ports on fw-01's public "
                 "address within seconds; UFW blocks each.", ("T1046",), port_scan),
    )
}

#: scenario name -> what it does and what must detect it.
SCENARIO_DESCRIPTIONS: dict[str, str] = {name: s.description for name, s in SCENARIOS.items()}
