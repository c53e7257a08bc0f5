// Every key in both catalogues, every key the code uses in both, every dynamic family complete.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import en from "./en";
import fr from "./fr";
import { preferredLanguage } from "./index";

function flatten(tree: object, prefix = ""): string[] {
  return Object.entries(tree).flatMap(([k, v]) => (typeof v === "object" && v !== null ? flatten(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.tsx?$/.test(name) && !name.endsWith(".test.ts") ? [path] : [];
  });
}

const SRC = join(__dirname, "..");
const enKeys = new Set(flatten(en));
const frKeys = new Set(flatten(fr));
const has = (keys: Set<string>, key: string) => keys.has(key) || (keys.has(`${key}_one`) && keys.has(`${key}_other`));

// Keys built at run time: t(`roles.${role}`)... and the values they take.
const DYNAMIC: Record<string, string[]> = {
  roles: ["viewer", "analyst", "admin"],
  levels: ["critical", "high", "medium", "low", "informational", "unknown"],
  stream: ["off", "connecting", "live", "closed"],
  "time.last": ["s", "m", "h", "d", "w"],
  "shell.languages": ["fr", "en"],
  "sources.help": ["rsyslog", "filebeat", "winlogbeat", "fluentbit", "otel", "curl"],
  "audit.outcomes": ["success", "failure"],
  keys: ["ingest", "read"],
  "alerts.statuses": ["open", "acknowledged", "closed"],
  "alerts.severities": ["critical", "medium", "low"],
  "alerts.grouping": ["none", "rule", "entity"],
  "alerts.reasons": ["true_positive", "false_positive", "benign_positive", "duplicate", "other"],
  "alerts.durations": ["60", "240", "1440", "10080"],
  "alerts.actions": ["created", "updated", "escalated", "acknowledged", "closed", "reopened", "assigned", "commented", "silenced"],
  "settings.modes": ["immediate", "digest"],
  "settings.kinds": ["email", "webhook"],
  "settings.tlsModes": ["starttls", "tls", "none"],
  "settings.formats": ["json", "slack", "mattermost", "teams"],
  "prefs.tabs": ["notifications", "silences", "retention", "criticality", "stats", "audit"],
  "prefs.sources": ["default", "config", "console"],
  "prefs.appliesWhen": ["retention", "criticality", "stats"],
  "prefs.levels": ["low", "medium", "high", "extreme"],
  "prefs.fields": ["events_days", "hits_days", "alerts_days", "hosts", "users", "frequency_z", "frequency_p_value", "frequency_min_count",
    "frequency_learning_minutes", "frequency_level", "silent_min_seconds", "silent_gap_factor", "silent_learning", "silent_level"],
  "alerts.filters": ["since", "until"],
  "dashboard.riskLevels": ["critical", "high", "moderate", "low", "unknown"],
  "coverage.legendOf": ["rules", "hits"],
  "rules.origins": ["builtin", "folder", "local"],
  "rules.testStopped": ["max_events", "timeout"],
};

describe("catalogues", () => {
  it("have the same keys in French and English", () => {
    expect([...enKeys].filter((k) => !frKeys.has(k))).toEqual([]);
    expect([...frKeys].filter((k) => !enKeys.has(k))).toEqual([]);
  });

  it("have no empty message and no French message left in English", () => {
    const frFlat = (tree: object, prefix = ""): [string, string][] =>
      Object.entries(tree).flatMap(([k, v]) => (typeof v === "object" ? frFlat(v, `${prefix}${k}.`) : [[`${prefix}${k}`, String(v)]]));
    for (const [key, text] of frFlat(fr)) expect(text.trim(), key).not.toBe("");
    const same = frFlat(fr).filter(([key, text]) => text.length > 12 && frFlat(en).some(([k, t]) => k === key && t === text));
    expect(same.map(([k]) => k).filter((k) => !k.includes("queryPlaceholder"))).toEqual([]);
  });

  it("hold every key the code uses", () => {
    const used = new Set<string>();
    for (const file of sources(SRC)) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/\bt\(\s*"([A-Za-z0-9_.]+)"/g)) used.add(m[1]);
      for (const m of text.matchAll(/\blabel: "([a-z]+\.[A-Za-z0-9_.]+)"/g)) used.add(m[1]);
    }
    expect(used.size).toBeGreaterThan(100);
    const missing = [...used].filter((k) => !has(enKeys, k) || !has(frKeys, k));
    expect(missing).toEqual([]);
  });

  it("hold every value of the keys built at run time", () => {
    for (const [family, values] of Object.entries(DYNAMIC)) {
      for (const v of values) {
        expect(has(enKeys, `${family}.${v}`), `en ${family}.${v}`).toBe(true);
        expect(has(frKeys, `${family}.${v}`), `fr ${family}.${v}`).toBe(true);
      }
    }
  });

  it("find every dynamic family used in the code listed here", () => {
    const families = new Set<string>();
    for (const file of sources(SRC)) {
      for (const m of readFileSync(file, "utf8").matchAll(/\bt\(`([a-z.]+)\.\$\{/g)) families.add(m[1]);
    }
    expect([...families].filter((f) => !(f in DYNAMIC))).toEqual([]);
  });
});

describe("preferredLanguage", () => {
  it("keeps a stored choice", () => {
    expect(preferredLanguage("en", ["fr-FR"])).toBe("en");
  });
  it("follows the browser's first known language", () => {
    expect(preferredLanguage(null, ["de-DE", "en-GB", "fr"])).toBe("en");
    expect(preferredLanguage(null, ["fr-CA"])).toBe("fr");
  });
  it("is French when nothing is known", () => {
    expect(preferredLanguage(null, ["de"])).toBe("fr");
    expect(preferredLanguage("xx", [])).toBe("fr");
  });
});
