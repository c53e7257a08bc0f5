"""Sigma log sources on our ECS events: which events a rule can see, and where its fields live.

Two questions, answered from tables (sigma-appendix-taxonomy.md and SigmaHQ's
`tests/logsource.json`):

*Routing.* A rule's `logsource` (product / category / service) becomes a `RouteKey`. An
event is classified once (`classify`) into its product, categories and services, from
`event.module`/`event.dataset`, `winlog.channel`/`winlog.event_id`, `process.name` and the ECS
categorisation; `event_route_keys` lists every `RouteKey` it satisfies. A rule sees an event
only when its key is among them (a rule asking for `windows` alone sees every Windows event,
`windows/process_creation` only Sysmon 1 and Security 4688...).

*Field mapping.* A Sigma field name (taxonomy: Sysmon/Windows names, `c-uri`, `a0`...) becomes
an ordered list of dotted paths in our events (`field_paths`). Windows events keep every
original field under `winlog.event_data.<Name>`, so a Windows rule's `Image` is looked up
there first (as on raw Windows logs), then under its Security-log alias, then in ECS
(`process.executable`). Other products map taxonomy names to ECS. Unknown names are tried
as a dotted ECS path, then under `winlog.event_data`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sigma.rule import SigmaLogSource

from guetteur.model import Event

Path = tuple[str, ...]

# A path step starting with this marker matches a key whose spaces are removed
# (see `view.lookup`).
NO_SPACE = "\x00nospace:"

# (product, category, service), lower case, None when the rule leaves it open.
RouteKey = tuple[str | None, str | None, str | None]

SYSMON_CHANNEL = "microsoft-windows-sysmon/operational"

# Sysmon event id -> Sigma categories (sigma-appendix-taxonomy.md, "Windows Folder").
SYSMON_CATEGORIES: dict[str, tuple[str, ...]] = {
    "1": ("process_creation",),
    "2": ("file_change",),
    "3": ("network_connection",),
    "4": ("sysmon_status",),
    "5": ("process_termination",),
    "6": ("driver_load",),
    "7": ("image_load",),
    "8": ("create_remote_thread",),
    "9": ("raw_access_thread",),
    "10": ("process_access",),
    "11": ("file_event",),
    "12": ("registry_event", "registry_add", "registry_delete"),
    "13": ("registry_event", "registry_set"),
    "14": ("registry_event", "registry_rename"),
    "15": ("create_stream_hash",),
    "16": ("sysmon_status",),
    "17": ("pipe_created",),
    "18": ("pipe_created",),
    "19": ("wmi_event",),
    "20": ("wmi_event",),
    "21": ("wmi_event",),
    "22": ("dns_query",),
    "23": ("file_delete",),
    "24": ("clipboard_capture",),
    "25": ("process_tampering",),
    "26": ("file_delete", "file_delete_detected"),
    "27": ("file_block", "file_block_executable"),
    "28": ("file_block", "file_block_shredding"),
    "29": ("file_executable_detected",),
    "255": ("sysmon_error",),
}

# Categories other channels provide: (channel, event id) -> categories.
CHANNEL_EVENT_CATEGORIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("security", "4688"): ("process_creation",),
    ("windows powershell", "400"): ("ps_classic_start",),
    ("windows powershell", "600"): ("ps_classic_provider_start",),
    ("windows powershell", "800"): ("ps_classic_script",),
    ("microsoft-windows-powershell/operational", "4103"): ("ps_module",),
    ("microsoft-windows-powershell/operational", "4104"): ("ps_script",),
    ("powershellcore/operational", "4103"): ("ps_module",),
    ("powershellcore/operational", "4104"): ("ps_script",),
}

# winlog.channel (lower case) -> Sigma services (taxonomy "Windows Folder / Service").
WINDOWS_CHANNEL_SERVICES: dict[str, tuple[str, ...]] = {
    "application": ("application",),
    "microsoft-windows-application-experience/program-telemetry": ("application-experience",),
    "microsoft-windows-application-experience/program-compatibility-assistant": ("application-experience",),
    "microsoft-windows-applocker/msi and script": ("applocker",),
    "microsoft-windows-applocker/exe and dll": ("applocker",),
    "microsoft-windows-applocker/packaged app-deployment": ("applocker",),
    "microsoft-windows-applocker/packaged app-execution": ("applocker",),
    "microsoft-windows-appmodel-runtime/admin": ("appmodel-runtime",),
    "microsoft-windows-appxdeploymentserver/operational": ("appxdeployment-server",),
    "microsoft-windows-appxpackaging/operational": ("appxpackaging-om",),
    "microsoft-windows-bitlocker/bitlocker management": ("bitlocker",),
    "microsoft-windows-bits-client/operational": ("bits-client",),
    "microsoft-windows-capi2/operational": ("capi2",),
    "microsoft-windows-certificateservicesclient-lifecycle-system/operational": (
        "certificateservicesclient-lifecycle-system",
    ),
    "microsoft-windows-codeintegrity/operational": ("codeintegrity-operational",),
    "microsoft-windows-dhcp-server/operational": ("dhcp",),
    "microsoft-windows-diagnosis-scripted/operational": ("diagnosis-scripted",),
    "microsoft-windows-dns client events/operational": ("dns-client",),
    "dns server": ("dns-server",),
    "microsoft-windows-dns-server/analytical": ("dns-server-analytic",),
    "microsoft-windows-dns-server/audit": ("dns-server-audit",),
    "microsoft-windows-driverframeworks-usermode/operational": ("driver-framework",),
    "microsoft-windows-windows firewall with advanced security/firewall": ("firewall-as",),
    "microsoft-windows-hyper-v-worker": ("hyper-v-worker",),
    "microsoft-iis-configuration/operational": ("iis-configuration",),
    "microsoft-windows-kernel-eventtracing": ("kernel-event-tracing",),
    "microsoft-windows-kernel-shimengine/operational": ("kernel-shimengine",),
    "microsoft-windows-kernel-shimengine/diagnostic": ("kernel-shimengine",),
    "microsoft-windows-ldap-client/debug": ("ldap",),
    "microsoft-windows-lsa/operational": ("lsa-server",),
    "msexchange management": ("msexchange-management",),
    "microsoft-windows-ntfs/operational": ("ntfs",),
    "microsoft-windows-ntlm/operational": ("ntlm",),
    "openssh/operational": ("openssh",),
    "microsoft-windows-powershell/operational": ("powershell",),
    "powershellcore/operational": ("powershell",),
    "windows powershell": ("powershell-classic",),
    "microsoft-windows-printservice/admin": ("printservice-admin",),
    "microsoft-windows-printservice/operational": ("printservice-operational",),
    "security": ("security",),
    "microsoft-windows-security-mitigations/kernel mode": ("security-mitigations",),
    "microsoft-windows-security-mitigations/user mode": ("security-mitigations",),
    "microsoft-windows-sense/operational": ("sense",),
    "microsoft-servicebus-client/operational": ("microsoft-servicebus-client", "servicebus-client"),
    "microsoft-servicebus-client/admin": ("microsoft-servicebus-client", "servicebus-client"),
    "microsoft-windows-shell-core/operational": ("shell-core",),
    "microsoft-windows-smbclient/security": ("smbclient-security",),
    "microsoft-windows-smbclient/connectivity": ("smbclient-connectivity",),
    "microsoft-windows-smbserver/connectivity": ("smbserver-connectivity",),
    SYSMON_CHANNEL: ("sysmon",),
    "system": ("system",),
    "microsoft-windows-taskscheduler/operational": ("taskscheduler",),
    "microsoft-windows-terminalservices-localsessionmanager/operational": (
        "terminalservices-localsessionmanager",
    ),
    "microsoft-windows-vhdmp/operational": ("vhdmp",),
    "microsoft-windows-windows defender/operational": ("windefend",),
    "microsoft-windows-wmi-activity/operational": ("wmi",),
}

# Linux services recognised from the program that wrote the line (`process.name`).
LINUX_PROGRAM_SERVICES: dict[str, tuple[str, ...]] = {
    "sshd": ("sshd", "auth"),
    "sudo": ("sudo", "auth"),
    "su": ("auth",),
    "login": ("auth",),
    "passwd": ("auth",),
    "useradd": ("auth",),
    "userdel": ("auth",),
    "usermod": ("auth",),
    "groupadd": ("auth",),
    "chpasswd": ("auth",),
    "systemd-logind": ("auth",),
    "polkitd": ("auth",),
    "cron": ("cron",),
    "crond": ("cron",),
    "anacron": ("cron",),
    "vsftpd": ("vsftpd",),
    "clamd": ("clamav",),
    "freshclam": ("clamav",),
    "clamav": ("clamav",),
    "guacd": ("guacamole",),
    "guacamole": ("guacamole",),
}

# event.dataset (parser name) -> (product, categories, services). Names of our parsers and
# the common Elastic/Beats dataset names, so events from either classify the same way.
DATASET_SOURCES: dict[str, tuple[str | None, tuple[str, ...], tuple[str, ...]]] = {
    "linux_auth": ("linux", (), ("auth",)),
    "system.auth": ("linux", (), ("auth",)),
    "auth": ("linux", (), ("auth",)),
    "sshd": ("linux", (), ("sshd", "auth")),
    "sudo": ("linux", (), ("sudo", "auth")),
    "pam": ("linux", (), ("auth",)),
    "linux_syslog": ("linux", (), ()),
    "system.syslog": ("linux", (), ()),
    "journald": ("linux", (), ()),
    "auditd": ("linux", (), ("auditd",)),
    "auditd.log": ("linux", (), ("auditd",)),
    "linux_auditd": ("linux", (), ("auditd",)),
    "cron": ("linux", (), ("cron",)),
    "vsftpd": ("linux", (), ("vsftpd",)),
    "clamav": ("linux", (), ("clamav",)),
    "web_access": (None, ("webserver",), ()),
    "apache_access": (None, ("webserver",), ("apache",)),
    "apache.access": (None, ("webserver",), ("apache",)),
    "nginx_access": (None, ("webserver",), ("nginx",)),
    "nginx.access": (None, ("webserver",), ("nginx",)),
    "iis": ("windows", ("webserver",), ("iis",)),
    "apache_error": (None, (), ("apache",)),
    "apache.error": (None, (), ("apache",)),
    "web_error": (None, (), ("apache",)),
    "web_access_syslog": (None, ("webserver",), ()),  # web_access and web_error lines sent through syslog
    "web_error_syslog": (None, (), ("apache",)),
    "nginx_error": (None, (), ("nginx",)),
    "nginx.error": (None, (), ("nginx",)),
    "modsecurity": ("modsecurity", (), ("modsecurity",)),
    "netfilter": (None, ("firewall",), ()),
    "iptables": (None, ("firewall",), ()),
    "ufw": (None, ("firewall",), ()),
    "pfsense": (None, ("firewall",), ()),
    "cisco_asa": ("cisco", ("firewall",), ("asa",)),
    "cisco_asa_line": ("cisco", ("firewall",), ("asa",)),  # the same lines read from a file
    "postgresql": (None, ("database",), ("postgresql",)),
    "mysql": (None, ("database",), ("mysql",)),
    "squid": (None, ("proxy",), ()),
    # application logs (the medical API and friends): `category: application`
    "json_lines": (None, ("application",), ()),
    # Guetteur's own audit trail (api/audit_trail.py): logins and changes on the SIEM itself
    "guetteur.audit": (None, ("application",), ()),
    "python_logging": ("python", ("application",), ()),
    "uvicorn_access": (None, ("webserver", "application"), ("uvicorn",)),
    "gunicorn_access": (None, ("webserver", "application"), ("gunicorn",)),
    "mysql_syslog": (None, ("database",), ("mysql",)),
    "mariadb": (None, ("database",), ("mysql",)),
    "postgresql_csv": (None, ("database",), ("postgresql",)),
    "postgresql_syslog": (None, ("database",), ("postgresql",)),
    "suricata": ("suricata", ("ids",), ("suricata",)),
    "suricata_fast": ("suricata", ("ids",), ("suricata",)),
    "okta": ("okta", (), ("okta",)),
    "cloudtrail": ("aws", (), ("cloudtrail",)),
    "aws.cloudtrail": ("aws", (), ("cloudtrail",)),
}

# Families (event.module) that name a product by themselves.
MODULE_PRODUCTS: dict[str, str] = {"windows": "windows", "linux": "linux", "macos": "macos", "zeek": "zeek"}

# Every (product, category, service) value we can route; a rule outside these can never fire.
KNOWN_PRODUCTS = {"windows", "linux", "zeek", "modsecurity", "cisco", "okta", "aws", "macos", "python", "suricata"}
KNOWN_CATEGORIES_BY_PRODUCT: dict[str | None, set[str]] = {
    "windows": {c for cs in SYSMON_CATEGORIES.values() for c in cs}
    | {c for cs in CHANNEL_EVENT_CATEGORIES.values() for c in cs}
    | {"webserver"},
    "linux": {"process_creation", "file_event", "network_connection"},
    None: {"webserver", "firewall", "database", "proxy", "dns", "process_creation", "application", "ids"},
}


@dataclass(frozen=True, slots=True)
class EventSource:
    """What an event is, in Sigma's log source terms."""

    product: str | None
    categories: tuple[str, ...]
    services: tuple[str, ...]

    def route_keys(self) -> tuple[RouteKey, ...]:
        """Every rule log source this event satisfies (product/category/service or left open)."""
        keys: list[RouteKey] = []
        products: tuple[str | None, ...] = (self.product, None) if self.product else (None,)
        for p in products:
            for c in (*self.categories, None):
                for s in (*self.services, None):
                    if p is None and c is None and s is None:
                        continue
                    keys.append((p, c, s))
        return tuple(keys)


def rule_route_key(logsource: SigmaLogSource) -> RouteKey:
    """The routing key of a rule's log source (lower case; None where the rule is open)."""

    def norm(value: str | None) -> str | None:
        return value.strip().lower() if value else None

    return (norm(logsource.product), norm(logsource.category), norm(logsource.service))


def route_is_mapped(key: RouteKey) -> bool:
    """True when some event we parse can carry this log source (else the rule can never fire)."""
    product, category, service = key
    if product is None and category is None and service is None:
        return False
    if product is not None and product not in KNOWN_PRODUCTS:
        return False
    if category is not None:
        known = KNOWN_CATEGORIES_BY_PRODUCT.get(product, set()) | KNOWN_CATEGORIES_BY_PRODUCT[None]
        if category not in known:
            return False
    if service is not None:
        if product == "windows" or product is None:
            windows_services = {s for ss in WINDOWS_CHANNEL_SERVICES.values() for s in ss}
            other = {s for _, _, ss in DATASET_SOURCES.values() for s in ss}
            if service not in windows_services | other | {"iis"}:
                return False
        elif product == "linux":
            known_linux = {s for ss in LINUX_PROGRAM_SERVICES.values() for s in ss} | {"auditd", "syslog"}
            if service not in known_linux:
                return False
        elif product == "zeek":
            return True
        else:
            other = {s for p, _, ss in DATASET_SOURCES.values() if p == product for s in ss}
            if service not in other:
                return False
    return True


def _as_tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v).lower() for v in value)
    return (str(value).lower(),)


def event_signature(event: Event) -> tuple[object, ...]:
    """The few facts classification depends on; events with equal signatures route alike.

    Cheap enough to compute per event (a handful of dict lookups); the detector caches the
    routing decision per signature. A Windows event with a channel or an event id routes by
    those and its provider alone (`classify`, `engine._key_values`): a 3-tuple, never equal
    to the 7-tuple of other events.
    """
    winlog = event.get("winlog")
    if type(winlog) is dict:
        channel = winlog.get("channel")
        event_id = winlog.get("event_id")
        if channel or event_id:
            return (channel, event_id, winlog.get("provider_name"))
    meta = event.get("event")
    module = dataset = category = etype = None
    if type(meta) is dict:
        module = meta.get("module")
        dataset = meta.get("dataset")
        category = meta.get("category")
        etype = meta.get("type")
        if type(category) is list:
            category = tuple(category)
        if type(etype) is list:
            etype = tuple(etype)
    process = event.get("process")
    pname = process.get("name") if type(process) is dict else None
    return (module, dataset, None, None, pname, category, etype)


def classify(event: Event) -> EventSource:
    """The Sigma product/categories/services of one event (see the module docstring)."""
    # Plain dicts only, as `event_signature` and the field getters read them.
    winlog = event.get("winlog")
    if type(winlog) is dict and (winlog.get("channel") or winlog.get("event_id")):
        return _classify_windows(winlog)
    meta = event.get("event")
    if type(meta) is not dict:
        meta = {}
    module = str(meta.get("module") or "").lower()
    dataset = str(meta.get("dataset") or "").lower()
    product: str | None = MODULE_PRODUCTS.get(module)
    categories: list[str] = []
    services: list[str] = []
    known = DATASET_SOURCES.get(dataset)
    if known is not None:
        product = known[0] or product
        categories.extend(known[1])
        services.extend(known[2])
    elif dataset.startswith("zeek"):
        product = "zeek"
        services.append(dataset.replace("zeek.", "").replace("zeek_", ""))
    process = event.get("process")
    pname = str(process.get("name") or "").lower() if type(process) is dict else ""
    if product == "linux" or module == "linux":
        product = "linux"
        services.extend(LINUX_PROGRAM_SERVICES.get(pname, ()))
        if "auditd" not in services:
            services.append("syslog")
    ecs_categories = _as_tuple(meta.get("category"))
    ecs_types = _as_tuple(meta.get("type"))
    if "process" in ecs_categories and "start" in ecs_types:
        categories.append("process_creation")
    if "web" in ecs_categories and "webserver" not in categories and module == "web":
        categories.append("webserver")
    return EventSource(product, tuple(dict.fromkeys(categories)), tuple(dict.fromkeys(services)))


def _classify_windows(winlog: dict[str, object]) -> EventSource:
    channel = str(winlog.get("channel") or "").lower()
    event_id = str(winlog.get("event_id") or "")
    services = WINDOWS_CHANNEL_SERVICES.get(channel, ())
    categories: tuple[str, ...] = ()
    if channel == SYSMON_CHANNEL:
        categories = SYSMON_CATEGORIES.get(event_id, ())
    else:
        categories = CHANNEL_EVENT_CATEGORIES.get((channel, event_id), ())
    return EventSource("windows", categories, services)


# --- field mapping -------------------------------------------------------------------

# Windows fields outside EventData: the System part of the record.
WINDOWS_SYSTEM_FIELDS: dict[str, tuple[Path, ...]] = {
    "EventID": (("winlog", "event_id"), ("event", "code")),
    "Channel": (("winlog", "channel"),),
    "Provider_Name": (("winlog", "provider_name"),),
    "Computer": (("winlog", "computer_name"), ("host", "name")),
    "Security_UserID": (("winlog", "user", "identifier"),),
    "Level": (("winlog", "system", "Level"), ("winlog", "level")),
    "Task": (("winlog", "task"),),
    "Keywords": (("winlog", "system", "Keywords"), ("winlog", "keywords")),
}

# Security-log (4688 ...) names of Sysmon-taxonomy fields, tried after the Sysmon name.
WINDOWS_ALIASES: dict[str, tuple[str, ...]] = {
    "Image": ("NewProcessName",),
    "CommandLine": ("ProcessCommandLine",),
    "ParentImage": ("ParentProcessName",),
    "User": ("SubjectUserName",),
    "ProcessId": ("NewProcessId",),
    "LogonId": ("SubjectLogonId",),
    "IntegrityLevel": ("MandatoryLabel",),
}

# ECS fallbacks when the original Windows field is absent (events from other shippers).
WINDOWS_ECS: dict[str, tuple[str, ...]] = {
    "Image": ("process.executable",),
    "CommandLine": ("process.command_line",),
    "ParentImage": ("process.parent.executable",),
    "ParentCommandLine": ("process.parent.command_line",),
    "ProcessId": ("process.pid",),
    "ParentProcessId": ("process.parent.pid",),
    "CurrentDirectory": ("process.working_directory",),
    "OriginalFileName": ("process.pe.original_file_name",),
    "User": ("user.name",),
    "TargetFilename": ("file.path",),
    "TargetObject": ("registry.path",),
    "Details": ("registry.data.strings",),
    "ImageLoaded": ("dll.path", "file.path"),
    "DestinationIp": ("destination.ip",),
    "DestinationPort": ("destination.port",),
    "DestinationHostname": ("destination.domain",),
    "SourceIp": ("source.ip",),
    "SourcePort": ("source.port",),
    "SourceHostname": ("source.domain",),
    "QueryName": ("dns.question.name",),
    "IpAddress": ("source.ip",),
    "TargetUserName": ("user.target.name", "user.name"),
    "SubjectUserName": ("user.name",),
    "ServiceName": ("service.name",),
    "Hashes": ("process.hash.sha256",),
}

# Taxonomy -> ECS for non-Windows products, by category/service (the "empty" product's
# generic categories and Linux). Keys are the Sigma field names.
GENERIC_PROCESS: dict[str, tuple[str, ...]] = {
    "Image": ("process.executable",),
    "CommandLine": ("process.command_line", "process.args"),
    "ParentImage": ("process.parent.executable",),
    "ParentCommandLine": ("process.parent.command_line",),
    "ProcessId": ("process.pid",),
    "ParentProcessId": ("process.parent.pid",),
    "CurrentDirectory": ("process.working_directory",),
    "User": ("user.name",),
    "LogonId": ("process.user.id",),
    "TargetFilename": ("file.path",),
    "DestinationIp": ("destination.ip",),
    "DestinationPort": ("destination.port",),
    "DestinationHostname": ("destination.domain",),
    "SourceIp": ("source.ip",),
    "SourcePort": ("source.port",),
    "Initiated": ("network.direction",),
}

WEB_FIELDS: dict[str, tuple[str, ...]] = {
    "c-ip": ("source.ip", "client.ip"),
    "c-uri": ("url.original",),
    "c-uri-query": ("url.query",),
    "c-uri-stem": ("url.path",),
    "c-uri-extension": ("url.extension",),
    "c-useragent": ("user_agent.original",),
    "cs-user-agent": ("user_agent.original",),
    "cs-method": ("http.request.method",),
    "cs-uri": ("url.original",),
    "cs-uri-query": ("url.query",),
    "cs-uri-stem": ("url.path",),
    "cs-referrer": ("http.request.referrer",),
    "cs-host": ("url.domain", "host.name"),
    "cs-version": ("http.version",),
    "cs-username": ("user.name",),
    "cs-cookie": ("http.request.cookie",),
    "cs-content-type": ("http.request.mime_type",),
    "sc-status": ("http.response.status_code",),
    "sc-bytes": ("http.response.body.bytes", "http.response.bytes"),
    "cs-bytes": ("http.request.body.bytes", "http.request.bytes"),
    "r-dns": ("url.domain",),
    "s-ip": ("destination.ip", "server.ip"),
    "dst_ip": ("destination.ip",),
    "src_ip": ("source.ip",),
}

FIREWALL_FIELDS: dict[str, tuple[str, ...]] = {
    "src_ip": ("source.ip",),
    "dst_ip": ("destination.ip",),
    "src_port": ("source.port",),
    "dst_port": ("destination.port",),
    "action": ("event.action",),
    "protocol": ("network.transport",),
}

DNS_FIELDS: dict[str, tuple[str, ...]] = {
    "query": ("dns.question.name",),
    "answer": ("dns.answers.data",),
    "record_type": ("dns.question.type",),
    "QueryName": ("dns.question.name",),
}

AUDITD_FIELDS: dict[str, tuple[str, ...]] = {
    "type": ("auditd.log.record_type", "auditd.message_type", "event.action"),
    "exe": ("process.executable",),
    "comm": ("process.name",),
    "pid": ("process.pid",),
    "ppid": ("process.parent.pid",),
    "cwd": ("process.working_directory",),
    "key": ("auditd.log.key", "tags"),
    "SYSCALL": ("auditd.log.SYSCALL", "auditd.data.syscall"),
    "syscall": ("auditd.log.syscall", "auditd.data.syscall"),
    "name": ("auditd.log.name", "file.path"),
    "uid": ("user.id",),
    "auid": ("user.audit.id",),
}

LINUX_SERVICE_FIELDS: dict[str, tuple[str, ...]] = {
    "pam_user": ("user.name",),
    "pam_rhost": ("source.ip", "source.address"),
    "user": ("user.name",),
    "USER": ("user.name",),
    "TTY": ("process.tty.name",),
    "PWD": ("process.working_directory",),
    "COMMAND": ("process.command_line",),
}

COMMON_FIELDS: dict[str, tuple[str, ...]] = {
    "Computer": ("host.name",),
    "hostname": ("host.name",),
    "message": ("message",),
}


def _split(paths: tuple[str, ...]) -> tuple[Path, ...]:
    return tuple(tuple(p.split(".")) for p in paths)


def field_paths(field: str, key: RouteKey) -> tuple[Path, ...]:
    """Where a rule field lives in our events, in the order to try (the first present wins).

    The returned paths are tuples of keys into the nested event. An empty tuple never
    happens: the field name itself is always tried as a dotted path.
    """
    product, category, service = key
    tried: list[Path] = []
    if product == "windows" or (product is None and category in SYSMON_LIKE_CATEGORIES and service is None):
        if field in WINDOWS_SYSTEM_FIELDS:
            tried.extend(WINDOWS_SYSTEM_FIELDS[field])
        else:
            tried.append(("winlog", "event_data", field))
            tried.extend(("winlog", "event_data", alias) for alias in WINDOWS_ALIASES.get(field, ()))
            # Records whose data is in UserData (WMI-Activity, some Defender events) keep it
            # under winlog.user_data; EventData names with spaces ("Source Name") are
            # written without them in Sigma ("SourceName").
            tried.append(("winlog", "user_data", field))
            tried.append(("winlog", "event_data", NO_SPACE + field))
            tried.extend(_split(WINDOWS_ECS.get(field, ())))
            if category == "webserver":
                tried.extend(_split(WEB_FIELDS.get(field, ())))
    else:
        table: dict[str, tuple[str, ...]] = {}
        if category in {"webserver", "proxy"}:
            table = WEB_FIELDS
        elif category == "firewall":
            table = FIREWALL_FIELDS
        elif category == "dns":
            table = DNS_FIELDS
        elif service == "auditd":
            table = AUDITD_FIELDS
        elif category in SYSMON_LIKE_CATEGORIES:
            table = GENERIC_PROCESS
        elif product == "linux":
            table = LINUX_SERVICE_FIELDS
        tried.extend(_split(table.get(field, ())))
        tried.extend(_split(COMMON_FIELDS.get(field, ())))
        if service == "auditd":
            tried.append(("auditd", "log", field))
            tried.append(("auditd", "data", field))
        if product == "zeek" and service:
            tried.append(("zeek", service, field))
    tried.append(tuple(field.split(".")))
    tried.append(("winlog", "event_data", field))
    return tuple(dict.fromkeys(tried))


SYSMON_LIKE_CATEGORIES = {
    "process_creation",
    "file_event",
    "file_change",
    "file_delete",
    "file_rename",
    "file_access",
    "network_connection",
    "image_load",
    "registry_event",
    "registry_set",
    "registry_add",
    "registry_delete",
    "dns_query",
    "process_access",
    "create_remote_thread",
    "driver_load",
    "pipe_created",
    "process_termination",
}
