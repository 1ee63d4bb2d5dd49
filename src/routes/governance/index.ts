import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { registerInventoryRoutes } from "./inventory";
import { registerOrgReportRoutes } from "./reports";
import { registerSettingsRoutes } from "./settings";

/**
 * Organization governance outside the analytics reads: settings, the identity inventory
 * and scheduled reports. Each route states its own access rule (route middleware), so a
 * write scope is checked where it applies and nowhere else. The governance reads under
 * …/analytics (dormancy, reactivations) are registered on the analytics router, and the
 * platform's (organization health, platform reports) on the platform router.
 */
export const governanceRoutes = new OpenAPIHono<AppEnv>();

registerSettingsRoutes(governanceRoutes);
registerInventoryRoutes(governanceRoutes);
registerOrgReportRoutes(governanceRoutes);
