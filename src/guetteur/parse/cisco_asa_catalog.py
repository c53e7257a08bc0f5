"""The Cisco ASA message catalogue: per message id, its Elastic categorisation and the
patterns that decode its text (data only; `cisco_asa` compiles and applies them).

`CATEGORIES` maps an id to (`event.action`, `event.category`, `event.type`,
`event.outcome`) as Elastic's cisco_asa pipeline (integration 2.21) writes them;
`BY_VERDICT` overrides it by the message's own verdict word (ACL hits, dynamic filter,
configuration end). `MESSAGES` lists (ids, patterns tried in order, constant groups).

Pattern group names say where a value goes (`cisco_asa._WRITERS`): src/dst/sport/dport
(endpoints), sif/dif (interfaces), proto (network.transport), iana, dir, cid, dur, bytes,
sbytes, dbytes, reason (+reason2 appended), rule, itype/icode, smip/smport/dmip/dmport
(mapped addresses), suser/duser (Cisco user or security group tag), tuser/tinit
(termination), uname (source.user.name), ugroup (source.user.group.name), user
(user.name), srvuser (server.user.name), netproto (network.protocol), nettype, url,
verdict, tls, dap, listed/side, account; `a_x__y` is cisco.asa.x.y and `x_a__b` the ECS
path a.b, as text. Interface names are bounded (`{1,64}`, ASA allows 48) so a long line
of `from`s cannot make a pattern quadratic.
"""

from __future__ import annotations

# -- categorisation ----------------------------------------------------------------------
# id -> (event.action, event.category, event.type, event.outcome), as Elastic's pipeline
# (integration 2.21) writes them; ids not listed keep firewall-rule / network / info.
Categorisation = tuple[str, list[str], list[str], str | None]
_DENIED: Categorisation = ("firewall-rule", ["network"], ["connection", "denied"], "success")
_ALLOWED: Categorisation = ("firewall-rule", ["network"], ["connection", "allowed"], "success")
_LOGGED_IN: Categorisation = ("logged-in", ["authentication", "network"], ["allowed", "info"], "success")
_LOGON_FAILED: Categorisation = ("logon-failed", ["authentication", "network"], ["denied", "info"], "failure")
_FLOW_START: Categorisation = ("flow-creation", ["network"], ["connection", "start"], None)
_FLOW_END: Categorisation = ("flow-expiration", ["network"], ["connection", "end"], None)
_VPN_ERROR: Categorisation = ("client-vpn-error", ["network"], ["connection", "error", "denied"], None)
_IKE_ERROR: Categorisation = ("error", ["network"], ["error"], "failure")
CATEGORIES: dict[str, Categorisation] = {
    **dict.fromkeys(("106001", "106002", "106006", "106007", "106010", "106012", "106013", "106014", "106015",
                     "106016", "106017", "106018", "106020", "106021", "106022", "106023", "106027", "106103",
                     "304002", "313001", "313004", "313008", "313009", "322001", "710003"), _DENIED),
    "110002": ("firewall-rule", ["network"], ["connection", "denied"], "failure"),
    "710005": ("firewall-rule", ["network"], ["connection", "denied"], "failure"),
    **dict.fromkeys(("304001", "605005"), _ALLOWED),
    **dict.fromkeys(("113004", "113008", "113009", "113012", "611101", "734001"), _LOGGED_IN),
    **dict.fromkeys(("113005", "113015", "113021", "605004", "611102", "716039"), _LOGON_FAILED),
    **dict.fromkeys(("302020", "609001"), _FLOW_START),
    **dict.fromkeys(("302014", "302016", "302018", "302021", "302036", "302304", "302306", "305012", "609002"),
                    _FLOW_END),
    **dict.fromkeys(("113029", "113030", "113031", "113032", "113033", "113034", "113035", "113036", "113037",
                     "113038", "113040"), _VPN_ERROR),
    **dict.fromkeys(("713901", "713902", "713904", "713905"), _IKE_ERROR),
    "113019": ("client-vpn-disconnected", ["network"], ["connection", "end"], None),
    "113022": ("server-failed", ["network"], ["info"], "failure"),
    "113023": ("server-active", ["network"], ["info"], "success"),
    "113039": ("client-vpn-connected", ["network", "session"], ["connection", "start"], None),
    "315011": ("ssh-session-ended", ["network"], ["connection", "end"], None),
    "434002": ("drop", ["network"], ["connection", "denied"], "unknown"),
    "434004": ("bypass", ["network"], ["info", "change"], "unknown"),
    "602303": ("created", ["network"], ["connection", "start"], "success"),
    "602304": ("deleted", ["network"], ["info", "deletion", "user"], "success"),
    "611103": ("logged-out", ["authentication", "network"], ["info"], "success"),
    "713120": ("firewall-rule", ["network"], ["info"], "success"),
    "713903": ("firewall-rule", ["network"], ["info"], "failure"),
    "716003": ("firewall-rule", ["authentication", "network"], ["allowed", "info"], "success"),
    "716058": ("client-vpn-disconnected", ["network"], ["connection", "end"], None),
    "716059": ("client-vpn-resumed", ["network"], ["connection", "start"], None),
    "721016": ("client-vpn-connected", ["network"], ["connection", "start"], "success"),
    "721018": ("client-vpn-disconnected", ["network"], ["connection", "end"], "success"),
    "750002": ("connection-started", ["network"], ["start", "connection"], None),
    "750003": ("error", ["network"], ["error"], None),
}
# verdict word of the message -> categorisation (ACL hits, configuration end, dynamic filter)
BY_VERDICT: dict[str, Categorisation] = {
    "permitted": _ALLOWED, "est-allowed": _ALLOWED, "denied": _DENIED,
    "dropped": ("firewall-rule", ["network"], ["connection", "denied"], "failure"),
    "monitored": ("firewall-rule", ["network", "intrusion_detection"], ["info"], "success"),
    "ok": ("firewall-rule", ["network"], ["info"], "success"),
    "failed": ("firewall-rule", ["network"], ["info"], "failure"),
}

# -- message patterns ----------------------------------------------------------------------
def _gui(group_field: str, tail: str, src: str = "src") -> list[str]:
    """`Group <g> User <u> IP <ip> tail` and its bracket-less form."""
    return [rf"^Group <(?P<{group_field}>[^<>]*)> User <(?P<uname>[^<>]*)> IP <(?P<{src}>[^<>]*)>" + tail,
            rf"^Group (?P<{group_field}>\S+) User (?P<uname>\S+) IP (?P<{src}>\S+)" + tail]


_SRC_DST = (r"from (?P<sif>[^:]{1,64}):(?P<src>[^\s/()]+)/(?P<sport>\d+) "
            r"to (?P<dif>[^:]{1,64}):(?P<dst>[^\s/()]+)/(?P<dport>\d+)")
_MAPPED_FLOW = (r"from (?P<sif>[^:]{1,64}):(?P<src>\S+)/(?P<sport>\d+) \((?P<smip>[^/\s]+)/(?P<smport>\d+)\) "
                r"to (?P<dif>[^:]{1,64}):(?P<dst>\S+)/(?P<dport>\d+) \((?P<dmip>[^/\s]+)/(?P<dmport>\d+)\)")
_ACL_FLOW = (r"(?P<sif>[^/\s]+)/(?P<src>[^\s(]+)\((?P<sport>\d+)\).*?-> "
             r"(?P<dif>[^/\s]+)/(?P<dst>[^\s(]+)\((?P<dport>\d+)\)")
_DYNAMIC_FILTER = (r"^Dynamic [Ff]ilter (?P<verdict>\S+) (?:black|white|grey)(?: ?listed)? (?P<proto>\S+) traffic "
                   + _MAPPED_FLOW + r".*?(?P<side>source|destination) .*?resolved from (?P<rule>\S+) list: "
                   r"(?P<listed>[^,]+)(?:, threat-level: (?P<a_threat_level>[^,]+), category: "
                   r"(?P<a_threat_category>.*))?$")

MESSAGES: list[tuple[str, list[str], dict[str, str] | None]] = [
    ("106001", [r"^(?P<dir>\S+) (?P<proto>\S+) connection denied from (?P<src>\S+)/(?P<sport>\d+) to "
                r"(?P<dst>\S+)/(?P<dport>\d+) flags .*? on interface (?P<sif>\S+)"], None),
    ("106002", [r"^(?P<proto>\S+) Connection denied by (?P<dir>\S+) list (?P<rule>\S+) src (?P<src>\S+) "
                r"dest (?P<dst>\S+)"], None),
    ("106006", [r"^Deny (?P<dir>\S+) (?P<proto>\S+) from (?P<src>\S+)/(?P<sport>\d+) to (?P<dst>\S+)/"
                r"(?P<dport>\d+) on interface (?P<sif>\S+)"], None),
    ("106007", [r"^Deny (?P<dir>\S+) (?P<proto>\S+) from (?P<src>\S+)/(?P<sport>\d+) to (?P<dst>\S+)/"
                r"(?P<dport>\d+) due to (?P<netproto>\S+)"], None),
    ("106010 106014", [r"^Deny (?P<dir>\S+) (?:protocol (?P<iana>\d+)|(?P<proto>\S+)) src (?P<sif>[^\s:]+):"
                       r"(?P<src>[^\s/(]+)(?:/(?P<sport>\d+))?(?:\([^)]*\))? .*?dst (?P<dif>[^\s:]+):"
                       r"(?P<dst>[^\s/(]+)(?:/(?P<dport>\d+))?(?:.*?\(type (?P<itype>\d+), code (?P<icode>\d+)\))?"],
     None),
    ("106012", [r"^Deny IP from (?P<src>\S+) to (?P<dst>\S+), (?P<reason>.+)$"], None),
    ("106013", [r"^Dropping echo request from (?P<src>\S+) to PAT address (?P<dst>\S+)"],
     {"proto": "icmp", "dir": "inbound"}),
    ("106015", [r"^Deny (?P<proto>\S+) \S+ \S+ from (?P<src>\S+)/(?P<sport>\d+) to (?P<dst>\S+)/(?P<dport>\d+) "
                r"flags .*? on interface (?P<sif>\S+)"], None),
    ("106016", [r"^Deny IP spoof from \((?P<src>[^)]*)\) to (?P<dst>\S+) on interface (?P<sif>\S+)"], None),
    ("106017", [r"^Deny IP due to Land Attack from (?P<src>\S+) to (?P<dst>\S+)"], None),
    ("106018", [r"^(?P<proto>\S+) packet type (?P<itype>\d+) denied by (?P<dir>\S+) list (?P<rule>\S+) "
                r"src (?P<src>\S+) dest (?P<dst>\S+)"], None),
    ("106020", [r"^Deny IP teardrop fragment \([^)]*\) from (?P<src>\S+) to (?P<dst>\S+)"], None),
    ("106021", [r"^Deny (?P<proto>\S+) reverse path check from (?P<src>\S+) to (?P<dst>\S+) on interface "
                r"(?P<sif>\S+)"], None),
    ("106022", [r"^Deny (?P<proto>\S+) connection spoof from (?P<src>\S+) to (?P<dst>\S+) on interface "
                r"(?P<sif>\S+)"], None),
    ("106023", [r"^Deny (?:protocol (?P<iana>\d+)|(?P<proto>\S+)) src (?P<sif>[^:]{1,64}):(?P<src>[^\s/(]+)"
                r"(?:/(?P<sport>\d+))?\s*(?:\((?P<suser>[^)]*)\)\s*)?dst (?P<dif>[^:]{1,64}):(?P<dst>[^\s/(]+)"
                r"(?:/(?P<dport>\d+))?(?:\([^)]*\))?\s*(?:\(type (?P<itype>\d+), code (?P<icode>\d+)\))?"
                r".*?by access-group \"(?P<rule>[^\"]*)\""], None),
    ("106027", [r"Deny src (?P<src>\S+) dst (?P<dst>\S+) by access-group \"(?P<rule>[^\"]*)\""], None),
    ("106100", [r"^access-list (?P<rule>\S+) (?P<verdict>\S+) (?P<proto>\S+) " + _ACL_FLOW], None),
    ("106102 106103", [r"^access-list (?P<rule>\S+) (?P<verdict>\S+) (?P<proto>\S+) for user (?P<user>\S+) "
                       + _ACL_FLOW], None),
    ("110002", [r"^(?P<reason>.+?) for (?P<proto>\S+) from (?P<sif>[^:]{1,64}):(?P<src>\S+)/(?P<sport>\d+) to "
                r"(?P<dst>\S+)/(?P<dport>\d+)"], None),
    ("111004", [r"^(?P<src>\S+) end configuration: (?P<verdict>\S+)"], None),
    ("111007", [r"^Begin configuration: (?P<src>\S+) "], None),
    ("111009", [r"^\S+ '(?P<srvuser>[^']*)' executed \S+ (?P<a_command_line_arguments>.*)$"], None),
    ("111010", [r"^User '(?P<srvuser>[^']*)', running '[^']*' from IP (?P<src>\S+), executed "
                r"(?P<a_command_line_arguments>'.*')"], None),
    ("113004", [r"^AAA user (?P<a_aaa_type>\S+) Successful\s*: server =\s*(?P<dst>[^\s:,]+)\s*[:,]\s*"
                r"[Uu]ser =\s*(?P<uname>.+?)\s*$"], None),
    ("113005", [r"^AAA user (?P<a_aaa_type>\S+) Rejected\s*: reason = (?P<a_rejection_reason>[^:]*?)\s*: "
                r"server =\s*(?P<dst>[^\s:]+)\s*: [Uu]ser = ?(?P<uname>[^:]*?)\s*: [Uu]ser IP = (?P<src>\S+)"],
     None),
    ("113008", [r"^AAA transaction status ACCEPT\s*: user = (?P<uname>.+)$"], None),
    ("113009", [r"^AAA retrieved default group policy (?P<a_group_policy>\S+) for user (?P<uname>\S+)"], None),
    ("113012", [r"^AAA user authentication Successful\s*: local database\s*: [Uu]ser = (?P<uname>\S+)"], None),
    ("113015", [r"^AAA user authentication Rejected\s*: reason = (?P<a_rejection_reason>.*?)\s*: local database"
                r"\s*: [Uu]ser = (?P<uname>.*?)\s*: [Uu]ser IP = (?P<src>\S+)"], None),
    ("113019", [r"^Group = (?P<ugroup>[^,]*), Username = (?P<uname>[^,]*), IP = (?P<dst>[^,]*), Session "
                r"disconnected\. Session Type: (?P<a_session_type>[^,]*), Duration: (?P<dur>[^,]*), "
                r"Bytes xmt: (?P<sbytes>\d+), Bytes rcv: (?P<dbytes>\d+), Reason: (?P<reason>.*)$"], None),
    ("113021", [r"^Attempted console login failed\. User (?P<uname>\S+) did NOT"], None),
    ("113022 113023", [r"^AAA Marking (?P<netproto>\S+) server (?P<dst>\S+) in aaa-server group"], None),
    ("113029 113030 113031 113032 113033 113034 113035 113036 113038 113039", _gui("ugroup", ""), None),
    ("113040", [r"^Group <(?P<ugroup>[^<>]*)> User <(?P<uname>[^<>]*)> IP <(?P<src>[^<>]*)> Terminating the VPN "
                r"connection attempt from <(?P<a_tunnel_group>[^<>]*)>",
                r"^Terminating the VPN connection attempt from (?P<ugroup>[^.]+)\. Reason"], None),
    ("302010", [r"^(?P<a_connections_in_use>\d+) in use, (?P<a_connections_most_used>\d+) most used"], None),
    ("302022 302024 302026", [r"^Built (?:\S+\s+)?stub (?P<proto>\S+) connection for (?P<sif>[^:]{1,64}):"
                              r"(?P<src>[^\s/]+)/(?P<sport>\d+) .*?to (?P<dif>[^:]{1,64}):(?P<dst>[^\s/]+)/(?P<dport>\d+)"],
     None),
    ("302023 302025 302027", [r"^Teardown stub (?P<proto>\S+) connection for " + _SRC_DST[5:]
                              + r" duration (?P<dur>\S+) forwarded bytes (?P<bytes>\d+) ?(?P<reason>.*)$"], None),
    ("303002", [r"^(?P<netproto>\S+) connection " + _SRC_DST + r", user (?P<x_client__user__name>\S+) .*?file "
                r"(?P<x_file__path>.*)$"], None),
    ("304001", [r"^(?:(?P<uname>[^\s@]+)@)?(?P<src>[^\s(@]+)(?:\([^)]*\))? .*? (?:[^\s@]+@)?(?P<dst>[^\s:@]+):"
                r"(?P<url>\S.*)$"], None),
    ("304002", [r"^Access denied URL (?P<url>\S+) SRC (?P<src>\S+) .*?EST (?P<dst>\S+) on interface (?P<sif>\S+)"],
     None),
    ("305011", [r"^Built \S+ (?P<proto>\S+) translation from (?P<sif>[^\s:]+):(?P<src>[^\s/]+)/(?P<sport>\d+)"
                r"(?:\((?P<uname>[^)]*)\))? to (?P<dif>[^\s:]+):(?P<dst>[^\s/]+)/(?P<dport>\d+)"], None),
    ("305012", [r"^Teardown .*?(?P<proto>\S+) translation from (?P<sif>[^:]{1,64}):(?P<src>[^\s/]+)/(?P<sport>\d+)"
                r"(?:\s*\((?P<suser>[^)]*)\))? to (?P<dif>[^:]{1,64}):(?P<dst>[^\s/]+)/(?P<dport>\d+)"
                r"(?: duration (?P<dur>\S+))?"], None),
    ("313001 313008", [r"^Denied (?P<proto>\S+) type=(?P<itype>\d+), code=(?P<icode>\d+) from (?P<src>\S+) on "
                       r"interface (?P<sif>\S+)"], None),
    ("313004", [r"^Denied (?P<proto>\S+) type=(?P<itype>\d+), from\s*\S*addr (?P<src>\S+) on interface "
                r"(?P<sif>\S+) to (?P<dst>\S+): no matching session"], None),
    ("313005", [r"^No matching connection for ICMP error message: (?P<proto>\S+) src (?P<sif>[^:]{1,64}):[^\s(]+"
                r"(?:\((?P<account>[^)]*)\))? dst (?P<dif>[^:]{1,64}):\S+ \(type (?P<itype>\d+), code (?P<icode>\d+)\) "
                r"on .*?interface\.\s*Original IP payload: (?:(?:protocol (?P<a_original_iana_number>\d+)|\S+) "
                r"src (?P<src>[^\s/]+)(?:/(?P<sport>\d+))? dst (?P<dst>[^\s/]+?)(?:/(?P<dport>\d+))?"
                r"(?: \(type \d+, code \d+\))?\.?\s*$)?"], None),
    ("313009", [r"^Denied invalid (?P<proto>\S+) code (?P<icode>\d+), for " + _MAPPED_FLOW[5:]], None),
    ("315011", [r"^SSH session from (?P<src>\S+) on interface (?P<sif>\S+) for user (?P<uname>\S+) disconnected "
                r"by SSH server, reason: (?P<reason>.*)$"], None),
    ("322001", [r"^Deny MAC address (?P<x_source__mac>[^,\s]+), possible spoof attempt on interface (?P<sif>\S+)"],
     None),
    ("338001 338002 338003 338004 338005 338006 338007 338008 338101 338102 338103 338104 338201 338202 "
     "338203 338204", [_DYNAMIC_FILTER], None),
    ("338301", [r"^Intercepted DNS reply for domain (?P<x_source__domain>\S+) " + _SRC_DST
                + r", matched (?P<rule>\S+)"], None),
    ("419002", [r"^(?P<reason>.*?)from (?P<sif>[^:]{1,64}):(?P<src>\S+)/(?P<sport>\d+) to (?P<dif>[^:]{1,64}):"
                r"(?P<dst>\S+)/(?P<dport>\d+) ?(?P<reason2>.*)$"], {"proto": "tcp"}),
    ("425005", [r"^Interface (?P<a_interface_name>\S+) become active in redundant interface "
                r"(?P<a_redundant_interface_name>\S+)"], None),
    ("434002", [r"^SFR requested to drop (?P<proto>\S+) packet " + _SRC_DST], None),
    ("434004", [r"^SFR requested \S+ to bypass further packet redirection and process (?P<proto>\S+) flow "
                + _SRC_DST], None),
    ("502103", [r"^User priv level changed: Uname: (?P<srvuser>\S+) From: (?P<a_privilege__old>\S+) To: "
                r"(?P<a_privilege__new>\S+)"], None),
    ("507003", [r"^(?P<proto>\S+) flow " + _SRC_DST + r" terminated by inspection engine, reason - "
                r"(?P<reason>.*)$"], None),
    ("602303 602304", [r"^(?P<nettype>[^:]+): An (?P<dir>\S+) (?P<a_tunnel_type>\S+) SA \(SPI= [^)]*\) between "
                       r"(?P<src>\S+) and (?P<dst>\S+) \(user= (?P<user>[^)]*)\)"], None),
    ("607001", [r"^Pre-allocate SIP (?P<a_connection_type>.+?) secondary channel for (?P<dif>[^:]{1,64}):"
                r"(?P<dst>\S+)/(?P<dport>\d+) to (?P<sif>[^:]{1,64}):(?P<src>\S+) from (?P<a_message>\S+) message"], None),
    ("609001", [r"^Built local-host (?P<sif>[^:]{1,64}):(?P<src>\S+)"], None),
    ("609002", [r"^Teardown local-host (?P<sif>[^:]{1,64}):(?P<src>\S+) duration (?P<dur>\S+)"], None),
    ("611103", [r"^User logged out: Uname: (?P<user>.+)$"], None),
    ("710003", [r"^(?P<proto>\S+) access denied by ACL from (?P<src>\S+)/(?P<sport>\d+) to (?P<dif>[^:]{1,64}):"
                r"(?P<dst>\S+)/(?P<dport>\d+)"], None),
    ("710005", [r"^(?P<proto>\S+) request discarded from (?P<src>\S+)/(?P<sport>\d+) to (?P<dif>[^:]{1,64}):"
                r"(?P<dst>\S+)/(?P<dport>\d+)"], None),
    ("713049", [r"^Group = [^,]*, Username = (?P<user>[^,\s]+), IP = (?P<src>[^,\s]+), Security negotiation",
                r"^Group = [^,]*, IP = (?P<src>[^,\s]+), Security negotiation"], None),
    ("713120", [r"^Group = [^,]*, IP = (?P<src>[^,\s]+), (?P<reason>.*?) \(msgid=(?P<x_event__id>[^)]*)\)"], None),
    ("713202", [r"^IP = (?P<src>[^,\s]+), (?P<reason>.*?)\. .*packet\."], None),
    ("713901 713902 713903 713904 713905 713906", [
        r"^(?:Group = [\d.:a-fA-F]+, )?(?:IP = (?P<src>[^,\s]+), )?(?P<reason>.*)$"], None),
    ("716002", _gui("a_webvpn__group_name", r" WebVPN session terminated: (?P<reason>.*)\.$"), None),
    ("716003", _gui("a_webvpn__group_name", r" WebVPN access GRANTED: \"?(?P<url>[^\"]*)\"?$"), None),
    ("716039", [r"^Authentication: rejected, group = (?P<ugroup>\S+) user = (?P<uname>\S+) , Session Type: "
                r"(?P<a_session_type>[^\s.]+)"]
     + _gui("ugroup", r" Authentication: rejected, Session Type: (?P<a_session_type>[^\s.]+)"), None),
    ("716058", _gui("a_webvpn__group_name", ""), None),
    ("716059", [r"^Group <(?P<a_webvpn__group_name>[^<>]*)> User(?: <(?P<uname>[^<>]*)>)? IP <(?P<dst>[^<>]*)> "
                r"AnyConnect session resumed[. ]+[Cc]onnection from(?: IP)? <(?P<src>[^<>\s]+)>",
                r"^Group (?P<a_webvpn__group_name>\S+) User(?: (?P<uname>\S+))? IP (?P<dst>\S+) AnyConnect session "
                r"resumed[. ]+[Cc]onnection from(?: IP)? (?P<src>[^\s]+?)\.?$"], None),
    ("721016 721018", [r"^\((?P<a_device_type>[^)]*)\) WebVPN session for client user (?P<uname>[^,]*), IP\S* "
                       r"(?P<dst>\S+) has been"], None),
    ("722011 722037", _gui("ugroup", r" SVC (?:Message|closing connection): (?P<reason>.*?)\.?$"), None),
    ("722022 722023 722028 722032", _gui("ugroup", r" (?P<reason>.*)$"), None),
    ("722033 722034", _gui("ugroup", r" (?:First|New) (?P<proto>TCP|UDP|DTLS|TLS) SVC connection"), None),
    ("722051", _gui("ugroup", r" IPv4 Address <(?P<a_assigned_ip>[^<>]*)>")
     + _gui("ugroup", r" (?P<reason>.*)$"), None),
    ("722055", _gui("ugroup", r" Client Type: (?P<x_user_agent__original>.*)$"), None),
    ("725001", [r"^Starting SSL handshake with (?P<a_peer_type>\S+) (?P<sif>[^:]{1,64}):(?P<src>\S+)/(?P<sport>\d+) "
                r"(?:to (?P<dst>\S+)/(?P<dport>\d+) )?for (?P<tls>\S+) session"], None),
    ("725002", [r"^Device completed SSL handshake with (?P<a_peer_type>\S+) (?P<sif>[^:]{1,64}):(?P<src>\S+)/"
                r"(?P<sport>\d+) to (?P<dst>\S+)/(?P<dport>\d+) for (?P<tls>\S+)"], None),
    ("725007", [r"^SSL session with (?P<a_peer_type>\S+) (?P<sif>[^:]{1,64}):(?P<src>\S+)/(?P<sport>\d+) to "
                r"(?P<dst>\S+)/(?P<dport>\d+) terminated"], None),
    ("725016", [r"^Device selects trust-point (?P<a_trustpoint>.*?) for (?P<a_peer_type>\S+) (?P<sif>[^:]{1,64}):"
                r"(?P<src>\S+)/(?P<sport>\d+) to (?P<dst>\S+)/(?P<dport>\d+)$"], None),
    ("733100", [r"^\[\s*(?P<a_burst__object>[^\]]*?)\] drop (?P<a_burst__id>\S+) exceeded\. Current burst rate is "
                r"(?P<a_burst__current_rate>-?\d+) per second, max configured rate is "
                r"(?P<a_burst__configured_rate>-?\d+); Current average rate is (?P<a_burst__avg_rate>-?\d+) per "
                r"second, max configured rate is (?P<a_burst__configured_avg_rate>-?\d+); Cumulative total count "
                r"is (?P<a_burst__cumulative_count>-?\d+)"], None),
    ("734001", [r"^DAP: User (?P<x_user__email>[^,]+), Addr (?P<src>[^,\s]+), Connection (?P<a_connection_type>"
                r"[^:]+): The following DAP records were selected for this connection: (?P<dap>.*)$"], None),
    ("737003 737006 737016 737026 737034", [
        r"^IPAA: (?:Session=(?P<a_session_id>[^,\s]+), )?(?:DHCP configured, no viable servers found for "
        r"tunnel-group (?P<a_tunnel_group>\S+)$|Local pool request succeeded for tunnel-group "
        r"(?P<a_tunnel_group2>\S+)$|Freeing local pool (?P<a_pool_name>\S+) address (?P<a_pool_address>\S+)$|"
        r"Client assigned (?P<a_pool_address2>\S+) from local pool (?P<a_pool_name2>\S+)$|(?P<reason>.+)$)"], None),
    ("750002", [r"^Local:(?P<src>\S+):(?P<sport>\d+) Remote:(?P<dst>\S+):(?P<dport>\d+) Username:(?P<user>\S+) "
                r"(?P<reason>.*)$"], None),
    ("750003", [r"^Local:(?P<src>\S+):(?P<sport>\d+) Remote:(?P<dst>\S+):(?P<dport>\d+) Username:(?P<user>\S+) "
                r"(?P<reason>.*?) ERROR:(?P<reason2>.*)$"], None),
    ("805001", [r"^Offloaded (?P<proto>\S+) Flow for connection (?P<cid>\S+) " + _MAPPED_FLOW], None),
    ("805002", [r"^(?P<proto>\S+) Flow is no longer offloaded for connection (?P<cid>\S+) " + _MAPPED_FLOW], None),
]
