import { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { BOOKMARK_HEADER, createDb, sessionFor } from "./db/client";
import { type AppEnv, loadConfig } from "./env";
import { errorBody, handleError, invalidInput, zodDetails } from "./errors";
import { analyticsRoutes } from "./routes/analytics";
import { eventsRoutes } from "./routes/events";
import { platformRoutes } from "./routes/platform";

/** The one app factory: production and tests build exactly this. */
export function createApp() {
  const app = new OpenAPIHono<AppEnv>({
    // Query/param validation failures leave through the same error shape as everything else.
    defaultHook: (result) => {
      if (!result.success) throw invalidInput(result.target, zodDetails(result.error.issues));
    },
  });

  // Outermost, so every response carries them: errors, 404s and preflights included.
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
      xFrameOptions: "DENY",
      strictTransportSecurity: "max-age=31536000; includeSubDomains",
    }),
    async (c, next) => {
      await next();
      // Per-tenant security telemetry: no shared cache may keep it.
      c.header("Cache-Control", "no-store");
    },
  );

  // Every request runs in one D1 session (Sessions API): GETs may read from a replica no
  // older than the client's bookmark, writes go to the primary, and the response carries
  // the session's bookmark for the client's next request (read-your-writes).
  app.use("*", async (c, next) => {
    c.set("config", loadConfig(c.env));
    const session = sessionFor(c.env.DB, c.req.method === "GET" || c.req.method === "HEAD" ? "read" : "write", c.req.header(BOOKMARK_HEADER));
    c.set("db", createDb(session));
    await next();
    const bookmark = session.getBookmark();
    if (bookmark) c.header(BOOKMARK_HEADER, bookmark);
  });

  // Browser login pages may post events (and dashboards read) from the origins the
  // operator lists in CORS_ALLOWED_ORIGINS; no origin is allowed by default. Bearer
  // tokens, not cookies: no credentials mode.
  app.use(
    "/api/*",
    cors({
      origin: (origin, c) => (c.get("config").CORS_ALLOWED_ORIGINS.includes(origin) ? origin : null),
      allowMethods: ["GET", "POST"],
      allowHeaders: ["Authorization", "Content-Type", BOOKMARK_HEADER],
      exposeHeaders: ["Link", "Retry-After", BOOKMARK_HEADER],
      maxAge: 600,
    }),
  );

  app.get("/health", (c) => c.json({ status: "ok" }));

  app.route("/", eventsRoutes);
  app.route("/", analyticsRoutes);
  app.route("/", platformRoutes);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "loginpulse", version: "0.1.0", description: "Login analytics at the edge for multi-tenant auth platforms." },
  });

  app.notFound((c) => c.json(errorBody("NOT_FOUND", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`), 404));
  app.onError(handleError);
  return app;
}
