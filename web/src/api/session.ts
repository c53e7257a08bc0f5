// The logged-in session: tokens kept in sessionStorage (this tab only, gone when it closes:
// consoles of medical logs are used on shared workstations), a single-flight refresh, and a
// listener for "the session is over" so the shell can ask for the password again over the
// current page instead of navigating away from it (its state stays).

export interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  totp_enrolment_required?: boolean;
}

const KEY = "guetteur.session";
type Listener = () => void;
const listeners = new Set<Listener>();
let refreshing: Promise<boolean> | null = null;

export function currentTokens(): Tokens | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Tokens;
  } catch {
    return null;
  }
}

export function storeTokens(tokens: Tokens | null): void {
  if (tokens) sessionStorage.setItem(KEY, JSON.stringify(tokens));
  else sessionStorage.removeItem(KEY);
  listeners.forEach((l) => l());
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Trade the refresh token for a new pair, once at a time; false when the session is over. */
export function refreshTokens(): Promise<boolean> {
  if (!refreshing) {
    refreshing = (async () => {
      const tokens = currentTokens();
      if (!tokens) return false;
      const response = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: tokens.refresh_token }),
      }).catch(() => null);
      if (!response || !response.ok) {
        if (response && response.status === 401) storeTokens(null);
        return false;
      }
      storeTokens((await response.json()) as Tokens);
      return true;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

const BUSY_RETRIES = 4;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** fetch with the access token; on a 401, one refresh and one retry; on a 429 (the server
 * runs a few searches at once, and a page asks for several), a wait of Retry-After and again. */
export async function authFetch(input: Request): Promise<Response> {
  const send = (request: Request) => {
    const tokens = currentTokens();
    if (tokens) request.headers.set("Authorization", `Bearer ${tokens.access_token}`);
    return fetch(request);
  };
  let refreshed = false;
  for (let attempt = 0; ; attempt += 1) {
    const request = input.clone();
    const response = await send(request);
    if (response.status === 429 && attempt < BUSY_RETRIES) {
      const after = Number(response.headers.get("Retry-After")) || 1;
      await pause(after * 1000 * (0.5 + Math.random()));
      continue;
    }
    if (response.status !== 401 || refreshed || !currentTokens() || input.url.includes("/auth/")) return response;
    if (!(await refreshTokens())) return response;
    refreshed = true;
  }
}
