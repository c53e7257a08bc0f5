"""Normal traffic: what the simulated practice logs on an ordinary day.

`normal_traffic(sim)` is an endless iterator of `Step`s (delay 0: the sender paces them
to the requested rate). Activities are drawn by weight; one activity may write several
lines (an SSH login writes `Accepted` then `session opened`). No normal line uses an
attacker range, and every API user reads only their own patients, so the attack
scenarios stand out.

Routing mirrors a real deployment: nginx and the kernel log to syslog over UDP (nginx's
native syslog output is UDP), rsyslog forwards auth and cron over TCP (some hosts in
RFC 5424), and applications (uvicorn, Python logging, the API's JSON audit log,
PostgreSQL, auditd, Zeek, Apache files) are shipped by HTTP to `/api/v1/ingest`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from guetteur.demo import hosts, lines
from guetteur.demo.hosts import API, BASTION, DB, FILES, FIREWALL, INTRANET, SSH_HOSTS, STAFF, WEB
from guetteur.demo.sim import Sim
from guetteur.demo.step import HTTP, SYSLOG_TCP, SYSLOG_UDP, Step

Activity = Callable[[Sim], Iterator[Step]]

# Hosts whose rsyslog forwards in RFC 5424; the others use the traditional format.
RFC5424_HOSTS = frozenset({API.name, FILES.name})


def auth_line(sim: Sim, host: str, program: str, pid: int | None, message: str, *,
              facility: str = "authpriv", severity: str = "info", delay: float = 0.0, fmt: str | None = None) -> Step:
    """A syslog line forwarded by rsyslog over TCP."""
    text = lines.syslog(sim.now(), host, program, pid, message, facility=facility, severity=severity,
                        rfc5424=host in RFC5424_HOSTS)
    return Step(delay, SYSLOG_TCP, text, fmt or program)


def kernel_line(sim: Sim, message: str, *, delay: float = 0.0, severity: str = "warning") -> Step:
    """fw-01's kernel log, sent by UDP like most firewalls do."""
    text = lines.syslog(sim.now(), FIREWALL.name, "kernel", None, message, facility="kern", severity=severity)
    return Step(delay, SYSLOG_UDP, text, "kernel-ufw")


def nginx_line(sim: Sim, ip: str, method: str, target: str, status: int, size: int, *, user: str = "-",
               agent: str = "-", referer: str = "-", delay: float = 0.0) -> Step:
    """nginx's `access_log syslog:server=...` (UDP, facility local7, tag nginx)."""
    access = lines.combined_access(sim.now(), ip, method, target, status, size, user=user, agent=agent, referer=referer)
    text = lines.syslog(sim.now(), WEB.name, "nginx", None, access, facility="local7", severity="info")
    return Step(delay, SYSLOG_UDP, text, "nginx")


def http_line(line: str, fmt: str, delay: float = 0.0) -> Step:
    return Step(delay, HTTP, line, fmt)


# --- activities -----------------------------------------------------------------------

_PAGES = (
    ("/", 200, 5120), ("/contact", 200, 3310), ("/appointments", 200, 8870), ("/team", 200, 6120),
    ("/static/css/site.css", 200, 18234), ("/static/js/app.js", 200, 94211), ("/favicon.ico", 200, 1150),
    ("/static/img/logo.svg", 304, 0), ("/robots.txt", 200, 67), ("/news/flu-vaccination-2026", 200, 7712),
    ("/wp-login.php", 404, 153), ("/appointments/book", 302, 0),
)


def web_visit(sim: Sim) -> Iterator[Step]:
    rng = sim.rng
    ip = hosts.visitor_ip(rng)
    agent = rng.choice(hosts.BROWSER_AGENTS)
    for _ in range(rng.randint(1, 3)):
        path, status, size = rng.choice(_PAGES)
        size = int(size * rng.uniform(0.9, 1.1)) if size else 0
        yield nginx_line(sim, ip, "GET", path, status, size, agent=agent, referer="https://www.example.org/")


def intranet_visit(sim: Sim) -> Iterator[Step]:
    rng = sim.rng
    person = rng.choice(STAFF)
    path = rng.choice(("/wiki/Onboarding", "/wiki/On-call", "/planning/2026-W15", "/phonebook", "/files/forms/leave.pdf"))
    size = rng.randint(2_000, 60_000)
    line = lines.combined_access(sim.now(), person.workstation, "GET", path, 200, size, user=person.login,
                                 agent=hosts.BROWSER_AGENTS[0], referer=f"http://{INTRANET.name}/")
    yield http_line(line, "apache")


def api_call(sim: Sim) -> Iterator[Step]:
    """A clinician reading one of their own patients' records through the API."""
    rng = sim.rng
    index = rng.randrange(len(hosts.API_USERS))
    user, ip = hosts.API_USERS[index], hosts.API_CLIENT_IPS[index]
    port = hosts.ephemeral_port(rng)
    roll = rng.random()
    # A mistyped password now and then: a login happens once per session, not per call, so
    # failures are rare among calls (a few per user and hour, never five in two minutes).
    if roll < 0.002:
        yield http_line(lines.uvicorn_access(ip, port, "POST", "/api/v1/auth/login", 401), "uvicorn")
        yield http_line(lines.python_logging(sim.now(), "WARNING", f"login failed for user {user} from {ip}"),
                        "python-logging")
        return
    patient = rng.choice(hosts.patients_of(user))
    if roll < 0.25:
        target, action = f"/api/v1/patients/{patient}/appointments", "patient.appointments.list"
        method = "GET"
    elif roll < 0.32:
        target, action, method = f"/api/v1/patients/{patient}/notes", "patient.note.create", "POST"
    else:
        target, action, method = f"/api/v1/patients/{patient}/records", "patient.record.read", "GET"
    status = 201 if method == "POST" else 200
    yield http_line(lines.uvicorn_access(ip, port, method, target, status), "uvicorn")
    yield http_line(lines.app_json(
        sim.now(), level="INFO", logger="medapi.audit", host=API.name, message=action.replace(".", " "),
        user=user, src_ip=ip, patient_id=patient, action=action, http_method=method, path=target,
        status=status, request_id=f"{rng.getrandbits(64):016x}",
    ), "app-json")


_APP_MESSAGES = (
    ("INFO", "Application startup complete."),
    ("INFO", "Cache refreshed: {n} patient summaries"),
    ("INFO", "Sent {n} appointment reminders"),
    ("WARNING", "Slow query on /api/v1/patients/search: {s:.2f}s"),
    ("INFO", "Token refreshed for client medapi-web"),
    ("ERROR", "SMTP relay timeout while sending reminder batch {n}"),
)


def app_message(sim: Sim) -> Iterator[Step]:
    rng = sim.rng
    level, text = rng.choice(_APP_MESSAGES)
    message = text.format(n=rng.randint(10, 900), s=rng.uniform(1.1, 3.5))
    yield http_line(lines.python_logging(sim.now(), level, message), "python-logging")


def ssh_session(sim: Sim) -> Iterator[Step]:
    rng = sim.rng
    person = rng.choice(STAFF)
    host = rng.choice(SSH_HOSTS).name if person.login != "deploy" else rng.choice((WEB.name, API.name))
    source = BASTION.ip if host != BASTION.name else person.workstation
    pid, port = sim.pid(), hosts.ephemeral_port(rng)
    method = "publickey" if rng.random() < 0.7 else "password"
    yield auth_line(sim, host, "sshd", pid, lines.sshd_accepted(person.login, source, port, method))
    yield auth_line(sim, host, "sshd", pid, lines.pam_session_opened("sshd", person.login, person.uid))
    if rng.random() < 0.5:
        yield auth_line(sim, host, "sshd", pid, lines.sshd_disconnected(person.login, source, port))
        yield auth_line(sim, host, "sshd", pid, lines.pam_session_closed("sshd", person.login))


_ADMIN_COMMANDS = (
    "/usr/bin/apt update", "/usr/bin/systemctl restart nginx", "/usr/bin/journalctl -u medapi --since today",
    "/usr/bin/tail -n 200 /var/log/syslog", "/usr/bin/systemctl status postgresql", "/usr/sbin/ufw status verbose",
    "/usr/bin/docker ps", "/usr/bin/du -sh /srv/share",
)


def sudo_use(sim: Sim) -> Iterator[Step]:
    rng = sim.rng
    person = rng.choice([p for p in STAFF if p.admin])
    host = rng.choice(SSH_HOSTS).name
    pid = sim.pid()
    command = rng.choice(_ADMIN_COMMANDS)
    yield auth_line(sim, host, "sudo", None, lines.sudo_command(person.login, command, pwd=f"/home/{person.login}"))
    yield auth_line(sim, host, "sudo", pid, lines.pam_session_opened("sudo", "root", 0, person.login, person.uid))
    yield auth_line(sim, host, "sudo", pid, lines.pam_session_closed("sudo", "root"))


def su_use(sim: Sim) -> Iterator[Step]:
    person = next(p for p in STAFF if p.login == "bnguyen")
    pid = sim.pid()
    yield auth_line(sim, DB.name, "su", pid, lines.su_to(person.login, "postgres", "pts/0"))
    yield auth_line(sim, DB.name, "su", pid, lines.pam_session_opened("su-l", "postgres", 110, person.login, person.uid))


_CRON_JOBS = (
    ("root", "   cd / && run-parts --report /etc/cron.hourly"),
    ("root", "test -x /usr/bin/certbot && perl -e 'sleep int(rand(43200))' && certbot -q renew"),
    ("backup", "/usr/local/bin/backup-share --incremental /srv/share"),
    ("postgres", "/usr/bin/pg_dump -Fc medical -f /var/backups/medical.dump"),
    ("www-data", "php /var/www/site/cron.php"),
)


def cron_run(sim: Sim) -> Iterator[Step]:
    rng = sim.rng
    host = rng.choice(hosts.HOSTS).name
    user, command = rng.choice(_CRON_JOBS)
    pid = sim.pid()
    yield auth_line(sim, host, "CRON", pid, lines.pam_session_opened("cron", user, 0 if user == "root" else 34),
                    fmt="cron")
    yield auth_line(sim, host, "CRON", pid, lines.cron_cmd(user, command), facility="cron", fmt="cron")
    yield auth_line(sim, host, "CRON", pid, lines.pam_session_closed("cron", user), fmt="cron")


def database(sim: Sim) -> Iterator[Step]:
    rng = sim.rng
    pid = sim.pid()
    user = rng.choice(hosts.DB_USERS)
    client = API.ip if user == "medapi" else rng.choice((BASTION.ip, "10.0.10.22"))
    port = hosts.ephemeral_port(rng)
    now = sim.now()
    yield http_line(lines.postgresql(now, pid, client, "[unknown]", "[unknown]", "LOG",
                                     f"connection received: host={client} port={port}"), "postgresql")
    yield http_line(lines.postgresql(now, pid, client, user, hosts.DB_NAME, "LOG",
                                     f"connection authorized: user={user} database={hosts.DB_NAME} "
                                     "application_name=psycopg"), "postgresql")
    if rng.random() < 0.1:
        yield http_line(lines.postgresql(now, pid, client, user, hosts.DB_NAME, "ERROR",
                                         'duplicate key value violates unique constraint "appointments_slot_key"'),
                        "postgresql")
    yield http_line(lines.postgresql(now + rng.uniform(0.01, 2.0), pid, client, user, hosts.DB_NAME, "LOG",
                                     f"disconnection: session time: 0:00:0{rng.randint(0, 9)}.{rng.randint(100, 999)} "
                                     f"user={user} database={hosts.DB_NAME} host={client} port={port}"), "postgresql")


def firewall(sim: Sim) -> Iterator[Step]:
    """Internet background noise blocked at the edge, and allowed HTTPS."""
    rng = sim.rng
    src = hosts.visitor_ip(rng)
    if rng.random() < 0.6:
        dpt = rng.choice((23, 445, 3389, 8080, 5900, 1433))
        yield kernel_line(sim, lines.ufw(sim.uptime(), "BLOCK", src=src, dst=hosts.PUBLIC_IP, proto="TCP",
                                         spt=hosts.ephemeral_port(rng), dpt=dpt, packet_id=rng.randint(1, 65535)))
    else:
        yield kernel_line(sim, lines.ufw(sim.uptime(), "ALLOW", src=src, dst=hosts.PUBLIC_IP, proto="TCP",
                                         spt=hosts.ephemeral_port(rng), dpt=443, packet_id=rng.randint(1, 65535)),
                          severity="info")


def zeek(sim: Sim) -> Iterator[Step]:
    """Ordinary flows seen by the sensor: small HTTPS sessions and DNS."""
    rng = sim.rng
    host = rng.choice([h for h in hosts.HOSTS if h is not FIREWALL])
    if rng.random() < 0.5:
        line = lines.zeek_conn(sim.now(), sim.zeek_uid(), (host.ip, hosts.ephemeral_port(rng)), ("10.0.0.1", 53),
                               proto="udp", service="dns", duration=rng.uniform(0.001, 0.02),
                               orig_bytes=rng.randint(30, 60), resp_bytes=rng.randint(60, 300), sensor=FIREWALL.name)
    else:
        dst = f"192.0.2.{rng.randint(100, 120)}"  # update mirrors, certificate authority, mail relay
        line = lines.zeek_conn(sim.now(), sim.zeek_uid(), (host.ip, hosts.ephemeral_port(rng)), (dst, 443),
                               proto="tcp", service="ssl", duration=rng.uniform(0.1, 4.0),
                               orig_bytes=rng.randint(500, 20_000), resp_bytes=rng.randint(2_000, 900_000),
                               sensor=FIREWALL.name)
    yield http_line(line, "zeek-conn")


def file_share(sim: Sim) -> Iterator[Step]:
    """A member of staff saving a document on the share: Samba writes a temp file and renames it."""
    rng = sim.rng
    person = rng.choice(STAFF)
    folder = rng.choice(("finance", "hr", "medical-secretariat", "it"))
    name = rng.choice(("budget-2026.ods", "rota-april.xlsx", "minutes-board.docx", "inventory.csv"))
    final = f"/srv/share/{folder}/{name}"
    temp = f"/srv/share/{folder}/.~{name}.{rng.getrandbits(24):06x}.tmp"
    pid = 2_000 + (person.uid % 100)
    for text in lines.audit_rename(sim.now(), sim.audit_serial(), temp, final, pid=pid, ppid=1_187,
                                   uid=person.uid, auid=person.uid, comm="smbd", exe="/usr/sbin/smbd",
                                   proctitle="smbd: client [10.0.10.2]", inode=sim.inode()):
        yield http_line(text, "auditd")


#: (activity, weight). Weights are activities, not lines: multi-line activities weigh more.
ACTIVITIES: tuple[tuple[Activity, float], ...] = (
    (web_visit, 26), (intranet_visit, 4), (api_call, 18), (app_message, 4), (ssh_session, 3),
    (sudo_use, 2), (su_use, 0.5), (cron_run, 3), (database, 4), (firewall, 12), (zeek, 8), (file_share, 1),
)


def normal_traffic(sim: Sim, *, exclude: frozenset[str] = frozenset()) -> Iterator[Step]:
    """Endless normal traffic. `exclude`: formats to leave out (the benchmark leaves out
    `auditd`, whose multi-record events are merged and so do not count one row per line)."""
    activities = [a for a, _ in ACTIVITIES]
    weights = [w for _, w in ACTIVITIES]
    while True:
        activity = sim.rng.choices(activities, weights)[0]
        for step in activity(sim):
            if step.fmt not in exclude:
                yield step
