// The typed API client: types generated from the server's OpenAPI schema (schema.d.ts,
// `npm run gen:api`), calls through openapi-fetch with the session's tokens.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";
import { authFetch } from "./session";

export const api = createClient<paths>({ baseUrl: "", fetch: authFetch });
export type Schemas = components["schemas"];

/** A failed call's message, as the API says it (`detail`), else the HTTP status. */
export class ApiError extends Error {
  constructor(public status: number, message: string, public position: number | null = null) {
    super(message);
  }
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

export function unwrap<T>(answer: Answer<T>): T {
  if (answer.error !== undefined || !answer.response.ok) {
    const detail = (answer.error as { detail?: unknown } | undefined)?.detail;
    if (detail && typeof detail === "object" && "message" in detail) {
      const d = detail as { message: string; position?: number | null };
      throw new ApiError(answer.response.status, d.message, d.position ?? null);
    }
    const text = typeof detail === "string" ? detail : Array.isArray(detail) ? JSON.stringify(detail) : answer.response.statusText;
    throw new ApiError(answer.response.status, text || String(answer.response.status));
  }
  return answer.data as T;
}
