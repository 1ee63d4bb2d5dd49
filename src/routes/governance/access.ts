import { createMiddleware } from "hono/factory";
import { assertCanAdminOrg, assertCanReadOrg, assertCanWriteInventory, authenticate } from "../../auth/middleware";
import type { Principal } from "../../auth/principal";
import type { AppEnv } from "../../env";
import { orgDatabase } from "../shared";

/**
 * Route middleware for the governance routes: authenticate, then the route's access rule —
 * both before any parameter or body validation, so a caller without access learns nothing
 * about the request or the organization — and then the organization's database.
 */
const orgRule = (assert: (principal: Principal, orgSlug: string) => void, { place = false } = {}) => [
  authenticate,
  createMiddleware<AppEnv>(async (c, next) => {
    assert(c.get("principal"), c.req.param("org_slug") ?? "");
    await next();
  }),
  orgDatabase(place),
];

/** Read an organization's governance data: its org token or the platform owner. */
export const canReadOrg = orgRule(assertCanReadOrg);
/** Write its settings: its org token with org:admin, or the platform owner. */
export const canAdminOrg = orgRule(assertCanAdminOrg);
/** Write its identity inventory: inventory:write, bound to it or platform-wide. */
export const canWriteInventory = orgRule(assertCanWriteInventory, { place: true });
