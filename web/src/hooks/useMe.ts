import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";

export type Role = "viewer" | "analyst" | "admin";
const RANK: Record<Role, number> = { viewer: 0, analyst: 1, admin: 2 };

/** Whether a user of `role` may use what needs `needed`. */
export function allows(role: string | undefined, needed: Role): boolean {
  return role !== undefined && role in RANK && RANK[role as Role] >= RANK[needed];
}

export function useMe(enabled = true) {
  return useQuery({
    queryKey: ["me"],
    queryFn: async () => unwrap(await api.GET("/api/v1/auth/me")),
    enabled,
    staleTime: 60_000,
  });
}
