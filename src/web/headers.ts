import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../env";

/**
 * What a response is, for its Content-Security-Policy and caching. Everything is the API
 * unless a page route says otherwise, so errors, 404s and preflights keep the strictest
 * policy.
 */
export type Surface = "api" | "dashboard" | "docs" | "asset";

const csp = (directives: Record<string, string>) =>
  Object.entries(directives)
    .map(([name, value]) => `${name} ${value}`)
    .join("; ");

/** JSON only: nothing may load, nothing may frame it. */
export const API_CSP = csp({ "default-src": "'none'", "frame-ancestors": "'none'" });

/**
 * The dashboard and the API reference load exactly their own bundle and stylesheet from
 * this origin and call this origin's JSON API: no inline script or style, no eval, no
 * third-party origin, no plugins, no framing, no form posts elsewhere. `data:` images
 * are the libraries' inline SVG icons (CSS backgrounds).
 */
const PAGE_DIRECTIVES = {
  "default-src": "'none'",
  "script-src": "'self'",
  "style-src": "'self'",
  "img-src": "'self' data:",
  "font-src": "'self'",
  "connect-src": "'self'",
  "manifest-src": "'self'",
  "base-uri": "'none'",
  "form-action": "'none'",
  "frame-ancestors": "'none'",
};
export const DASHBOARD_CSP = csp(PAGE_DIRECTIVES);
/** Swagger UI posts nothing itself ("Try it out" uses fetch, covered by connect-src). */
export const DOCS_CSP = csp(PAGE_DIRECTIVES);

const POLICY: Record<Surface, { csp: string; cacheControl: string }> = {
  // Per-tenant security telemetry: no shared cache may keep it.
  api: { csp: API_CSP, cacheControl: "no-store" },
  // Static shells without tenant data: cacheable, but revalidated so a deploy shows at once.
  dashboard: { csp: DASHBOARD_CSP, cacheControl: "no-cache" },
  docs: { csp: DOCS_CSP, cacheControl: "no-cache" },
  asset: { csp: API_CSP, cacheControl: "no-cache" },
};

/** Marks the response of a page or asset route (see `securityHeaders`). */
export const surface =
  (kind: Exclude<Surface, "api">): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    c.set("surface", kind);
    await next();
  };

/**
 * Outermost, so every response carries them: nosniff, DENY framing, HSTS, no referrer,
 * and the CSP and Cache-Control of its surface (the API's unless a page route set one).
 */
export const securityHeaders: MiddlewareHandler<AppEnv>[] = [
  secureHeaders({
    xFrameOptions: "DENY",
    strictTransportSecurity: "max-age=31536000; includeSubDomains",
  }),
  async (c, next) => {
    await next();
    const policy = POLICY[c.get("surface") ?? "api"];
    c.header("Content-Security-Policy", policy.csp);
    c.header("Cache-Control", policy.cacheControl);
  },
];
