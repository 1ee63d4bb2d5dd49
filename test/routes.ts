import { createApp } from "../src/app";

/**
 * Every route the app serves, read from the router itself, so a route added later is
 * covered by the isolation, attack, fuzz and fault suites without editing them. A
 * route whose access rule cannot be told from its path fails `servedRoutes()` loudly:
 * decide its rule here before it ships.
 *
 *   org        read an organization's data: its org token or the platform owner
 *   org-admin  write an organization's settings: its org token with org:admin, or the platform owner
 *   inventory  write an organization's identity inventory: inventory:write, org-bound or platform-wide
 *   platform   the platform owner
 *   ingest     events:write
 *   public     anyone, JSON (liveness, the OpenAPI document)
 *   page       anyone: a static page or asset of the dashboard or the API reference (HTML, JS,
 *              CSS under the pages' CSP); it carries no tenant data, the API calls it makes do
 *   dev        development only: 404 unless `npm run dev` configured the worker (ENVIRONMENT,
 *              DEV_DASHBOARD_TOKEN) and the request is for a loopback host
 *
 * Routes that name something besides the organization (`:user_id`, a report's `:id`) are
 * filled with sample values, and `prepareRouteData(org)` (test/route-data.ts) creates what
 * they name, so an authorized request to any route answers its success status.
 */
export type RouteKind = "org" | "org-admin" | "inventory" | "platform" | "ingest" | "public" | "page" | "dev";

export interface QueryParam {
  name: string;
  schema: { type?: string; enum?: string[] };
}

export type Method = "GET" | "POST" | "PUT" | "DELETE";

export interface ServedRoute {
  method: Method;
  /** Hono template, e.g. /api/organizations/:org_slug/analytics/summary */
  path: string;
  kind: RouteKind;
  /** Query parameters as the OpenAPI document declares them. */
  query: QueryParam[];
  /** Media types of the success response (the first is the default), as the OpenAPI document declares them. */
  responseTypes: string[];
  /** Status of an authorized request with `bodyFor(route)`. */
  okStatus: number;
  label: string;
}

function kindOf(method: string, path: string): RouteKind {
  if (path.startsWith("/api/organizations/:org_slug/") && method === "GET") return "org";
  if (path === "/api/organizations/:org_slug/settings" && method === "PUT") return "org-admin";
  if ((path === "/api/organizations/:org_slug/identities" && method === "PUT") || (path === "/api/organizations/:org_slug/identities/:user_id" && method === "DELETE")) {
    return "inventory";
  }
  if (path.startsWith("/api/platform/") && (method === "GET" || method === "POST")) return "platform";
  if (path === "/api/events" && method === "POST") return "ingest";
  if ((path === "/health" || path === "/openapi.json") && method === "GET") return "public";
  if ((path === "/" || path === "/docs" || path === "/assets/:file") && method === "GET") return "page";
  if (path === "/api/dev/token" && method === "GET") return "dev";
  throw new Error(`test/routes.ts: no access rule known for ${method} ${path}; classify it before shipping`);
}

let cached: ServedRoute[] | undefined;

export function servedRoutes(): ServedRoute[] {
  if (cached) return cached;
  const app = createApp();
  const doc = app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "loginpulse", version: "test" } });
  const seen = new Set<string>();
  const routes: ServedRoute[] = [];
  for (const { method, path } of app.routes) {
    if (method === "ALL" || seen.has(`${method} ${path}`)) continue; // middleware
    seen.add(`${method} ${path}`);
    const kind = kindOf(method, path);
    type Operation = { parameters?: unknown[]; responses?: Record<string, { content?: Record<string, unknown> }> };
    const op = (doc.paths?.[path.replace(/:(\w+)/g, "{$1}")] as Record<string, Operation> | undefined)?.[method.toLowerCase()];
    if (!op) throw new Error(`${method} ${path} is served but missing from the OpenAPI document`);
    const query = ((op?.parameters ?? []) as (QueryParam & { in: string })[])
      .filter((p) => p.in === "query")
      .map(({ name, schema }) => ({ name, schema }));
    const success = Object.entries(op?.responses ?? {}).find(([status]) => status.startsWith("2"));
    routes.push({
      method: method as Method,
      path,
      kind,
      query,
      responseTypes: Object.keys(success?.[1].content ?? { "application/json": {} }),
      okStatus: success ? Number(success[0]) : 200,
      label: `${method} ${path}`,
    });
  }
  cached = routes;
  return routes;
}

/** Routes that need a token: the auth, JWKS and isolation suites run on these. */
export const protectedRoutes = () => servedRoutes().filter((r) => r.kind !== "public" && r.kind !== "page" && r.kind !== "dev");

/** A real asset for `/assets/:file` (built by `npm run build:web`). */
export const SAMPLE_ASSET = "dashboard.js";

/** Whether a route changes data (its refusals must leave the database unchanged). */
export const isWrite = (route: ServedRoute) => route.method !== "GET";

/** The inventory identity `prepareRouteData` registers in every prepared organization. */
export const SAMPLE_USER = "route-sample-identity";
/** The report `prepareRouteData` makes for every prepared organization (and the platform): today's. */
export const sampleReportId = () => new Date().toISOString().slice(0, 10);

/** The request path for `route`, with the organization and the sample values filled in. */
export const pathFor = (route: ServedRoute, org: string) =>
  route.path
    .replace(":org_slug", encodeURIComponent(org))
    .replace(":user_id", encodeURIComponent(SAMPLE_USER))
    .replace(":id", sampleReportId())
    .replace(":file", SAMPLE_ASSET);

let bodySeq = 0;

/**
 * A valid body for a write route, as an authorized caller sends it (undefined: no body).
 * Repeating it is harmless: ingest gets a fresh event id each time, the other writes are
 * idempotent.
 */
export function bodyFor(route: ServedRoute, org: string): string | undefined {
  switch (route.kind) {
    case "ingest":
      return JSON.stringify({ id: `route-body-${++bodySeq}`, org, user_id: "u-route", service_id: "web", provider: "github" });
    case "org-admin":
      return JSON.stringify({ report_identity_types: "all" });
    case "inventory":
      return route.method === "PUT"
        ? JSON.stringify({ identities: [{ user_id: SAMPLE_USER, identity_type: "machine", display_name: "Route sample", owner: "platform-team" }] })
        : undefined;
    default:
      return undefined;
  }
}

/** Request init for an authorized call of `route` with `bodyFor`, under the given token. */
export function initFor(route: ServedRoute, org: string, token?: string): RequestInit & { token?: string } {
  const body = bodyFor(route, org);
  return { method: route.method, token, body, headers: body === undefined ? undefined : { "content-type": "application/json" } };
}
