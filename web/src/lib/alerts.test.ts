import { describe, expect, it } from "vitest";
import { entityQuery, entityText, groupAlerts } from "./alerts";
import { quoteValue } from "./kql";

const a = (id: number, rule: string, host: string) => ({ id, rule_id: rule, rule_title: `Rule ${rule}`, entity: { "host.name": host } });

describe("groupAlerts", () => {
  const list = [a(5, "r1", "web"), a(4, "r2", "db"), a(3, "r1", "db")];
  it("keeps one group without grouping", () => {
    expect(groupAlerts(list, "none")).toEqual([{ key: "", label: "", alerts: list }]);
  });
  it("groups by rule in first-seen order", () => {
    const groups = groupAlerts(list, "rule");
    expect(groups.map((g) => [g.label, g.alerts.map((x) => x.id)])).toEqual([["Rule r1", [5, 3]], ["Rule r2", [4]]]);
  });
  it("groups by entity", () => {
    expect(groupAlerts(list, "entity").map((g) => g.key)).toEqual(["host.name=web", "host.name=db"]);
  });
  it("labels an alert without entity", () => {
    expect(groupAlerts([{ ...a(1, "r", "x"), entity: {} }], "entity")[0].label).toBe("—");
  });
});

describe("entity", () => {
  it("reads and queries an entity", () => {
    expect(entityText({ "user.name": "jdoe", "source.ip": "10.0.0.1" })).toBe("user.name=jdoe source.ip=10.0.0.1");
    expect(entityQuery({ "user.name": "j doe", "source.ip": "10.0.0.1" }, quoteValue)).toBe('user.name:"j doe" and source.ip:10.0.0.1');
  });
});
