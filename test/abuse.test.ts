import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { INGEST_RATE_LIMIT_PERIOD_SECONDS } from "../src/auth/rate-limit";
import { configSchema, type Bindings } from "../src/env";
import { expectErrorBody } from "./contract";
import { countEverywhere, ingest, ingestToken, orgToken, platformToken, requestWith, testDatabases, testKeys, token, unavailableD1 } from "./helpers";
import { pathFor, servedRoutes, type ServedRoute } from "./routes";

const storedEvents = () => countEverywhere("SELECT COUNT(*) AS n FROM login_events");

/** A D1 (and its sessions) whose every call fails as an outage does. */
/** Every database down (DB, and DB_SHARD_1 when sharded). */
function downD1() {
  return Object.fromEntries(testDatabases().shards.map((s) => [s.name, unavailableD1()]));
}

let eventSeq = 0;
const postEvent = (tok: string, overrides: Partial<Bindings> = {}, headers: Record<string, string> = {}) =>
  requestWith(overrides, "/api/events", {
    method: "POST",
    headers: { authorization: `Bearer ${tok}`, "content-type": "application/json", ...headers },
    body: JSON.stringify({ id: `abuse-${++eventSeq}`, org: "acme", user_id: "u1", service_id: "web", provider: "github" }),
  });

beforeAll(async () => {
  await ingest([{ id: "abuse-seed", org: "acme", user_id: "u0", service_id: "web", provider: "github" }]);
});

afterEach(() => vi.restoreAllMocks());

describe("per-token rate limiting on ingest (Cloudflare rate-limiting binding)", () => {
  // TEST_STRICT_LIMITER allows 3 requests per key per 60 s (vitest.config.ts).
  const strict = () => ({ INGEST_RATE_LIMITER: env.TEST_STRICT_LIMITER });

  it("the 4th request within the period gets 429 RATE_LIMITED with Retry-After, and stores nothing", async () => {
    const tok = await token({ claims: { sub: "rl-first", scope: "events:write" } });
    for (let i = 0; i < 3; i++) expect((await postEvent(tok, strict())).status).toBe(202);
    const before = await storedEvents();
    const res = await postEvent(tok, strict());
    expect(res.headers.get("retry-after")).toBe(String(INGEST_RATE_LIMIT_PERIOD_SECONDS));
    await expectErrorBody(res, 429, "RATE_LIMITED");
    expect(await storedEvents()).toBe(before);
  });

  it("budgets are per token: another subject, or the same subject bound to another org, is not limited", async () => {
    const tok = await token({ claims: { sub: "rl-second", scope: "events:write" } });
    for (let i = 0; i < 3; i++) expect((await postEvent(tok, strict())).status).toBe(202);
    expect((await postEvent(tok, strict())).status).toBe(429);
    expect((await postEvent(await token({ claims: { sub: "rl-third", scope: "events:write" } }), strict())).status).toBe(202);
    expect((await postEvent(await token({ claims: { sub: "rl-second", org: "acme", scope: "events:write" } }), strict())).status).toBe(202);
  });

  it("requests refused before the limiter (bad token, missing scope) do not spend the budget", async () => {
    const sub = "rl-fourth";
    const bad = await token({ claims: { sub, scope: "events:write" }, issuer: "https://evil.test" });
    const noScope = await token({ claims: { sub, org: "acme" } });
    for (let i = 0; i < 5; i++) {
      expect((await postEvent(bad, strict())).status).toBe(401);
      expect((await postEvent(noScope, strict())).status).toBe(403);
    }
    const good = await token({ claims: { sub, scope: "events:write" } });
    for (let i = 0; i < 3; i++) expect((await postEvent(good, strict())).status).toBe(202);
  });

  it("a failing limiter does not lose events: the request is taken and a warning logged", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const broken = { limit: () => Promise.reject(new Error("limiter down")) } as unknown as RateLimit;
    const res = await postEvent(await ingestToken(), { INGEST_RATE_LIMITER: broken });
    expect(res.status).toBe(202);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("rate limiter unavailable"));
  });

  it("wrangler.toml's limiter is bound, and its period is what 429s announce as Retry-After", () => {
    expect(typeof env.INGEST_RATE_LIMITER?.limit).toBe("function");
    expect(String(INGEST_RATE_LIMIT_PERIOD_SECONDS)).toBe(env.TEST_INGEST_RATE_PERIOD);
  });
});

describe("CORS", () => {
  const ALLOWED = "https://login.acme.test";
  const configured = { CORS_ALLOWED_ORIGINS: `${ALLOWED}, https://dash.acme.test` };
  const preflight = (overrides: Partial<Bindings>, path: string, origin: string, method = "POST") =>
    requestWith(overrides, path, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": method, "access-control-request-headers": "authorization, content-type" },
    });

  it("by default no origin is allowed, on any route", async () => {
    for (const route of servedRoutes()) {
      const res = await preflight({}, pathFor(route, "acme"), ALLOWED, route.method);
      expect(res.headers.get("access-control-allow-origin"), route.label).toBeNull();
    }
    const res = await postEvent(await ingestToken(), {}, { origin: ALLOWED });
    expect(res.status).toBe(202);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("a configured origin may post events from the browser: preflight, then the POST", async () => {
    const pre = await preflight(configured, "/api/events", ALLOWED);
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(pre.headers.get("access-control-allow-methods")).toContain("POST");
    expect(pre.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    expect(pre.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("content-type");
    expect(pre.headers.get("access-control-allow-credentials")).toBeNull(); // bearer tokens, not cookies
    expect(pre.headers.get("vary")).toContain("Origin");

    const res = await postEvent(await ingestToken(), configured, { origin: ALLOWED });
    expect(res.status).toBe(202);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED);
  });

  it("errors reach the allowed page too (so it can read the 401 / 429), and Retry-After is exposed", async () => {
    const res = await requestWith(configured, "/api/events", { method: "POST", headers: { origin: ALLOWED, "content-type": "application/json" }, body: "{}" });
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(res.headers.get("access-control-expose-headers")).toContain("Retry-After");
    await expectErrorBody(res, 401, "UNAUTHORIZED");
  });

  it("other origins, look-alikes and null are not allowed", async () => {
    for (const origin of ["https://evil.test", "https://login.acme.test.evil.test", "http://login.acme.test", "https://login.acme.test:8443", "null", "*"]) {
      const pre = await preflight(configured, "/api/events", origin);
      expect(pre.headers.get("access-control-allow-origin"), origin).toBeNull();
      const res = await postEvent(await ingestToken(), configured, { origin });
      expect(res.headers.get("access-control-allow-origin"), origin).toBeNull();
    }
  });

  it("the configuration accepts only exact origins: no wildcard, path or trailing slash", () => {
    const parse = (v: string) => configSchema.safeParse({ JWT_PUBLIC_JWKS: "{}", CORS_ALLOWED_ORIGINS: v });
    expect(parse("https://a.test, http://localhost:8787").success).toBe(true);
    expect(parse("").data?.CORS_ALLOWED_ORIGINS).toEqual([]);
    for (const bad of ["*", "https://a.test/", "https://a.test/login", "a.test", "https://*.a.test"]) expect(parse(bad).success, bad).toBe(false);
  });
});

describe("security headers on every response", () => {
  const EXPECTED: Record<string, RegExp> = {
    "x-content-type-options": /^nosniff$/,
    "x-frame-options": /^DENY$/,
    "content-security-policy": /default-src 'none'.*frame-ancestors 'none'/,
    "strict-transport-security": /max-age=\d{7,}/,
    "referrer-policy": /^no-referrer$/,
    "cache-control": /^no-store$/,
  };
  /**
   * Pages (kind "page") carry no tenant data and keep everything but the CSP and caching:
   * their own CSP allows only this origin and nothing inline (test/web.test.ts checks each
   * directive), and they are revalidated, not unstored.
   */
  const PAGE: Record<string, RegExp> = {
    ...EXPECTED,
    "content-security-policy": /^default-src 'none'; script-src 'self'; style-src 'self';.*frame-ancestors 'none'$/,
    "cache-control": /^no-cache$/,
  };
  /** Their scripts and stylesheets: the API's CSP (nothing loads from a script file), revalidated. */
  const ASSET: Record<string, RegExp> = { ...EXPECTED, "cache-control": /^no-cache$/ };
  const expectHeaders = (res: Response, label: string, expected = EXPECTED) => {
    for (const [name, pattern] of Object.entries(expected)) expect(res.headers.get(name) ?? "", `${label}: ${name}`).toMatch(pattern);
    expect(res.headers.get("content-security-policy") ?? "", `${label}: CSP`).not.toMatch(/unsafe-|https?:|\*/);
    expect(res.headers.get("x-powered-by"), label).toBeNull();
  };

  it("on every route, for successes and for every kind of refusal", async () => {
    const owner = await platformToken();
    const requests: [string, ServedRoute, RequestInit][] = [];
    for (const route of servedRoutes()) {
      const body = route.method === "POST" ? JSON.stringify({ id: `hdr-${route.path}`, org: "acme", user_id: "u", service_id: "web", provider: "github" }) : undefined;
      const json = { "content-type": "application/json" };
      requests.push(
        ["authorized", route, { method: route.method, headers: { authorization: `Bearer ${owner}`, ...json }, body: body && JSON.stringify({ ...JSON.parse(body), id: "hdr-ok" }) }],
        ["no token", route, { method: route.method, headers: json, body }],
        ["forbidden", route, { method: route.method, headers: { authorization: `Bearer ${await orgToken("other")}`, ...json }, body }],
        ["bad input", route, { method: route.method, headers: { authorization: `Bearer ${await ingestToken()}`, ...json }, body: route.method === "POST" ? "{" : undefined }],
      );
    }
    for (const [label, route, init] of requests) {
      const res = await requestWith({}, pathFor(route, "acme") + (label === "bad input" && route.method === "GET" ? "?start_date=nope" : ""), init);
      // a page's own policy only where the page itself is served; its errors are the API's JSON
      const served = route.kind === "page" && res.ok;
      expectHeaders(res, `${label} ${route.label} → ${res.status}`, !served ? EXPECTED : route.path.startsWith("/assets/") ? ASSET : PAGE);
    }
  });

  it("on 404s, 405-ish methods, preflights, 413s and 503s", async () => {
    expectHeaders(await requestWith({}, "/nope"), "404");
    expectHeaders(await requestWith({}, "/api/events", { method: "DELETE" }), "DELETE");
    expectHeaders(await requestWith({ CORS_ALLOWED_ORIGINS: "https://a.test" }, "/api/events", { method: "OPTIONS", headers: { origin: "https://a.test" } }), "preflight");
    const big = await requestWith({}, "/api/events", {
      method: "POST",
      headers: { authorization: `Bearer ${await ingestToken()}`, "content-type": "application/json" },
      body: "x".repeat(1024 * 1024 + 1),
    });
    expect(big.status).toBe(413);
    expectHeaders(big, "413");
    const down = downD1();
    const unavailable = await requestWith(down, "/api/organizations/acme/analytics/summary", { headers: { authorization: `Bearer ${await platformToken()}` } });
    expect(unavailable.status).toBe(503);
    expectHeaders(unavailable, "503");
  });
});

describe("no secret or key material in responses or logs", () => {
  it("tokens, signatures and key material never appear in a response or a log line, whatever the outcome", async () => {
    const logged: string[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        logged.push(args.map((a) => (a instanceof Error ? `${a.message}\n${a.stack}` : typeof a === "string" ? a : JSON.stringify(a))).join(" "));
      });
    }
    const good = await platformToken();
    const expired = await token({ claims: { is_platform_owner: true }, expiresIn: Math.floor(Date.now() / 1000) - 3600 });
    const forged = `${good.split(".").slice(0, 2).join(".")}.${"A".repeat(342)}`;
    const secrets = [good, expired, forged, good.split(".")[2], expired.split(".")[2], ...testKeys.flatMap((k) => [k.privateJwk.d, k.privateJwk.p, k.privateJwk.q].filter(Boolean) as string[])];
    const SECRET_CONFIG = "SECRET-CONFIG-VALUE-5f2c";

    const responses: Response[] = [];
    for (const tok of [good, expired, forged]) {
      for (const route of servedRoutes()) {
        const init = {
          method: route.method,
          headers: { authorization: `Bearer ${tok}`, "content-type": "application/json" },
          body: route.method === "POST" ? `{"id": "${tok}"` : undefined,
        };
        responses.push(await requestWith({}, `${pathFor(route, "acme")}?start_date=${tok}`, init));
      }
      // broken configuration and a database outage: the error paths that log
      responses.push(await requestWith({ JWT_PUBLIC_JWKS: `${SECRET_CONFIG}{` }, "/api/platform/analytics/overview", { headers: { authorization: `Bearer ${tok}` } }));
      responses.push(await requestWith({ JWKS_URL: `not a url ${SECRET_CONFIG}` }, "/api/platform/analytics/overview", { headers: { authorization: `Bearer ${tok}` } }));
      const down = downD1();
      responses.push(await requestWith(down, "/api/platform/analytics/overview", { headers: { authorization: `Bearer ${tok}` } }));
    }
    const statuses = new Set(responses.map((r) => r.status));
    for (const s of [200, 400, 401, 500, 503]) expect(statuses, `covers ${s}`).toContain(s);
    expect(logged.length).toBeGreaterThan(0); // the error paths did log
    for (const res of responses) {
      const text = `${[...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n${await res.text()}`;
      for (const secret of [...secrets, SECRET_CONFIG]) expect(text.includes(secret), `response ${res.status} echoes a secret`).toBe(false);
    }
    for (const line of logged) for (const secret of [...secrets, SECRET_CONFIG]) expect(line.includes(secret), `log line echoes a secret: ${line.slice(0, 120)}`).toBe(false);
  });
});

describe("recent-logins' next link never reflects the request's host", () => {
  it("is a relative reference to this route with only limit and cursor, whatever Host and query the request carried", async () => {
    await ingest([
      { id: "link-1", org: "acme", user_id: "u-link", service_id: "web", provider: "github" },
      { id: "link-2", org: "acme", user_id: "u-link", service_id: "web", provider: "github" },
    ]);
    const res = await exports.default.fetch(
      new Request("https://attacker.example/api/organizations/acme/analytics/recent-logins?limit=1&access_token=leak", {
        headers: { host: "attacker.example", authorization: `Bearer ${await orgToken("acme")}` },
      }),
    );
    expect(res.status).toBe(200);
    const link = res.headers.get("link")!;
    expect(link).toMatch(/^<\/api\/organizations\/acme\/analytics\/recent-logins\?limit=1&cursor=[^&>]+>; rel="next"$/);
    expect(link).not.toContain("attacker");
    expect(link).not.toContain("leak");
  });
});
