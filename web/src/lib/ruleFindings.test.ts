import { describe, expect, it } from "vitest";
import { findingRanges, lineStarts, newRuleText, textRuleId } from "./ruleFindings";

const TEXT = "title: x\nlevel: apocalyptic\ndetection:\n  sel:\n    a|foo: b\n";

describe("findingRanges", () => {
  it("marks from the finding's column to the end of its line", () => {
    const [range] = findingRanges(TEXT, [{ message: "bad level", severity: "error", line: 2, column: 8 }]);
    expect(TEXT.slice(range.from, range.to)).toBe("apocalyptic");
    expect(range.severity).toBe("error");
  });

  it("starts at the first non-blank character when the column is unknown", () => {
    const [range] = findingRanges(TEXT, [{ message: "modifier", severity: "warning", line: 5 }]);
    expect(TEXT.slice(range.from, range.to)).toBe("a|foo: b");
  });

  it("puts findings without a line on the first line and clamps lines past the end", () => {
    const [first, past] = findingRanges(TEXT, [
      { message: "no line", severity: "error" },
      { message: "too far", severity: "error", line: 99, column: 3 },
    ]);
    expect(TEXT.slice(first.from, first.to)).toBe("title: x");
    expect(past.from).toBeLessThanOrEqual(TEXT.length);
    expect(past.to).toBeLessThanOrEqual(TEXT.length);
  });

  it("gives an empty line a range of one character at most", () => {
    const text = "a: 1\n\nb: 2";
    const [range] = findingRanges(text, [{ message: "here", severity: "error", line: 2 }]);
    expect(range.from).toBe(5);
    expect(range.to).toBe(6);
  });
});

describe("rule texts", () => {
  it("counts line starts", () => {
    expect(lineStarts("a\nbc\n")).toEqual([0, 2, 5]);
  });

  it("writes a new rule with the given id and date, whose id reads back", () => {
    const text = newRuleText("0a1b2c3d-0000-4000-8000-000000000001", new Date("2026-12-05T10:00:00Z"));
    expect(text).toContain("date: 2026-12-05");
    expect(textRuleId(text)).toBe("0a1b2c3d-0000-4000-8000-000000000001");
    expect(textRuleId("title: no id\n")).toBeNull();
    expect(textRuleId("id: ../../etc/passwd\n")).toBeNull();
  });
});
