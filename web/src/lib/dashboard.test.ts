import { describe, expect, it } from "vitest";
import { alertsLink, bucketAt, colourStep, coverageMax, heatmapRows, severitySeries, stepColour, visibleTechniques } from "./dashboard";

describe("alertsLink", () => {
  it("lists every status unless one is given, filters in a fixed order", () => {
    expect(alertsLink({ until: "2026-12-05T11:00:00Z", tactic: "credential-access", since: "2026-12-05T10:00:00Z" }))
      .toBe("/alerts?status=all&tactic=credential-access&since=2026-12-05T10%3A00%3A00Z&until=2026-12-05T11%3A00%3A00Z");
    expect(alertsLink({ status: "open", severity: "critical" })).toBe("/alerts?status=open&severity=critical");
  });
  it("drops empty filters and encodes values", () => {
    expect(alertsLink({ host: "web 01", user: "" })).toBe("/alerts?status=all&host=web+01");
  });
});

describe("colourStep", () => {
  it("is 0 for nothing and the top step for the maximum", () => {
    expect(colourStep(0, 10)).toBe(0);
    expect(colourStep(5, 0)).toBe(0);
    expect(colourStep(10, 10)).toBe(4);
    expect(colourStep(1, 1)).toBe(4);
  });
  it("grows with the logarithm: one alert among hundreds still shows", () => {
    const steps = [1, 3, 10, 30, 100, 300].map((v) => colourStep(v, 300));
    expect(steps[0]).toBe(1);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(new Set(steps).size).toBe(4);
  });
  it("clamps values above the maximum", () => {
    expect(colourStep(50, 10)).toBe(4);
  });
  it("gives light text on dark shades only", () => {
    expect(stepColour("red", 0).light).toBe(false);
    expect(stepColour("red", 1)).toEqual({ background: "var(--mantine-color-red-2)", light: false });
    expect(stepColour("red", 4)).toEqual({ background: "var(--mantine-color-red-8)", light: true });
  });
});

describe("severity buckets", () => {
  const buckets = [
    { since: "2026-12-05T10:00:00Z", until: "2026-12-05T11:00:00Z", counts: { critical: 1, medium: 0, low: 2 } },
    { since: "2026-12-05T11:00:00Z", until: "2026-12-05T11:20:00Z", counts: { medium: 4 } },
  ];
  it("makes one series per severity, missing counts as 0", () => {
    const series = severitySeries(buckets, ["critical", "medium", "low"]);
    expect(series.critical).toEqual([[Date.parse("2026-12-05T10:00:00Z"), 1], [Date.parse("2026-12-05T11:00:00Z"), 0]]);
    expect(series.medium.map((p) => p[1])).toEqual([0, 4]);
  });
  it("finds the bucket of a click, none outside", () => {
    expect(bucketAt(buckets, Date.parse("2026-12-05T11:19:59Z"))).toBe(buckets[1]);
    expect(bucketAt(buckets, Date.parse("2026-12-05T10:00:00Z"))).toBe(buckets[0]);
    expect(bucketAt(buckets, Date.parse("2026-12-05T11:20:00Z"))).toBeUndefined();
  });
});

describe("heatmap and coverage", () => {
  it("keeps the tactics with alerts in matrix order", () => {
    const rows = [{ shortname: "recon", total: 0 }, { shortname: "execution", total: 3 }, { shortname: "impact", total: 1 }];
    expect(heatmapRows(rows, false).map((r) => r.shortname)).toEqual(["execution", "impact"]);
    expect(heatmapRows(rows, true)).toHaveLength(3);
  });
  it("colours by rules or hits and hides uncovered techniques on demand", () => {
    const t = (id: string, rules: number, hits: number) => ({ id, name: id, rules: Array.from({ length: rules }, (_, i) => `r${i}`), hits, alerts: 0 });
    const tactics = [{ techniques: [t("T1", 2, 0), t("T2", 0, 40)] }, { techniques: [t("T3", 5, 1), t("T4", 0, 0)] }];
    expect(coverageMax(tactics, "rules")).toBe(5);
    expect(coverageMax(tactics, "hits")).toBe(40);
    expect(coverageMax([{ techniques: [t("T4", 0, 0)] }], "hits")).toBe(1);
    expect(visibleTechniques(tactics[1].techniques, true).map((x) => x.id)).toEqual(["T3"]);
    expect(visibleTechniques(tactics[0].techniques, true).map((x) => x.id)).toEqual(["T1", "T2"]);
    expect(visibleTechniques(tactics[1].techniques, false)).toHaveLength(2);
  });
});
