import { useEffect, useRef, useState } from "react";
import { currentTokens, refreshTokens } from "../api/session";

export interface Counters {
  stored: number;
  hits: number;
  skipped: number;
  in?: number;
  /** Seconds since the previous counters (a look can take longer than a second under load). */
  seconds?: number;
}

export type StreamMessage =
  | { type: "ready" }
  | { type: "event"; event: Record<string, unknown> }
  | { type: "detection"; detection: { id: number; created: string; rule_id: string; title: string; level: string; tags: string[]; event_ids: string[] } }
  | { type: "counters"; counters: Counters }
  | { type: "error"; status: number; message: string; position?: number };

export type StreamState = "off" | "connecting" | "live" | "closed";

/**
 * The live stream (`/api/v1/stream`), the token sent as the first message (never in the address,
 * which proxies log). Messages are handed to `onBatch` at most every `flushMs`, in one call: a
 * full-rate stream costs one React render per flush, not one per event. Reconnects after 3 s.
 * `events` false: detections, alerts and counters only (the server reads no events for it).
 */
export function useStream(enabled: boolean, query: string, onBatch: (messages: StreamMessage[]) => void, flushMs = 1000, events = true): StreamState {
  const [state, setState] = useState<StreamState>("off");
  const handler = useRef(onBatch);
  handler.current = onBatch;
  useEffect(() => {
    if (!enabled) {
      setState("off");
      return undefined;
    }
    let socket: WebSocket | null = null;
    let stopped = false;
    let pending: StreamMessage[] = [];
    let retry: ReturnType<typeof setTimeout> | undefined;
    const flush = setInterval(() => {
      if (pending.length) {
        const batch = pending;
        pending = [];
        handler.current(batch);
      }
    }, flushMs);
    const open = async () => {
      if (stopped) return;
      const tokens = currentTokens();
      if (!tokens || stopped) return;
      setState("connecting");
      const scheme = window.location.protocol === "https:" ? "wss" : "ws";
      socket = new WebSocket(`${scheme}://${window.location.host}/api/v1/stream`);
      socket.onopen = () => socket?.send(JSON.stringify({ token: tokens.access_token, query, events }));
      socket.onmessage = (e) => {
        const message = JSON.parse(String(e.data)) as StreamMessage;
        if (message.type === "ready") setState("live");
        if (pending.length < 5000) pending.push(message);
      };
      socket.onclose = (e) => {
        setState("closed");
        if (stopped || e.code === 4400) return;
        // 4401: the access token expired (it is checked once, when the socket opens). Refreshing
        // only then, not before every open, keeps refreshes rare: a page reloaded during one
        // would present a spent refresh token, which ends the session.
        if (e.code === 4401) void refreshTokens().then((ok) => ok && void open());
        else retry = setTimeout(() => void open(), 3000);
      };
    };
    void open();
    return () => {
      stopped = true;
      clearInterval(flush);
      clearTimeout(retry);
      socket?.close();
    };
  }, [enabled, query, flushMs, events]);
  return state;
}
