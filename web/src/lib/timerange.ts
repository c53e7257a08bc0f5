// The time picker's logic: a range is two strings the API reads as they are, either date
// math on now (`now-15m`, `now`) or ISO 8601 instants. Relative ranges stay relative in the
// address bar (a shared link shows the last hour when opened); a zoom makes it absolute.

export interface TimeRange {
  start: string;
  end: string;
}

export const PRESETS = ["now-15m", "now-1h", "now-4h", "now-24h", "now-7d", "now-30d"] as const;
export const DEFAULT_RANGE: TimeRange = { start: "now-15m", end: "now" };

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const MATH = /^now(?:-(\d+)([smhdw]))?$/;

export function isRelative(expr: string): boolean {
  return MATH.test(expr);
}

/** The instant an expression names (`now-1h`, an ISO time); null when unreadable. */
export function resolveTime(expr: string, now: Date = new Date()): Date | null {
  const math = MATH.exec(expr.trim());
  if (math) {
    const amount = math[1] ? Number(math[1]) * UNIT_MS[math[2]] : 0;
    return new Date(now.getTime() - amount);
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(expr.trim())) return null;
  const parsed = new Date(expr.trim());
  return Number.isNaN(parsed.getTime()) ? null : parsed;
}

/** Null when the range is usable, else the catalogue key of what is wrong with it. */
export function checkRange(range: TimeRange, now: Date = new Date()): string | null {
  const start = resolveTime(range.start, now);
  const end = resolveTime(range.end, now);
  if (!start || !end) return "time.unreadable";
  if (start >= end) return "time.startAfterEnd";
  return null;
}

/** The absolute range a drag on the histogram selects (at least one second wide). */
export function zoomRange(fromMs: number, toMs: number): TimeRange {
  const lo = Math.min(fromMs, toMs);
  const hi = Math.max(Math.max(fromMs, toMs), lo + 1000);
  return { start: new Date(lo).toISOString(), end: new Date(hi).toISOString() };
}

/** The preset's amount and unit (`now-24h` -> [24, "h"]), for labels. */
export function presetParts(expr: string): [number, string] | null {
  const math = MATH.exec(expr);
  return math && math[1] ? [Number(math[1]), math[2]] : null;
}

/** A range from the address bar's parameters, the default when absent or unreadable. */
export function rangeFromParams(params: URLSearchParams): TimeRange {
  const range = { start: params.get("start") ?? DEFAULT_RANGE.start, end: params.get("end") ?? DEFAULT_RANGE.end };
  return checkRange(range) === null ? range : DEFAULT_RANGE;
}

/** An ISO instant as the value of an <input type="datetime-local"> (local time) and back. */
export function toLocalInput(iso: string): string {
  const d = resolveTime(iso) ?? new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(value: string): string | null {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
