"""The simulated organisation: a small medical practice's servers, staff and visitors.

Addresses only ever appear *inside* log lines; the demo sends everything to the local
Guetteur. Internal hosts use private ranges (RFC 1918). Benign Internet visitors come
from 192.0.2.0/24 (TEST-NET-1); attackers only from 203.0.113.0/24 (TEST-NET-3) and
198.51.100.0/24 (TEST-NET-2), so that no normal line can ever trip a detection aimed
at the attack scenarios, and no real address is named.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Host:
    """A simulated server: its name (the syslog HOSTNAME), internal address and role."""

    name: str
    ip: str
    role: str


WEB: Final = Host("web-01", "10.0.1.10", "nginx reverse proxy and public web site")
INTRANET: Final = Host("intranet-01", "10.0.1.11", "Apache intranet")
API: Final = Host("api-01", "10.0.1.20", "patient records API (FastAPI on uvicorn)")
DB: Final = Host("db-01", "10.0.2.10", "PostgreSQL 16, database 'medical'")
FILES: Final = Host("files-01", "10.0.3.20", "file share /srv/share, audited by auditd")
FIREWALL: Final = Host("fw-01", "10.0.0.1", "UFW edge firewall and Zeek sensor")
BASTION: Final = Host("bastion-01", "10.0.0.5", "SSH jump host")

HOSTS: Final = (WEB, INTRANET, API, DB, FILES, FIREWALL, BASTION)
SSH_HOSTS: Final = (WEB, API, DB, FILES, BASTION)
PUBLIC_IP: Final = "192.0.2.1"  # fw-01's Internet-facing address (TEST-NET-1)


@dataclass(frozen=True, slots=True)
class Person:
    """A member of staff: Unix login, uid, workstation address, and habits."""

    login: str
    uid: int
    workstation: str
    admin: bool  # uses sudo day to day


STAFF: Final = (
    Person("amartin", 1001, "10.0.10.21", admin=True),    # system administrator
    Person("bnguyen", 1002, "10.0.10.22", admin=True),    # database administrator
    Person("cdubois", 1003, "10.0.10.23", admin=False),   # developer
    Person("efontaine", 1005, "10.0.10.25", admin=False), # developer
    Person("deploy", 1100, "10.0.1.5", admin=True),       # CI deployment account
)
JDOE: Final = Person("jdoe", 1004, "10.0.10.24", admin=False)  # never uses sudo (sudo-abuse scenario)
SERVICE_USERS: Final = ("www-data", "postgres", "medapi", "backup")

#: Users of the patient API (application accounts, not Unix logins).
API_USERS: Final = ("dr.martin", "dr.benali", "dr.okafor", "nurse.leroy", "nurse.costa", "sec.moreau")
#: Each API user normally sees only "their" patients: a small, stable set.
PATIENTS_PER_USER: Final = 12
PATIENT_IDS: Final = range(1000, 1000 + PATIENTS_PER_USER * len(API_USERS))
API_CLIENT_IPS: Final = ("10.0.10.31", "10.0.10.32", "10.0.10.33", "10.0.10.34", "10.0.10.35", "10.0.10.36")

DB_USERS: Final = ("medapi", "reporting", "backup")
DB_NAME: Final = "medical"

#: Usernames attackers guess (password spraying, brute force).
GUESSED_USERS: Final = (
    "admin", "root", "test", "user", "oracle", "postgres", "ubuntu", "guest", "support",
    "ftpuser", "git", "jenkins", "backup", "deploy", "amartin", "bnguyen", "cdubois", "pi",
)

BROWSER_AGENTS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
)


def patients_of(api_user: str) -> range:
    """The patient ids an API user legitimately works with."""
    index = API_USERS.index(api_user)
    start = PATIENT_IDS.start + index * PATIENTS_PER_USER
    return range(start, start + PATIENTS_PER_USER)


def visitor_ip(rng: random.Random) -> str:
    """A benign Internet visitor (TEST-NET-1)."""
    return f"192.0.2.{rng.randint(10, 250)}"


def attacker_ip(rng: random.Random) -> str:
    """An attacker's address, from TEST-NET-3 or TEST-NET-2 only."""
    net = rng.choice(("203.0.113", "198.51.100"))
    return f"{net}.{rng.randint(2, 254)}"


def ephemeral_port(rng: random.Random) -> int:
    return rng.randint(32768, 60999)
