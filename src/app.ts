import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Hono } from "hono";
import { cors } from "hono/cors";
import type { ExtractSchema } from "hono/types";
import { BOOKMARK_HEADER } from "./db/client";
import { Databases } from "./db/shards";
import { type AppEnv, loadConfig } from "./env";
import { errorBody, handleError, invalidInput, zodDetails } from "./errors";
import { analyticsRoutes } from "./routes/analytics";
import { eventsRoutes } from "./routes/events";
import { governanceRoutes } from "./routes/governance";
import { platformRoutes } from "./routes/platform";
import { securityHeaders } from "./web/headers";
import { webRoutes } from "./web/routes";

/** Liveness: unauthenticated, touches nothing but the worker. */
const serviceRoutes = new OpenAPIHono<AppEnv>().openapi(
  createRoute({
    method: "get",
    path: "/health",
    summary: "Liveness",
    description: "Unauthenticated; touches nothing but the worker itself.",
    tags: ["Service"],
    responses: { 200: { content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } }, description: "The worker is up" } },
  }),
  (c) => c.json({ status: "ok" as const }, 200),
);

/**
 * Every route's types (paths, parameters, bodies, responses) for a typed client:
 * `hc<AppType>(baseUrl)` from `hono/client` (see src/client.ts). Built from the routers'
 * own chains, all mounted at "/".
 */
export type AppType = Hono<
  AppEnv,
  ExtractSchema<typeof serviceRoutes> &
    ExtractSchema<typeof eventsRoutes> &
    ExtractSchema<typeof analyticsRoutes> &
    ExtractSchema<typeof platformRoutes> &
    ExtractSchema<typeof governanceRoutes> &
    ExtractSchema<typeof webRoutes>,
  "/"
>;

/** The one app factory: production and tests build exactly this. */
export function createApp() {
  const app = new OpenAPIHono<AppEnv>({
    // Query/param validation failures leave through the same error shape as everything else.
    defaultHook: (result) => {
      if (!result.success) throw invalidInput(result.target, zodDetails(result.error.issues));
    },
  });

  // Outermost, so every response carries them: errors, 404s and preflights included. The
  // API's `default-src 'none'` and no-store everywhere, except the pages' own (src/web).
  app.use("*", ...securityHeaders);

  // Every request runs in one D1 session (Sessions API): GETs may read from a replica no
  // older than the client's bookmark, writes go to the primary, and the response carries
  // the session's bookmark for the client's next request (read-your-writes).
  // With organizations sharded across databases, each database the request touches has its
  // own session and bookmark (src/db/shards.ts); organization routes then use their shard.
  app.use("*", async (c, next) => {
    const config = loadConfig(c.env);
    c.set("config", config);
    const dbs = new Databases(c.env, c.req.method === "GET" || c.req.method === "HEAD" ? "read" : "write", c.req.header(BOOKMARK_HEADER), config.SHARDS_FOR_NEW_ORGS);
    c.set("dbs", dbs);
    c.set("db", dbs.primary);
    await next();
    const bookmark = dbs.bookmarkHeader();
    if (bookmark) c.header(BOOKMARK_HEADER, bookmark);
  });

  // Browser login pages may post events (and dashboards read) from the origins the
  // operator lists in CORS_ALLOWED_ORIGINS; no origin is allowed by default. Bearer
  // tokens, not cookies: no credentials mode.
  app.use(
    "/api/*",
    cors({
      origin: (origin, c) => (c.get("config").CORS_ALLOWED_ORIGINS.includes(origin) ? origin : null),
      allowMethods: ["GET", "POST", "PUT", "DELETE"],
      allowHeaders: ["Authorization", "Content-Type", BOOKMARK_HEADER],
      exposeHeaders: ["Link", "Retry-After", BOOKMARK_HEADER],
      maxAge: 600,
    }),
  );


  // Mounted as plain routers: the route types travel through `AppType` below, which
  // TypeScript can compute, rather than through route()'s merge of every schema.
  for (const routes of [serviceRoutes, eventsRoutes, analyticsRoutes, platformRoutes, webRoutes, governanceRoutes] as OpenAPIHono<AppEnv>[]) app.route("/", routes);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/openapi.json",
    summary: "This OpenAPI document",
    description: "Unauthenticated. Generated from the zod schemas that validate the requests; `/docs` renders it.",
    tags: ["Service"],
    responses: { 200: { content: { "application/json": { schema: z.object({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }).loose() } }, description: "OpenAPI 3.1" } },
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "loginpulse", version: "0.1.0", description: "Login analytics at the edge for multi-tenant auth platforms." },
  });

  app.notFound((c) => c.json(errorBody("NOT_FOUND", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`), 404));
  app.onError(handleError);
  return app;
}
