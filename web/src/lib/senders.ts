// Ready-to-copy sender configurations for this server (Sources page).

export interface SenderTarget {
  host: string;
  syslogPort: number;
  apiUrl: string;
  key: string;
}

export interface SenderConfig {
  id: string;
  title: string;
  path?: string;
  text: string;
}

export function senderConfigs({ host, syslogPort, apiUrl, key }: SenderTarget): SenderConfig[] {
  return [
    {
      id: "rsyslog",
      title: "rsyslog",
      path: "/etc/rsyslog.d/90-guetteur.conf",
      text: [
        "# every message, over TCP with a queue on disk (nothing lost while Guetteur restarts)",
        `*.* action(type="omfwd" target="${host}" port="${syslogPort}" protocol="tcp"`,
        '       template="RSYSLOG_SyslogProtocol23Format" TCP_Framing="octet-counted"',
        '       queue.type="LinkedList" queue.filename="guetteur" queue.saveOnShutdown="on"',
        '       action.resumeRetryCount="-1")',
      ].join("\n"),
    },
    {
      id: "curl",
      title: "curl",
      text: [
        "# one event per line; the answer says how many were accepted",
        `curl -sS -X POST '${apiUrl}/api/v1/ingest' \\`,
        `  -H 'Authorization: Bearer ${key}' \\`,
        "  -H 'Content-Type: text/plain' \\",
        "  --data-binary @/var/log/auth.log",
      ].join("\n"),
    },
    {
      id: "fluentbit",
      title: "Fluent Bit",
      path: "/etc/fluent-bit/fluent-bit.conf",
      text: [
        "[INPUT]",
        "    Name   tail",
        "    Path   /var/log/auth.log",
        "",
        "[OUTPUT]",
        "    Name   http",
        "    Match  *",
        `    Host   ${new URL(apiUrl).hostname}`,
        `    Port   ${new URL(apiUrl).port || (apiUrl.startsWith("https") ? 443 : 80)}`,
        "    URI    /api/v1/ingest",
        "    Format json_lines",
        `    Header Authorization Bearer ${key}`,
        ...(apiUrl.startsWith("https") ? ["    tls    On"] : []),
      ].join("\n"),
    },
  ];
}
