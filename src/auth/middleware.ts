import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { verifyBearer } from "./jwt";
import type { Principal } from "./principal";

/** Verifies the bearer token and puts the principal on the context. */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  c.set("principal", await verifyBearer(c.req.header("authorization"), c.get("config")));
  await next();
});

/** Reading an organization's analytics: its own org token, or a platform owner. */
export function assertCanReadOrg(principal: Principal, orgSlug: string): void {
  if (principal.isPlatformOwner) return;
  if (principal.service) {
    throw new ApiError("FORBIDDEN", "End-user service tokens cannot read organization analytics");
  }
  if (principal.org !== orgSlug) {
    throw new ApiError("FORBIDDEN", "Token is not authorized for this organization");
  }
}

export function assertPlatformOwner(principal: Principal): void {
  if (!principal.isPlatformOwner) throw new ApiError("FORBIDDEN", "Platform owner token required");
}

export function assertCanWriteEvents(principal: Principal): void {
  if (!principal.scopes.has("events:write")) {
    throw new ApiError("FORBIDDEN", "Token lacks the events:write scope");
  }
}

/** An org-bound ingest token may only write its own organization's events. */
export function assertCanWriteOrg(principal: Principal, orgSlugs: Iterable<string>): void {
  if (!principal.org) return;
  for (const slug of orgSlugs) {
    if (slug !== principal.org) {
      throw new ApiError("FORBIDDEN", `Token is bound to organization "${principal.org}" and cannot write events for "${slug}"`);
    }
  }
}
