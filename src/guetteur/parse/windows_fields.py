"""Lookup tables for Windows events: what each event id means in ECS terms.

Plain data, no logic: `windows_ecs` reads these. Categories, types and action names
follow Elastic's Windows integrations (system/security, windows/sysmon_operational,
windows/powershell) so that dashboards and rules written for Elastic find the same
values here. Facts about Windows codes (logon types, NTSTATUS texts, Kerberos result
codes) come from Microsoft's auditing documentation.
"""

from __future__ import annotations

# (event.category, event.type, event.action) per Security event id.
_IAM_USER_CHANGE = (("iam",), ("user", "change"))
_IAM_GROUP_CHANGE = (("iam",), ("group", "change"))
_IAM_GROUP_CREATE = (("iam",), ("group", "creation"))
_IAM_GROUP_DELETE = (("iam",), ("group", "deletion"))

SECURITY: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "1100": (("process",), ("end",), "logging-service-shutdown"),
    "1102": (("iam",), ("admin", "change"), "audit-log-cleared"),
    "1104": (("iam",), ("admin",), "logging-full"),
    "4616": (("configuration",), ("change",), "system-time-changed"),
    "4624": (("authentication",), ("start",), "logged-in"),
    "4625": (("authentication",), ("start",), "logon-failed"),
    "4634": (("authentication",), ("end",), "logged-out"),
    "4647": (("authentication",), ("end",), "logged-out"),
    "4648": (("authentication",), ("start",), "logged-in-explicit"),
    "4656": (("file",), ("access",), "object-handle-requested"),
    "4657": (("registry", "configuration"), ("change",), "registry-value-modified"),
    "4662": (("iam",), ("info",), "object-operation-performed"),
    "4663": (("file",), ("access",), "object-access-attempted"),
    "4670": (("iam", "configuration"), ("admin", "change"), "permissions-changed"),
    "4672": (("iam",), ("admin",), "logged-in-special"),
    "4673": (("iam",), ("admin",), "privileged-service-called"),
    "4674": (("iam",), ("admin",), "privileged-operation"),
    "4688": (("process",), ("start",), "created-process"),
    "4689": (("process",), ("end",), "exited-process"),
    "4697": (("iam", "configuration"), ("admin", "change"), "service-installed"),
    "4698": (("iam", "configuration"), ("creation", "admin"), "scheduled-task-created"),
    "4699": (("iam", "configuration"), ("deletion", "admin"), "scheduled-task-deleted"),
    "4700": (("iam", "configuration"), ("change", "admin"), "scheduled-task-enabled"),
    "4701": (("iam", "configuration"), ("change", "admin"), "scheduled-task-disabled"),
    "4702": (("iam", "configuration"), ("change", "admin"), "scheduled-task-updated"),
    "4719": (("iam", "configuration"), ("admin", "change"), "changed-audit-config"),
    "4720": (("iam",), ("user", "creation"), "added-user-account"),
    "4722": (*_IAM_USER_CHANGE, "enabled-user-account"),
    "4723": (*_IAM_USER_CHANGE, "changed-password"),
    "4724": (*_IAM_USER_CHANGE, "reset-password"),
    "4725": (("iam",), ("user", "deletion"), "disabled-user-account"),
    "4726": (("iam",), ("user", "deletion"), "deleted-user-account"),
    "4727": (*_IAM_GROUP_CREATE, "added-group-account"),
    "4728": (*_IAM_GROUP_CHANGE, "added-member-to-group"),
    "4729": (*_IAM_GROUP_CHANGE, "removed-member-from-group"),
    "4730": (*_IAM_GROUP_DELETE, "deleted-group-account"),
    "4731": (*_IAM_GROUP_CREATE, "added-group-account"),
    "4732": (*_IAM_GROUP_CHANGE, "added-member-to-group"),
    "4733": (*_IAM_GROUP_CHANGE, "removed-member-from-group"),
    "4734": (*_IAM_GROUP_DELETE, "deleted-group-account"),
    "4735": (*_IAM_GROUP_CHANGE, "modified-group-account"),
    "4737": (*_IAM_GROUP_CHANGE, "modified-group-account"),
    "4738": (*_IAM_USER_CHANGE, "modified-user-account"),
    "4740": (*_IAM_USER_CHANGE, "locked-out-user-account"),
    "4741": (("iam",), ("creation", "admin"), "added-computer-account"),
    "4742": (("iam",), ("change", "admin"), "changed-computer-account"),
    "4743": (("iam",), ("deletion", "admin"), "deleted-computer-account"),
    "4754": (*_IAM_GROUP_CREATE, "added-group-account"),
    "4755": (*_IAM_GROUP_CHANGE, "modified-group-account"),
    "4756": (*_IAM_GROUP_CHANGE, "added-member-to-group"),
    "4757": (*_IAM_GROUP_CHANGE, "removed-member-from-group"),
    "4758": (*_IAM_GROUP_DELETE, "deleted-group-account"),
    "4767": (*_IAM_USER_CHANGE, "unlocked-user-account"),
    "4768": (("authentication",), ("start",), "kerberos-authentication-ticket-requested"),
    "4769": (("authentication",), ("start",), "kerberos-service-ticket-requested"),
    "4770": (("authentication",), ("start",), "kerberos-service-ticket-renewed"),
    "4771": (("authentication",), ("start",), "kerberos-preauth-failed"),
    "4776": (("authentication",), ("start",), "credential-validated"),
    "4778": (("authentication", "session"), ("start",), "session-reconnected"),
    "4779": (("authentication", "session"), ("end",), "session-disconnected"),
    "4781": (*_IAM_USER_CHANGE, "renamed-user-account"),
    "4798": (("iam",), ("user", "info"), "group-membership-enumerated"),
    "4799": (("iam",), ("group", "info"), "user-member-enumerated"),
    "4964": (("iam",), ("admin", "group"), "logged-in-special"),
    "5140": (("network", "file"), ("info", "access"), "network-share-object-accessed"),
    "5145": (("network", "file"), ("info", "access"), "network-share-object-access-checked"),
    "5156": (("network",), ("connection", "allowed"), "windows-filtering-platform-connection-allowed"),
    "5158": (("network",), ("connection", "allowed"), "windows-filtering-platform-bind-permitted"),
}

# Sysmon: (category, type, action). The action is Sysmon's own task name, as Elastic keeps it.
SYSMON: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "1": (("process",), ("start",), "Process Create (rule: ProcessCreate)"),
    "2": (("file",), ("change",), "File creation time changed (rule: FileCreateTime)"),
    "3": (("network",), ("start", "connection", "protocol"), "Network connection detected (rule: NetworkConnect)"),
    "4": (("process",), ("change",), "Sysmon service state changed"),
    "5": (("process",), ("end",), "Process terminated (rule: ProcessTerminate)"),
    "6": (("driver",), ("start",), "Driver loaded (rule: DriverLoad)"),
    "7": (("process",), ("change",), "Image loaded (rule: ImageLoad)"),
    "8": (("process",), ("change",), "CreateRemoteThread detected (rule: CreateRemoteThread)"),
    "9": (("process",), ("access",), "RawAccessRead detected (rule: RawAccessRead)"),
    "10": (("process",), ("access",), "Process accessed (rule: ProcessAccess)"),
    "11": (("file",), ("creation",), "File created (rule: FileCreate)"),
    "12": (("configuration", "registry"), ("change",), "Registry object added or deleted (rule: RegistryEvent)"),
    "13": (("configuration", "registry"), ("change",), "Registry value set (rule: RegistryEvent)"),
    "14": (("configuration", "registry"), ("change",), "Registry object renamed (rule: RegistryEvent)"),
    "15": (("file",), ("creation",), "File stream created (rule: FileCreateStreamHash)"),
    "16": (("configuration",), ("change",), "Sysmon config state changed"),
    "17": (("file",), ("creation",), "Pipe Created (rule: PipeEvent)"),
    "18": (("file",), ("access",), "Pipe Connected (rule: PipeEvent)"),
    "19": (("process",), ("change",), "WmiEventFilter activity detected (rule: WmiEvent)"),
    "20": (("process",), ("change",), "WmiEventConsumer activity detected (rule: WmiEvent)"),
    "21": (("process",), ("change",), "WmiEventConsumerToFilter activity detected (rule: WmiEvent)"),
    "22": (("network",), ("connection", "protocol", "info"), "Dns query (rule: DnsQuery)"),
    "23": (("file",), ("deletion",), "File Delete archived (rule: FileDelete)"),
    "24": (("host",), ("change",), "Clipboard changed (rule: ClipboardChange)"),
    "25": (("process",), ("change",), "Process Tampering (rule: ProcessTampering)"),
    "26": (("file",), ("deletion",), "File Delete logged (rule: FileDeleteDetected)"),
    "27": (("file",), ("denied",), "File Block Executable (rule: FileBlockExecutable)"),
    "28": (("file",), ("denied",), "File Block Shredding (rule: FileBlockShredding)"),
    "29": (("file",), ("creation",), "File Executable Detected (rule: FileExecutableDetected)"),
    "255": (("process",), ("error",), "Error report"),
}

# System channel (Service Control Manager, Eventlog).
SYSTEM: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "104": (("iam",), ("admin", "change"), "audit-log-cleared"),
    "7034": (("process",), ("end",), "service-crashed"),
    "7036": (("process",), ("change",), "service-state-changed"),
    "7040": (("configuration",), ("change",), "service-start-type-changed"),
    "7045": (("configuration",), ("creation",), "service-installed"),
}

POWERSHELL: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "400": (("process",), ("start",), "Engine Lifecycle"),
    "403": (("process",), ("end",), "Engine Lifecycle"),
    "600": (("process",), ("info",), "Provider Lifecycle"),
    "800": (("process",), ("info",), "Pipeline Execution Details"),
    "4103": (("process",), ("info",), "Executing Pipeline"),
    "4104": (("process",), ("info",), "Execute a Remote Command"),
    "4105": (("process",), ("start",), "Starting Command"),
    "4106": (("process",), ("end",), "Stopping Command"),
}

# Who the event is about, by Security event id (Elastic's rules, see docs/formats-windows-network.md).
SUBJECT_IS_USER = frozenset(
    "1102 4657 4662 4663 4656 4670 4672 4673 4674 4688 4689 4697 4698 4699 4700 4701 4702 4706 4707 "
    "4713 4716 4717 4718 4719 4720 4722 4723 4724 4725 4726 4727 4728 4729 4730 4731 4732 4733 4734 "
    "4735 4737 4738 4739 4740 4741 4742 4743 4744 4745 4746 4747 4748 4749 4750 4751 4752 4753 4754 "
    "4755 4756 4757 4758 4759 4760 4761 4762 4763 4764 4767 4781 4798 4799 4817 4904 4905 4907 4912 "
    "4648 5140 5145".split()
)
TARGET_IS_USER = frozenset("4624 4625 4634 4647 4648 4768 4769 4770 4771 4776 4964".split())
TARGET_IS_TARGET = frozenset("4670 4720 4722 4723 4724 4725 4726 4738 4740 4767 4798 4817 4907".split())
TARGET_IS_EFFECTIVE = frozenset(("4648", "4688"))
GROUP_MEMBERSHIP = frozenset(
    "4727 4728 4729 4730 4731 4732 4733 4734 4735 4737 4744 4745 4746 4747 4748 4749 4750 4751 4752 "
    "4753 4754 4755 4756 4757 4758 4759 4760 4761 4762 4763 4764 4799".split()
)
LOGON_ID_FROM_TARGET = frozenset(("4624", "4634", "4647", "4964"))
KERBEROS = frozenset(("4768", "4769", "4770", "4771"))

LOGON_TYPES = {
    "0": "System", "2": "Interactive", "3": "Network", "4": "Batch", "5": "Service",
    "7": "Unlock", "8": "NetworkCleartext", "9": "NewCredentials", "10": "RemoteInteractive",
    "11": "CachedInteractive", "12": "CachedRemoteInteractive", "13": "CachedUnlock",
}

# NTSTATUS codes seen in 4625 / 4776 Status and SubStatus (Microsoft, event 4625 page).
LOGON_STATUS = {
    "0xc000005e": "There are currently no logon servers available to service the logon request.",
    "0xc0000064": "User logon with misspelled or bad user account",
    "0xc000006a": "User logon with misspelled or bad password",
    "0xc000006d": "This is either due to a bad username or authentication information",
    "0xc000006e": "Unknown user name or bad password.",
    "0xc000006f": "User logon outside authorized hours",
    "0xc0000070": "User logon from unauthorized workstation",
    "0xc0000071": "User logon with expired password",
    "0xc0000072": "User logon to account disabled by administrator",
    "0xc00000dc": "Indicates the Sam Server was in the wrong state to perform the desired operation.",
    "0xc0000133": "Clocks between DC and other computer too far out of sync",
    "0xc000015b": "The user has not been granted the requested logon type (aka logon right) at this machine",
    "0xc000018c": "The logon request failed because the trust relationship between the primary domain "
                  "and the trusted domain failed.",
    "0xc0000192": "An attempt was made to logon, but the Netlogon service was not started.",
    "0xc0000193": "User logon with expired account",
    "0xc0000224": "User is required to change password at next logon",
    "0xc0000225": "Evidently a bug in Windows and not a risk",
    "0xc0000234": "User logon with account locked",
    "0xc00002ee": "Failure Reason: An Error occurred during Logon",
    "0xc0000413": "Logon Failure: The machine you are logging onto is protected by an authentication "
                  "firewall. The specified account is not allowed to authenticate to the machine.",
    "0xc0000371": "The local account store does not contain secret material for the specified account",
    "0x0": "Status OK.",
}

# %%2304.. message-table texts used by 4625 FailureReason.
FAILURE_REASONS = {
    "2304": "An Error occured during Logon.",
    "2305": "The specified user account has expired.",
    "2306": "The NetLogon component is not active.",
    "2307": "Account locked out.",
    "2308": "The user has not been granted the requested logon type at this machine.",
    "2309": "The specified account's password has expired.",
    "2310": "Account currently disabled.",
    "2311": "Account logon time restriction violation.",
    "2312": "User not allowed to logon at this computer.",
    "2313": "Unknown user name or bad password.",
    "2314": "Domain sid inconsistent.",
    "2315": "Smartcard logon is required and was not used.",
}

KERBEROS_STATUS = {
    "0x0": "KDC_ERR_NONE", "0x6": "KDC_ERR_C_PRINCIPAL_UNKNOWN", "0x7": "KDC_ERR_S_PRINCIPAL_UNKNOWN",
    "0xc": "KDC_ERR_POLICY", "0xe": "KDC_ERR_ETYPE_NOTSUPP", "0x12": "KDC_ERR_CLIENT_REVOKED",
    "0x17": "KDC_ERR_KEY_EXPIRED", "0x18": "KDC_ERR_PREAUTH_FAILED", "0x19": "KDC_ERR_PREAUTH_REQUIRED",
    "0x1f": "KRB_AP_ERR_BAD_INTEGRITY", "0x20": "KRB_AP_ERR_TKT_EXPIRED", "0x25": "KRB_AP_ERR_SKEW",
    "0x3c": "KRB_ERR_GENERIC",
}

KERBEROS_ENCRYPTION = {
    "0x1": "DES-CBC-CRC", "0x3": "DES-CBC-MD5", "0x11": "AES128-CTS-HMAC-SHA1-96",
    "0x12": "AES256-CTS-HMAC-SHA1-96", "0x17": "RC4-HMAC", "0x18": "RC4-HMAC-EXP", "0xffffffff": "FAIL",
}

SERVICE_TYPES = {
    "0x1": "Kernel Driver", "0x2": "File System Driver", "0x8": "Recognizer Driver",
    "0x10": "Win32 Own Process", "0x20": "Win32 Share Process", "0x110": "Interactive Own Process",
    "0x120": "Interactive Share Process",
    # 7045 writes the type as text already
}

# System/Level values as Elastic renders them (winlog.level).
LEVELS = {"0": "information", "1": "critical", "2": "error", "3": "warning", "4": "information", "5": "verbose"}
OPCODES = {"0": "Info", "1": "Start", "2": "Stop", "3": "DCStart", "4": "DCStop", "7": "Resume", "8": "Suspend"}

# Security audit subcategories by Task number (the rendered winlog.task).
SECURITY_TASKS = {
    "12288": "Security State Change", "12289": "Security System Extension", "12290": "System Integrity",
    "12292": "Other System Events", "12544": "Logon", "12545": "Logoff", "12546": "Account Lockout",
    "12548": "Special Logon", "12551": "Other Logon/Logoff Events", "12554": "Group Membership",
    "12800": "File System", "12801": "Registry", "12802": "Kernel Object", "12803": "SAM",
    "12804": "Other Object Access Events", "12807": "Handle Manipulation", "12808": "File Share",
    "12810": "Filtering Platform Connection", "12811": "Detailed File Share",
    "13056": "Sensitive Privilege Use", "13057": "Non Sensitive Privilege Use", "13312": "Process Creation",
    "13313": "Process Termination", "13568": "Audit Policy Change", "13569": "Authentication Policy Change",
    "13824": "User Account Management", "13825": "Computer Account Management",
    "13826": "Security Group Management", "13829": "Other Account Management Events",
    "14080": "Directory Service Access", "14081": "Directory Service Changes", "14336": "Credential Validation",
    "14337": "Kerberos Service Ticket Operations", "14338": "Other Account Logon Events",
    "14339": "Kerberos Authentication Service", "104": "Log clear",
}

# Standard event keywords (high byte of System/Keywords), names as Windows renders them.
KEYWORDS = (
    (0x0020000000000000, "Audit Success"),
    (0x0010000000000000, "Audit Failure"),
    (0x0080000000000000, "Classic"),
    (0x0040000000000000, "Correlation Hint"),
)
AUDIT_SUCCESS = 0x0020000000000000
AUDIT_FAILURE = 0x0010000000000000

REGISTRY_HIVES = {
    "HKLM": "HKLM", "HKEY_LOCAL_MACHINE": "HKLM", "HKU": "HKU", "HKEY_USERS": "HKU",
    "HKCU": "HKCU", "HKEY_CURRENT_USER": "HKCU", "HKCR": "HKCR", "HKEY_CLASSES_ROOT": "HKCR",
    "HKCC": "HKCC", "HKEY_CURRENT_CONFIG": "HKCC",
}

REGISTRY_DATA_TYPES = {
    "DWORD": "SZ_DWORD", "QWORD": "SZ_QWORD", "Binary Data": "REG_BINARY",
}

# Fields of Winlogbeat/NXLog flattened exports that describe the record, not its EventData.
FLAT_METADATA = frozenset((
    "@timestamp", "@version", "AccountName", "AccountType", "Category", "Channel", "Domain",
    "EventID", "EventReceivedTime", "EventTime", "EventType", "ExecutionProcessID", "Hostname",
    "Keywords", "Level", "Message", "Opcode", "OpcodeValue", "ProviderGuid", "RecordNumber",
    "Severity", "SeverityValue", "SourceModuleName", "SourceModuleType", "SourceName", "Task",
    "ThreadID", "TimeCreated", "UserID", "Version", "host", "port", "tags", "EventTypeOrignal",
    "ERROR_EVT_UNRESOLVED", "ActivityID", "RelatedActivityID", "type", "beat", "log_name",
    "source_name", "computer_name", "record_number", "event_id", "thread_id", "process_id",
    # Azure Log Analytics (SecurityEvent / WindowsEvent)
    "TenantId", "SourceSystem", "TimeGenerated", "Computer", "EventSourceName", "Activity",
    "SourceComputerId", "EventOriginId", "MG", "TimeCollected", "ManagementGroupName",
    "_ResourceId", "EventData", "Provider", "EventLevel", "EventLevelName", "Account",
    "EventDataXml",
))
# `Type` is EventData in some Security events (5379) but the table name in Azure exports.
AZURE_TYPES = frozenset(("SecurityEvent", "WindowsEvent", "Event", "Syslog"))
