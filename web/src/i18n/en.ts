// English catalogue. fr.ts must have the same keys (typed as Catalogue; i18n.test.ts too).
const en = {
  nav: { dashboard: "Dashboard", explorer: "Log explorer", alerts: "Alerts", rules: "Rules", users: "Users and keys", sources: "Sources", settings: "Settings" },
  shell: {
    language: "Language", languages: { fr: "Français", en: "English" }, darkTheme: "Dark theme", lightTheme: "Light theme",
    logout: "Log out", menu: "Menu", navigation: "Main navigation", forbidden: "Your role does not give access to this page.",
    notFound: "This page does not exist.",
  },
  roles: { viewer: "viewer", analyst: "analyst", admin: "administrator" },
  levels: { critical: "critical", high: "high", medium: "medium", low: "low", informational: "info", unknown: "unknown" },
  common: {
    loading: "Loading…", failed: "That did not work; try again.", unreachable: "Guetteur does not answer; check the network.",
    save: "Save", close: "Close", copy: "Copy", copied: "Copied", yes: "yes", no: "no", actions: "Actions", more: "Load more",
    shownOnce: "Shown once only: copy it now, it cannot be displayed again.",
  },
  login: {
    title: "Log in", intro: "Log in to the Guetteur console.", username: "User name", password: "Password",
    totp: "Code (second factor)", totpHelp: "The 6 digits of your authenticator app, if you have enabled one",
    submit: "Log in", failed: "User name, password or code incorrect.", throttled: "Too many failed attempts: wait a moment and try again.",
    expired: "Your session has ended: log in again to continue where you were.",
  },
  totp: {
    title: "Set up a second factor", why: "Administrators must use a second factor (TOTP) before anything else.",
    start: "Generate my secret", scan: "Add this account to your authenticator app (scan the URI as a QR code or type the secret):",
    secret: "Secret", code: "Current code", confirm: "Confirm", wrongCode: "Wrong code: check your phone's clock and try the next code.",
  },
  time: {
    pick: "Time range", relative: "Relative", absolute: "Absolute", start: "Start", end: "End", apply: "Apply", now: "now",
    unreadable: "Enter a valid start and end.", startAfterEnd: "The start must be before the end.",
    last: {
      s_one: "Last {{count}} second", s_other: "Last {{count}} seconds", m_one: "Last {{count}} minute", m_other: "Last {{count}} minutes",
      h_one: "Last {{count}} hour", h_other: "Last {{count}} hours", d_one: "Last {{count}} day", d_other: "Last {{count}} days",
      w_one: "Last {{count}} week", w_other: "Last {{count}} weeks",
    },
  },
  stream: { off: "off", connecting: "connecting…", live: "live", closed: "disconnected" },
  explorer: {
    query: "KQL query", queryPlaceholder: "e.g. event.outcome:failure and source.ip:203.0.113.0/24", search: "Search",
    errorAt: "Character {{position}}: {{message}}", count_one: "{{formatted}} event", count_other: "{{formatted}} events",
    liveTail: "Live tail", export: "Export", savedSearches: "Saved searches", saveName: "Name of this search", saved: "Search saved.",
    noSaved: "No saved search yet", histogram: "Events over time (drag to zoom)", events: "Events", fields: "Fields",
    findField: "Find a field", noValues: "No value in the sample", sampled_one: "from the last {{count}} matching event",
    sampled_other: "from the last {{count}} matching events", filterIn: "Only {{field}} = {{value}}", filterOut: "Exclude {{field}} = {{value}}",
    toggleColumn: "Show {{field}} as a column", results: "Results", noResults: "No event in this range matches the query.",
    waitingLive: "Waiting for new events…", window: "From {{start}} to {{end}}",
  },
  event: { title: "Event", original: "Original line", noOriginal: "(no original line kept)", surrounding: "Around it on {{host}}", fields: "ECS fields" },
  dashboard: {
    rate: "Events per second", rateNow: "in {{in}}/s · stored {{stored}}/s", in: "received", stored: "stored",
    overTime: "Events, last 24 h", openExplorer: "Open in the explorer", topHosts: "Top hosts", topUsers: "Top users",
    topSources: "Top source addresses", topRules: "Busiest rules", nothing: "Nothing in the last 24 h",
    detections: "Live detections", noDetections: "No detection since this page opened.",
  },
  users: {
    title: "Users", name: "Name", role: "Role", roleOf: "Role of {{name}}", password: "Password", passwordHelp: "Leave empty to generate one",
    create: "Create", created: "User {{name}} created.", passwordFor: "Password of {{name}}", totp: "Second factor", state: "State",
    active: "active", disabled: "disabled", createdAt: "Created", enable: "Enable", disable: "Disable",
    resetPassword: "New password", resetTotp: "Reset second factor",
  },
  keys: {
    title: "Machine keys", intro: "Ingest keys let a sender post logs; read keys let a script search. A key is shown once.",
    name: "Name", scope: "Scope", ingest: "ingest", read: "read", create: "Create a key", token: "The new key", lastUsed: "Last used",
    never: "never", revoke: "Revoke", confirmRevoke: "Revoke the key {{name}}? Senders using it will be refused.",
  },
  rules: {
    filter: "Filter rules", readOnly: "Rules are files on the server (rules/): edit them there; Guetteur reloads them.",
    detection_one: "{{count}} detection rule", detection_other: "{{count}} detection rules",
    correlations_one: "{{count}} correlation", correlations_other: "{{count}} correlations",
    rule: "Rule", level: "Level", techniques: "ATT&CK", source: "File", hits: "Hits", evaluations: "Evaluated", state: "State",
    alerting: "alerts", feedsOnly: "feeds correlations", off: "off", type: "Type", condition: "Condition",
  },
  audit: {
    title: "Audit trail", verifyHow: "Each row is chained to the previous one; check the whole chain on the server with",
    at: "When", actor: "Who", action: "Action", outcome: "Outcome", address: "Address", target: "Target", detail: "Detail",
    outcomes: { success: "success", failure: "failure" },
  },
  sources: {
    connect: "Connect a sender", intro: "Pick your sender, create a fresh ingest key, copy the configuration: the counters below show the first events within seconds.",
    host: "This server's address as senders see it", syslogPort: "Syslog port", newKey: "Create an ingest key",
    keyReady: "The key is in the configurations below: copy them now, it will not be shown again.", keyPlaceholder: "<INGEST-KEY>",
    counters: "What arrives, per source", none: "Nothing received yet.", source: "Source", received: "Received", stored: "Stored",
    unparsed: "Not understood", dropped: "Dropped", health: "State", receiving: "receiving", silent: "silent", dropping: "dropping",
    help: {
      rsyslog: "On a Linux server: write this file, then `systemctl restart rsyslog`.",
      curl: "To send a file once, or from a script (needs an ingest key).",
      fluentbit: "Fluent Bit's HTTP output, one JSON event per line.",
    },
  },
  alerts: { notYet: "The alert list arrives with the alert API." },
};

export type Catalogue = typeof en;
export default en;
