import { describe, expect, it } from "vitest";
import { checkRange, DEFAULT_RANGE, fromLocalInput, isRelative, presetParts, rangeFromParams, resolveTime, toLocalInput, zoomRange } from "./timerange";

const NOW = new Date("2026-03-01T12:00:00Z");

describe("resolveTime", () => {
  it("reads date math on now", () => {
    expect(resolveTime("now", NOW)?.toISOString()).toBe("2026-03-01T12:00:00.000Z");
    expect(resolveTime("now-15m", NOW)?.toISOString()).toBe("2026-03-01T11:45:00.000Z");
    expect(resolveTime("now-7d", NOW)?.toISOString()).toBe("2026-02-22T12:00:00.000Z");
  });
  it("reads ISO instants", () => {
    expect(resolveTime("2026-01-02T03:04:05Z", NOW)?.toISOString()).toBe("2026-01-02T03:04:05.000Z");
  });
  it("refuses garbage", () => {
    for (const bad of ["", "yesterday", "now-", "now-5y", "now+1h", "12", "2026-13-45T99:00"]) {
      expect(resolveTime(bad, NOW)).toBeNull();
    }
  });
  it("knows relative from absolute", () => {
    expect(isRelative("now-1h")).toBe(true);
    expect(isRelative("2026-01-01T00:00:00Z")).toBe(false);
  });
});

describe("checkRange", () => {
  it("accepts a start before the end", () => {
    expect(checkRange({ start: "now-1h", end: "now" }, NOW)).toBeNull();
  });
  it("says when the start is not before the end", () => {
    expect(checkRange({ start: "now", end: "now-1h" }, NOW)).toBe("time.startAfterEnd");
    expect(checkRange({ start: "now", end: "now" }, NOW)).toBe("time.startAfterEnd");
  });
  it("says when a bound is unreadable", () => {
    expect(checkRange({ start: "soon", end: "now" }, NOW)).toBe("time.unreadable");
  });
});

describe("zoomRange", () => {
  it("is absolute and ordered whichever way the drag went", () => {
    const a = Date.parse("2026-03-01T10:00:00Z");
    const b = Date.parse("2026-03-01T11:00:00Z");
    expect(zoomRange(b, a)).toEqual({ start: "2026-03-01T10:00:00.000Z", end: "2026-03-01T11:00:00.000Z" });
  });
  it("is at least one second wide (a click, not a drag)", () => {
    const a = Date.parse("2026-03-01T10:00:00Z");
    expect(zoomRange(a, a)).toEqual({ start: "2026-03-01T10:00:00.000Z", end: "2026-03-01T10:00:01.000Z" });
  });
});

describe("address bar", () => {
  it("reads start and end from the parameters", () => {
    expect(rangeFromParams(new URLSearchParams("start=now-24h&end=now"))).toEqual({ start: "now-24h", end: "now" });
  });
  it("falls back to the default on a missing or unreadable range", () => {
    expect(rangeFromParams(new URLSearchParams(""))).toEqual(DEFAULT_RANGE);
    expect(rangeFromParams(new URLSearchParams("start=now&end=now-1h"))).toEqual(DEFAULT_RANGE);
    expect(rangeFromParams(new URLSearchParams("start=%00"))).toEqual(DEFAULT_RANGE);
  });
  it("splits presets for labels", () => {
    expect(presetParts("now-24h")).toEqual([24, "h"]);
    expect(presetParts("now")).toBeNull();
  });
  it("round-trips a local datetime input to the minute", () => {
    const iso = "2026-03-01T10:07:00.000Z";
    expect(fromLocalInput(toLocalInput(iso))).toBe(iso);
    expect(fromLocalInput("not a date")).toBeNull();
  });
});
