/**
 * The scopes this service reads from a token's `scope` claim: exact words separated by
 * ASCII spaces (RFC 6749 §3.3), so `events:write2` is not `events:write` and a word
 * joined by another kind of whitespace (`x\u3000events:write`) grants nothing.
 */
export const SCOPE = {
  /** POST /api/events. */
  eventsWrite: "events:write",
  /** PUT/DELETE an organization's identity inventory. */
  inventoryWrite: "inventory:write",
  /** Lets a token that also writes (a machine credential) read analytics. */
  analyticsRead: "analytics:read",
  /** Writes an organization's settings (with that org's token). */
  orgAdmin: "org:admin",
} as const;

/**
 * Scopes held by machine credentials that sit on login pages and identity-provider
 * connectors. A token holding one of them reads nothing unless it also holds
 * `analytics:read`: a leaked login-page key must not expose the tenant's login history.
 */
export const WRITE_ONLY_SCOPES: readonly string[] = [SCOPE.eventsWrite, SCOPE.inventoryWrite];

export function parseScopes(scope: string | undefined): ReadonlySet<string> {
  return new Set((scope ?? "").split(" ").filter(Boolean));
}
