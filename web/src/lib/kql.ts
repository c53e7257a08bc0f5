// The query bar's logic: what the cursor is on (a field name or a field's value) for
// autocomplete, how a picked completion is inserted, and how a click in the field sidebar
// adds a filter. Pure functions: tested in kql.test.ts.

export type Completion =
  | { kind: "field"; prefix: string; from: number; to: number }
  | { kind: "value"; field: string; prefix: string; from: number; to: number };

const BREAK = /[\s()]/;

/** The word the cursor is in or after, and whether it is a field name or a value. */
export function completionContext(query: string, cursor: number): Completion | null {
  const at = Math.max(0, Math.min(cursor, query.length));
  let from = at;
  while (from > 0 && !BREAK.test(query[from - 1]) && query[from - 1] !== ":") from -= 1;
  if (from > 0 && query[from - 1] === '"') from -= 1;
  let to = at;
  while (to < query.length && !BREAK.test(query[to]) && query[to] !== ":") to += 1;
  const word = query.slice(from, at);
  let before = from;
  while (before > 0 && query[before - 1] === " ") before -= 1;
  if (before > 0 && query[before - 1] === ":") {
    let end = before - 1;
    while (end > 0 && query[end - 1] === " ") end -= 1;
    let start = end;
    while (start > 0 && !BREAK.test(query[start - 1])) start -= 1;
    const field = query.slice(start, end);
    if (!field) return null;
    return { kind: "value", field, prefix: word.replace(/^"/, ""), from, to };
  }
  if (/^(and|or|not)$/i.test(word) || word.startsWith('"')) return null;
  return { kind: "field", prefix: word, from, to };
}

/** The query with the completion's range replaced (a field gets its `:`). */
export function applyCompletion(query: string, ctx: Completion, text: string): { query: string; cursor: number } {
  const inserted = ctx.kind === "field" ? `${text}:` : `${quoteValue(text)} `;
  const next = query.slice(0, ctx.from) + inserted + query.slice(ctx.to).replace(/^:/, "");
  return { query: next, cursor: ctx.from + inserted.length };
}

/** A value as a KQL literal: bare when it is a simple word or number, quoted otherwise. */
export function quoteValue(value: unknown): string {
  const text = String(value);
  if (/^[\w.@/-]+$/.test(text) && !/^(and|or|not)$/i.test(text)) return text;
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The query narrowed by `field: value` (or its negation), as the sidebar's +/- buttons do. */
export function addFilter(query: string, field: string, value: unknown, exclude = false): string {
  const clause = `${exclude ? "not " : ""}${field}:${quoteValue(value)}`;
  const current = query.trim();
  if (!current) return clause;
  const wrapped = /\s(or)\s/i.test(current) ? `(${current})` : current;
  return `${wrapped} and ${clause}`;
}

/** Suggestions that start with (then contain) the prefix, case-insensitively. */
export function rankSuggestions(candidates: string[], prefix: string, limit = 12): string[] {
  const p = prefix.toLowerCase();
  const starts = candidates.filter((c) => c.toLowerCase().startsWith(p));
  const contains = candidates.filter((c) => !c.toLowerCase().startsWith(p) && c.toLowerCase().includes(p));
  return [...starts, ...contains].slice(0, limit);
}
