// Dashboard and coverage helpers: the alert list's address for a tile's filter, the colour
// step of a count (heatmap, coverage matrix), and the rows the charts draw. Pure functions:
// tested in dashboard.test.ts.

export interface AlertFilter {
  status?: "open" | "acknowledged" | "closed" | "all";
  severity?: string;
  tactic?: string;
  technique?: string;
  since?: string;
  until?: string;
  host?: string;
  user?: string;
  source_ip?: string;
  rule_id?: string;
}

// The order the alert list's address keeps (Alerts.tsx reads each of these).
const ORDER: (keyof AlertFilter)[] = ["status", "severity", "tactic", "technique", "host", "user", "source_ip", "rule_id", "since", "until"];

/** The alert list's address with these filters; every status unless one is given (a chart
 * counts closed alerts too, and the list must show what was counted). */
export function alertsLink(filter: AlertFilter): string {
  const params = new URLSearchParams();
  for (const key of ORDER) {
    const value = key === "status" ? filter.status ?? "all" : filter[key];
    if (value) params.set(key, value);
  }
  return `/alerts?${params}`;
}

/** The alert list's filter parameter for a risk entity field. */
export const ENTITY_FILTER: Record<string, "host" | "user" | "source_ip"> = {
  "host.name": "host",
  "user.name": "user",
  "source.ip": "source_ip",
};

/** 0 for nothing, else 1..steps, growing with the logarithm of value / max (a few very busy
 * cells must not wash out the others). */
export function colourStep(value: number, max: number, steps = 4): number {
  if (!(value > 0) || !(max > 0)) return 0;
  const ratio = Math.log1p(Math.min(value, max)) / Math.log1p(max);
  return Math.max(1, Math.min(steps, Math.ceil(ratio * steps)));
}

/** Mantine colour variables for a step (0: the empty cell), and whether text on it must be light. */
export function stepColour(colour: string, step: number): { background: string; light: boolean } {
  if (step <= 0) return { background: "var(--mantine-color-default-hover)", light: false };
  const shade = [0, 2, 4, 6, 8][Math.min(step, 4)];
  return { background: `var(--mantine-color-${colour}-${shade})`, light: shade >= 6 };
}

export interface SeverityBucketLike {
  since: string;
  until: string;
  counts: { critical?: number; medium?: number; low?: number };
}

/** ECharts series data per severity: [bucket start (ms), count] pairs, the bars stacked. */
export function severitySeries(buckets: SeverityBucketLike[], severities: readonly string[]): Record<string, [number, number][]> {
  const out: Record<string, [number, number][]> = {};
  for (const s of severities) {
    out[s] = buckets.map((b) => [Date.parse(b.since), (b.counts as Record<string, number | undefined>)[s] ?? 0]);
  }
  return out;
}

/** The bucket a chart click at time `at` (ms) fell in. */
export function bucketAt<T extends { since: string; until: string }>(buckets: T[], at: number): T | undefined {
  return buckets.find((b) => Date.parse(b.since) <= at && at < Date.parse(b.until));
}

export interface TacticRowLike {
  shortname: string;
  total: number;
}

/** The heatmap's rows: tactics with alerts in the window first (matrix order kept), and the
 * others only when `all` (fourteen mostly empty rows hide the few that matter). */
export function heatmapRows<T extends TacticRowLike>(rows: T[], all: boolean): T[] {
  return all ? rows : rows.filter((r) => r.total > 0);
}

export interface TechniqueLike {
  id: string;
  name: string;
  rules: string[];
  hits: number;
  alerts: number;
}

export type CoverageMode = "rules" | "hits";

/** What a coverage cell is coloured by. */
export function coverageValue(t: TechniqueLike, mode: CoverageMode): number {
  return mode === "rules" ? t.rules.length : t.hits;
}

/** The largest value among the cells (at least 1), for the colour steps. */
export function coverageMax(tactics: { techniques: TechniqueLike[] }[], mode: CoverageMode): number {
  let max = 1;
  for (const tactic of tactics) for (const t of tactic.techniques) max = Math.max(max, coverageValue(t, mode));
  return max;
}

/** The techniques a column shows: all, or the covered ones (a rule, or recent hits). */
export function visibleTechniques<T extends TechniqueLike>(techniques: T[], coveredOnly: boolean): T[] {
  return coveredOnly ? techniques.filter((t) => t.rules.length > 0 || t.hits > 0) : techniques;
}
