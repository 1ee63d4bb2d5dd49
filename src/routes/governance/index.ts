import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { withInventoryRoutes } from "./inventory";
import { withOrgReportRoutes } from "./reports";
import { withSettingsRoutes } from "./settings";

/**
 * Organization governance outside the analytics reads: settings, the identity inventory
 * and scheduled reports. Each route states its own access rule (route middleware), so a
 * write scope is checked where it applies and nowhere else. The governance reads under
 * …/analytics (dormancy, reactivations) are chained onto the analytics router, and the
 * platform's (organization health, platform reports) onto the platform router. Every chain
 * keeps its route types, so the typed client (`AppType`) covers them all.
 */
export const governanceRoutes = withOrgReportRoutes(withInventoryRoutes(withSettingsRoutes(new OpenAPIHono<AppEnv>())));
