import type { Counters } from "../hooks/useStream";

export interface Point { at: number; in: number; stored: number }

/** One counters message as a point of the rate chart: received and stored per second. Counts
 * are since the previous counters message, `seconds` ago (more than 1 when the server is busy);
 * `stored` counts what the stream read and `skipped` what it did not read of what was stored. */
export function ratePoint(counters: Counters, at: number): Point {
  const seconds = counters.seconds && counters.seconds > 0 ? counters.seconds : 1;
  return { at, in: Math.round((counters.in ?? 0) / seconds), stored: Math.round((counters.stored + counters.skipped) / seconds) };
}

/** The last `size` points, kept outside React state: each second's flush re-renders only the
 * component that subscribes (the rate tile), not the whole dashboard with its other tiles and
 * charts (at full ingest rate that re-render, every second, is what took the page's time). */
export function pointStore(size: number) {
  let points: Point[] = [];
  const listeners = new Set<() => void>();
  return {
    add(fresh: Point[]) {
      if (!fresh.length) return;
      points = [...points, ...fresh].slice(-size);
      for (const listener of listeners) listener();
    },
    subscribe(listener: () => void) {
      listeners.add(listener);
      return () => { listeners.delete(listener); };
    },
    get: () => points,
  };
}

export type PointStore = ReturnType<typeof pointStore>;
