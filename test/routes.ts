import { createApp } from "../src/app";

/**
 * Every route the app serves, read from the router itself, so a route added later is
 * covered by the isolation, attack, fuzz and fault suites without editing them. A
 * route whose access rule cannot be told from its path fails `servedRoutes()` loudly:
 * decide its rule here before it ships.
 */
export type RouteKind = "org" | "platform" | "ingest" | "public" | "page" | "dev";

/**
 * Access rules:
 * - org: an organization token for that org, or a platform-owner token (JSON);
 * - platform: a platform-owner token (JSON);
 * - ingest: a token with scope events:write (JSON);
 * - public: no token, JSON (liveness, the OpenAPI document);
 * - page: no token, a static page or asset of the dashboard or the API reference (HTML,
 *   JS, CSS under the pages' CSP); it carries no tenant data, the API calls it makes do;
 * - dev: development only: 404 unless `npm run dev` configured the worker (ENVIRONMENT,
 *   DEV_DASHBOARD_TOKEN) and the request is for a loopback host.
 */

export interface QueryParam {
  name: string;
  schema: { type?: string; enum?: string[] };
}

export interface ServedRoute {
  method: "GET" | "POST";
  /** Hono template, e.g. /api/organizations/:org_slug/analytics/summary */
  path: string;
  kind: RouteKind;
  /** Query parameters as the OpenAPI document declares them. */
  query: QueryParam[];
  label: string;
}

function kindOf(method: string, path: string): RouteKind {
  if (path.startsWith("/api/organizations/:org_slug/") && method === "GET") return "org";
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
    const op = (doc.paths?.[path.replace(/:(\w+)/g, "{$1}")] as Record<string, { parameters?: unknown[] }> | undefined)?.[method.toLowerCase()];
    if (!op) throw new Error(`${method} ${path} is served but missing from the OpenAPI document`);
    const query = ((op?.parameters ?? []) as (QueryParam & { in: string })[])
      .filter((p) => p.in === "query")
      .map(({ name, schema }) => ({ name, schema }));
    routes.push({ method: method as "GET" | "POST", path, kind, query, label: `${method} ${path}` });
  }
  cached = routes;
  return routes;
}

/** Routes that need a token: the auth, JWKS and isolation suites run on these. */
export const protectedRoutes = () => servedRoutes().filter((r) => r.kind === "org" || r.kind === "platform" || r.kind === "ingest");

/** A real asset for `/assets/:file` (built by `npm run build:web`). */
export const SAMPLE_ASSET = "dashboard.js";

/** The request path for `route`, with the organization (and for assets a real file) filled in. */
export const pathFor = (route: ServedRoute, org: string) => route.path.replace(":org_slug", encodeURIComponent(org)).replace(":file", SAMPLE_ASSET);
