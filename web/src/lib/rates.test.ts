import { describe, expect, it } from "vitest";
import { pointStore, ratePoint } from "./rates";

describe("ratePoint", () => {
  it("divides the counts by the seconds they cover and counts skipped events as stored", () => {
    expect(ratePoint({ in: 30_000, stored: 5000, skipped: 25_000, hits: 0, seconds: 3 }, 7)).toEqual({ at: 7, in: 10_000, stored: 10_000 });
  });
  it("takes one second when the server does not say", () => {
    expect(ratePoint({ in: 12, stored: 10, skipped: 0, hits: 0 }, 1)).toEqual({ at: 1, in: 12, stored: 10 });
    expect(ratePoint({ stored: 4, skipped: 1, hits: 0, seconds: 0 }, 1)).toEqual({ at: 1, in: 0, stored: 5 });
  });
  it("rounds to whole events per second", () => {
    expect(ratePoint({ in: 10, stored: 10, skipped: 0, hits: 0, seconds: 1.5 }, 0)).toEqual({ at: 0, in: 7, stored: 7 });
  });
});

describe("pointStore", () => {
  it("keeps the last points and tells its subscribers once per batch", () => {
    const store = pointStore(3);
    let told = 0;
    const stop = store.subscribe(() => { told += 1; });
    store.add([1, 2].map((at) => ({ at, in: at, stored: at })));
    store.add([]);
    store.add([3, 4].map((at) => ({ at, in: at, stored: at })));
    expect(store.get().map((p) => p.at)).toEqual([2, 3, 4]);
    expect(told).toBe(2);
    const before = store.get();
    stop();
    store.add([{ at: 5, in: 5, stored: 5 }]);
    expect(told).toBe(2);
    expect(store.get()).not.toBe(before); // a new array: React sees the change
  });
});
