import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { verifyBearer } from "./jwt";
import type { Principal } from "./principal";
import { SCOPE, WRITE_ONLY_SCOPES } from "./scopes";

/**
 * Verifies the bearer token and puts the principal on the context. An end-user service
 * token (one with a `service` claim) is refused on every route, whatever else it claims:
 * it belongs to a customer's application, not to a dashboard, a login page or the owner.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const principal = await verifyBearer(c.req.header("authorization"), c.get("config"));
  if (principal.service !== undefined) {
    throw new ApiError("FORBIDDEN", "End-user service tokens are not accepted by this API");
  }
  c.set("principal", principal);
  await next();
});

/** A machine credential (holding a write-only scope) reads only when it also holds analytics:read. */
function assertCanRead(principal: Principal): void {
  if (principal.scopes.has(SCOPE.analyticsRead)) return;
  const writeScope = WRITE_ONLY_SCOPES.find((s) => principal.scopes.has(s));
  if (writeScope) {
    throw new ApiError(
      "FORBIDDEN",
      `A token with the ${writeScope} scope cannot read analytics unless it also has the ${SCOPE.analyticsRead} scope`,
    );
  }
}

/** Reading an organization's analytics: its own org token, or a platform owner. */
export function assertCanReadOrg(principal: Principal, orgSlug: string): void {
  assertCanRead(principal);
  if (principal.isPlatformOwner) return;
  if (principal.org !== orgSlug) {
    throw new ApiError("FORBIDDEN", "Token is not authorized for this organization");
  }
}

export function assertPlatformOwner(principal: Principal): void {
  if (!principal.isPlatformOwner) throw new ApiError("FORBIDDEN", "Platform owner token required");
  assertCanRead(principal);
}

export function assertCanWriteEvents(principal: Principal): void {
  if (!principal.scopes.has(SCOPE.eventsWrite)) {
    throw new ApiError("FORBIDDEN", `Token lacks the ${SCOPE.eventsWrite} scope`);
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

/** Writing an organization's settings: that organization's token with org:admin, or the platform owner. */
export function assertCanAdminOrg(principal: Principal, orgSlug: string): void {
  // The answer is the settings (a read): a machine credential administers nothing either.
  assertCanRead(principal);
  if (principal.isPlatformOwner) return;
  if (principal.org !== orgSlug) throw new ApiError("FORBIDDEN", "Token is not authorized for this organization");
  if (!principal.scopes.has(SCOPE.orgAdmin)) throw new ApiError("FORBIDDEN", `Token lacks the ${SCOPE.orgAdmin} scope`);
}

/** Writing an organization's identity inventory: inventory:write, bound to that organization or platform-wide. */
export function assertCanWriteInventory(principal: Principal, orgSlug: string): void {
  if (!principal.scopes.has(SCOPE.inventoryWrite)) throw new ApiError("FORBIDDEN", `Token lacks the ${SCOPE.inventoryWrite} scope`);
  if (principal.org !== undefined && principal.org !== orgSlug) {
    throw new ApiError("FORBIDDEN", `Token is bound to organization "${principal.org}" and cannot write the inventory of "${orgSlug}"`);
  }
}
