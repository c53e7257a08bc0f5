import { describe, expect, it } from "vitest";
import { display, eventId, getField, summary } from "./event";

describe("getField", () => {
  const doc = { "@timestamp": "t", host: { name: "web-01" }, "user.name": "flat", event: { "original": "line", id: "e1" } };
  it("reads nested and dotted keys", () => {
    expect(getField(doc, "host.name")).toBe("web-01");
    expect(getField(doc, "user.name")).toBe("flat");
    expect(getField(doc, "@timestamp")).toBe("t");
  });
  it("is undefined for what is absent or below a scalar", () => {
    expect(getField(doc, "source.ip")).toBeUndefined();
    expect(getField(doc, "host.name.x")).toBeUndefined();
  });
  it("summarises by message, else the original line", () => {
    expect(summary(doc)).toBe("line");
    expect(summary({ message: "m" })).toBe("m");
    expect(eventId(doc)).toBe("e1");
    expect(display({ a: 1 })).toBe('{"a":1}');
    expect(display(null)).toBe("");
  });
});
