import { describe, expect, it } from "vitest";
import { addFilter, applyCompletion, completionContext, quoteValue, rankSuggestions } from "./kql";

describe("completionContext", () => {
  it("is a field name at the start of a query", () => {
    expect(completionContext("host", 4)).toEqual({ kind: "field", prefix: "host", from: 0, to: 4 });
  });
  it("is a value after a colon, with the field it belongs to", () => {
    expect(completionContext("host.name:web", 13)).toEqual({ kind: "value", field: "host.name", prefix: "web", from: 10, to: 13 });
  });
  it("is a value after a colon and spaces, and a quoted prefix loses its quote", () => {
    const ctx = completionContext('user.name: "jd', 14);
    expect(ctx).toMatchObject({ kind: "value", field: "user.name", prefix: "jd", from: 11 });
  });
  it("is a field after a boolean operator", () => {
    expect(completionContext("a:1 and sou", 11)).toEqual({ kind: "field", prefix: "sou", from: 8, to: 11 });
  });
  it("offers nothing on an operator word", () => {
    expect(completionContext("a:1 and", 7)).toBeNull();
  });
  it("is an empty field prefix on an empty query", () => {
    expect(completionContext("", 0)).toEqual({ kind: "field", prefix: "", from: 0, to: 0 });
  });
  it("clamps a cursor past the end", () => {
    expect(completionContext("host", 99)).toMatchObject({ kind: "field", prefix: "host" });
  });
});

describe("applyCompletion", () => {
  it("replaces the field prefix and adds the colon", () => {
    const ctx = completionContext("a:1 and sou", 11)!;
    expect(applyCompletion("a:1 and sou", ctx, "source.ip")).toEqual({ query: "a:1 and source.ip:", cursor: 18 });
  });
  it("replaces a value prefix with the quoted value when needed", () => {
    const ctx = completionContext("message:hel", 11)!;
    expect(applyCompletion("message:hel", ctx, "hello world").query).toBe('message:"hello world" ');
  });
  it("replaces the whole word the cursor is in, not only its start", () => {
    const ctx = completionContext("hostxx:1", 2)!;
    expect(applyCompletion("hostxx:1", ctx, "host.name").query).toBe("host.name:1");
  });
});

describe("quoteValue and addFilter", () => {
  it("leaves simple words and numbers bare", () => {
    expect(quoteValue("web-01")).toBe("web-01");
    expect(quoteValue(22)).toBe("22");
    expect(quoteValue("10.0.0.1")).toBe("10.0.0.1");
  });
  it("quotes spaces, operators, quotes and backslashes", () => {
    expect(quoteValue("a b")).toBe('"a b"');
    expect(quoteValue("or")).toBe('"or"');
    expect(quoteValue('say "hi" \\o/')).toBe('"say \\"hi\\" \\\\o/"');
  });
  it("makes the first filter the query", () => {
    expect(addFilter("  ", "host.name", "web-01")).toBe("host.name:web-01");
  });
  it("ANDs a filter to a query and negates an exclusion", () => {
    expect(addFilter("event.outcome:failure", "user.name", "jdoe", true)).toBe("event.outcome:failure and not user.name:jdoe");
  });
  it("wraps a query with OR before adding to it (precedence)", () => {
    expect(addFilter("a:1 or b:2", "c", "3")).toBe("(a:1 or b:2) and c:3");
  });
});

describe("rankSuggestions", () => {
  it("puts prefix matches before substring matches, case-insensitively", () => {
    expect(rankSuggestions(["source.ip", "host.ip", "ip.x", "Ipsum"], "ip")).toEqual(["ip.x", "Ipsum", "source.ip", "host.ip"]);
  });
  it("limits the list", () => {
    expect(rankSuggestions(["a1", "a2", "a3"], "a", 2)).toEqual(["a1", "a2"]);
  });
});
