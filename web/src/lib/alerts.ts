// Alert list helpers: grouping (by rule or by entity) and how an entity reads.

export interface AlertLike {
  id: number;
  rule_id: string;
  rule_title: string;
  entity: Record<string, string>;
}

export type Grouping = "none" | "rule" | "entity";

export function entityText(entity: Record<string, string>): string {
  return Object.entries(entity).map(([k, v]) => `${k}=${v}`).join(" ");
}

/** Alerts in groups, keeping the list's order (newest first) inside and between groups. */
export function groupAlerts<T extends AlertLike>(alerts: T[], by: Grouping): { key: string; label: string; alerts: T[] }[] {
  if (by === "none") return [{ key: "", label: "", alerts }];
  const groups = new Map<string, { key: string; label: string; alerts: T[] }>();
  for (const alert of alerts) {
    const key = by === "rule" ? alert.rule_id : entityText(alert.entity);
    const label = by === "rule" ? alert.rule_title : key || "—";
    const group = groups.get(key) ?? { key, label, alerts: [] };
    group.alerts.push(alert);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/** The explorer query for an alert's entity (its fields ANDed). */
export function entityQuery(entity: Record<string, string>, quote: (v: unknown) => string): string {
  return Object.entries(entity).map(([k, v]) => `${k}:${quote(v)}`).join(" and ");
}
