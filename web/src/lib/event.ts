// Reading stored ECS documents: a dotted field's value (nested objects or dotted keys), and
// the document as rows for the event view's tree.

export type Doc = Record<string, unknown>;

export function getField(doc: Doc, field: string): unknown {
  if (field in doc) return doc[field];
  let current: unknown = doc;
  const parts = field.split(".");
  for (let i = 0; i < parts.length; i += 1) {
    if (current === null || typeof current !== "object") return undefined;
    const obj = current as Doc;
    const rest = parts.slice(i).join(".");
    if (rest in obj) return obj[rest];
    current = obj[parts[i]];
  }
  return current;
}

export function display(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** The row a table shows for an event: its message, else its original line. */
export function summary(doc: Doc): string {
  return display(getField(doc, "message") ?? getField(doc, "event.original"));
}

export function eventId(doc: Doc): string | null {
  const id = getField(doc, "event.id");
  return typeof id === "string" ? id : null;
}
