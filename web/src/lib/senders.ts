// Ready-to-copy sender configurations for this server (Sources page), the same as
// docs/shippers.md and docs/collect.md with this server's address and a fresh ingest key.

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

export const SENDERS = ["rsyslog", "filebeat", "winlogbeat", "fluentbit", "otel", "curl"] as const;

/** The source (health counters, and `input.type` of its events) each sender's configuration feeds. */
export const SENDER_SOURCE: Record<string, string> = {
  rsyslog: "syslog-tcp", filebeat: "es_bulk", winlogbeat: "es_bulk", fluentbit: "es_bulk", otel: "otlp", curl: "http",
};

/** Events of `source` stored since `baseline` (the stored counters when the page opened); a
 * counter lower than its baseline means the server restarted: everything it counts is new. */
export function arrivedSince(baseline: Record<string, number>, now: Record<string, { stored: number }>, source: string): number {
  const current = now[source]?.stored ?? 0;
  const before = baseline[source] ?? 0;
  return current >= before ? current - before : current;
}

export function senderConfigs({ host, syslogPort, apiUrl, key }: SenderTarget): SenderConfig[] {
  const url = new URL(apiUrl);
  const tls = url.protocol === "https:";
  const port = url.port || (tls ? "443" : "80");
  const origin = `${url.protocol}//${host}:${port}`;
  return [
    {
      id: "rsyslog",
      title: "rsyslog",
      path: "/etc/rsyslog.d/90-guetteur.conf",
      text: [
        "# every message, over TCP, queued on disk while Guetteur is away (nothing lost)",
        `*.* action(type="omfwd" target="${host}" port="${syslogPort}" protocol="tcp"`,
        '       template="RSYSLOG_SyslogProtocol23Format" TCP_Framing="octet-counted"',
        '       queue.type="LinkedList" queue.filename="guetteur" queue.saveOnShutdown="on"',
        '       action.resumeRetryCount="-1")',
      ].join("\n"),
    },
    {
      id: "filebeat",
      title: "Filebeat",
      path: "/etc/filebeat/filebeat.yml",
      text: [
        "filebeat.inputs:",
        "  - type: filestream",
        "    id: auth",
        "    paths: [/var/log/auth.log, /var/log/secure]",
        "output.elasticsearch:",
        `  hosts: ["${origin}"]`,
        "  path: /es",
        "  username: filebeat",
        `  password: "${key}"`,
        "setup.ilm.enabled: false",
        "setup.template.enabled: false",
      ].join("\n"),
    },
    {
      id: "winlogbeat",
      title: "Winlogbeat",
      path: "C:\\Program Files\\Winlogbeat\\winlogbeat.yml",
      text: [
        "winlogbeat.event_logs:",
        "  - name: Security",
        "  - name: System",
        "  - name: Microsoft-Windows-Sysmon/Operational",
        "output.elasticsearch:",
        `  hosts: ["${origin}"]`,
        "  path: /es",
        "  username: winlogbeat",
        `  password: "${key}"`,
        "setup.ilm.enabled: false",
        "setup.template.enabled: false",
      ].join("\n"),
    },
    {
      id: "fluentbit",
      title: "Fluent Bit",
      path: "/etc/fluent-bit/fluent-bit.conf",
      text: [
        "[INPUT]",
        "    Name    tail",
        "    Path    /var/log/auth.log",
        "",
        "[OUTPUT]",
        "    Name               es",
        "    Match              *",
        `    Host               ${host}`,
        `    Port               ${port}`,
        "    Path               /es",
        "    HTTP_User          fluentbit",
        `    HTTP_Passwd        ${key}`,
        "    Suppress_Type_Name On",
        "    Buffer_Size        False",
        "    Retry_Limit        False",
        ...(tls ? ["    tls                On"] : []),
      ].join("\n"),
    },
    {
      id: "otel",
      title: "OpenTelemetry",
      path: "otelcol config.yaml",
      text: [
        "receivers:",
        "  filelog:",
        "    include: [/var/log/auth.log]",
        "exporters:",
        "  otlphttp/guetteur:",
        `    endpoint: ${origin}     # the exporter adds /v1/logs`,
        "    headers:",
        `      Authorization: "Bearer ${key}"`,
        "service:",
        "  pipelines:",
        "    logs:",
        "      receivers: [filelog]",
        "      exporters: [otlphttp/guetteur]",
      ].join("\n"),
    },
    {
      id: "curl",
      title: "curl",
      text: [
        "# one event per line; the answer says how many were accepted",
        `curl -sS -X POST '${origin}/api/v1/ingest' \\`,
        `  -H 'Authorization: Bearer ${key}' \\`,
        "  -H 'Content-Type: text/plain' \\",
        "  --data-binary @/var/log/auth.log",
      ].join("\n"),
    },
  ];
}
