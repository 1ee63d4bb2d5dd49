import { env } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { JWKS_TIMEOUT_MS } from "../src/auth/jwt";
import { expectErrorBody } from "./contract";
import { ingest, requestWith, strangerKey, testKeys, token } from "./helpers";
import { prepareRouteData } from "./route-data";
import { initFor, pathFor, protectedRoutes, type ServedRoute } from "./routes";

/**
 * Remote key sets (JWKS_URL): cached per isolate, refreshed on jose's schedule, and
 * failing CLOSED. The worker runs with JWKS_URL set and no local keys; outbound fetches
 * are answered by a fake JWKS endpoint. Each test uses its own URL, so each starts with
 * an empty key-set cache.
 */

type Jwk = Record<string, unknown>;
const publicKeys = testKeys.map((k) => k.publicJwk);
const rotatedKid = "rotated-2026";
const rotatedPublic: Jwk = { ...strangerKey.publicJwk, kid: rotatedKid };

// The worker caches key sets per URL at module scope, which outlives this file (vitest.config.ts:
// `isolate: false`): a fresh URL per endpoint, unique to this run of the file.
const run = crypto.randomUUID();
let urlSeq = 0;
interface FakeJwks {
  url: string;
  calls: () => number;
  /** What the endpoint answers from now on. */
  serve: (answer: () => Promise<Response> | Response) => void;
}

function fakeJwksEndpoint(keys: Jwk[] = publicKeys): FakeJwks {
  const url = `https://keys.test/${run}/${++urlSeq}/.well-known/jwks.json`;
  let calls = 0;
  let answer: () => Promise<Response> | Response = () => Response.json({ keys });
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const href = input instanceof Request ? input.url : String(input);
    if (href !== url) return real(input, init);
    calls++;
    const signal = init?.signal ?? undefined;
    return Promise.race([
      answer(),
      new Promise<Response>((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason))),
    ]);
  });
  return {
    url,
    calls: () => calls,
    serve: (a) => {
      answer = a;
    },
  };
}

const envWith = (jwksUrl: string) => ({ ...env, JWKS_URL: jwksUrl, JWT_PUBLIC_JWKS: "" });

/** An authorized call of the route (test/routes.ts gives write routes their body) with JWKS_URL set. */
async function call(jwksUrl: string, route: { route: ServedRoute; path: string }, tok: string) {
  const { headers: bodyHeaders, token: _none, ...init } = initFor(route.route, "acme");
  const headers = new Headers(bodyHeaders);
  headers.set("authorization", `Bearer ${tok}`);
  return requestWith(envWith(jwksUrl), route.path, { ...init, headers });
}

const ROUTES = protectedRoutes().map((r) => ({ route: r, kind: r.kind, method: r.method, path: pathFor(r, "acme") }));
const TRENDS = ROUTES.find((r) => r.path.endsWith("/login-trends"))!;
/** Allowed everywhere: platform owner (reads any org and the platform view) with every write scope and analytics:read. */
const ALL_ACCESS = { is_platform_owner: true, scope: "events:write inventory:write analytics:read" };

beforeAll(async () => {
  await ingest([{ id: "jwks-seed", org: "acme", user_id: "u-seed", service_id: "web", provider: "github" }]);
  await prepareRouteData("acme");
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("remote JWKS", () => {
  it("verifies every protected route against the fetched set, fetched once and then cached", async () => {
    const jwks = fakeJwksEndpoint();
    for (const route of ROUTES) {
      for (const key of testKeys) {
        const res = await call(jwks.url, route, await token({ key, claims: ALL_ACCESS }));
        expect({ route: route.path, status: res.status }).toEqual({ route: route.path, status: route.route.okStatus });
      }
    }
    expect(jwks.calls()).toBe(1);
  });

  const outages: [string, () => Promise<Response> | Response][] = [
    ["the endpoint is unreachable", () => Promise.reject(new TypeError("Network connection lost."))],
    ["the endpoint answers 500", () => new Response("oops", { status: 500 })],
    ["the endpoint answers a redirect", () => new Response(null, { status: 302, headers: { location: "https://evil.test/jwks" } })],
    ["the endpoint answers HTML", () => new Response("<html>login</html>", { status: 200, headers: { "content-type": "text/html" } })],
    ["the endpoint answers JSON without keys", () => Response.json({ keys: "none" })],
    ["the endpoint answers an empty key set", () => Response.json({ keys: [] })],
    ["the endpoint answers a key set whose entries are not keys", () => Response.json({ keys: [{}, "key", null] })],
  ];
  for (const [name, answer] of outages) {
    it(`fails closed with 503 AUTH_UNAVAILABLE on every protected route when ${name}`, async () => {
      const jwks = fakeJwksEndpoint();
      jwks.serve(answer);
      // a perfectly valid all-access token: only the unverifiable key set stops it
      const tok = await token({ claims: ALL_ACCESS });
      for (const route of ROUTES) {
        const res = await call(jwks.url, route, tok);
        await expectErrorBody(res, 503, "AUTH_UNAVAILABLE");
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      }
      expect(jwks.calls()).toBe(ROUTES.length); // no cached failure hides a recovery
    });
  }

  it(`fails closed with 503 when the endpoint hangs, after ${JWKS_TIMEOUT_MS} ms`, async () => {
    const jwks = fakeJwksEndpoint();
    jwks.serve(() => new Promise<Response>(() => {}));
    const started = Date.now();
    const res = await call(jwks.url, TRENDS, await token({ claims: ALL_ACCESS }));
    await expectErrorBody(res, 503, "AUTH_UNAVAILABLE");
    expect(Date.now() - started).toBeGreaterThanOrEqual(JWKS_TIMEOUT_MS - 50);
    // and recovers as soon as the endpoint does
    jwks.serve(() => Response.json({ keys: publicKeys }));
    expect((await call(jwks.url, TRENDS, await token({ claims: ALL_ACCESS }))).status).toBe(200);
  });

  it("an empty key set is an outage: 503, then the very next request after the issuer recovers is verified (no cooldown)", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse("2026-11-22T09:00:00Z") });
    const jwks = fakeJwksEndpoint();
    jwks.serve(() => Response.json({ keys: [] }));
    const tok = await token({ claims: ALL_ACCESS });
    await expectErrorBody(await call(jwks.url, TRENDS, tok), 503, "AUTH_UNAVAILABLE");
    await expectErrorBody(await call(jwks.url, TRENDS, tok), 503, "AUTH_UNAVAILABLE");
    expect(jwks.calls()).toBe(2); // refetched on the next request, not cached as authoritative
    jwks.serve(() => Response.json({ keys: publicKeys }));
    // the clock has not moved: jose's 30 s cooldown would still be running had the empty set been taken
    expect((await call(jwks.url, TRENDS, tok)).status).toBe(200);
    expect(jwks.calls()).toBe(3);
  });

  it("picks up a rotated key only after jose's 30 s cooldown, and never trusts an unknown kid meanwhile", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse("2026-11-22T10:00:00Z") });
    const jwks = fakeJwksEndpoint();
    const rotatedToken = () => token({ key: strangerKey, header: { kid: rotatedKid }, claims: ALL_ACCESS });

    expect((await call(jwks.url, TRENDS, await token({ claims: ALL_ACCESS }))).status).toBe(200);
    expect(jwks.calls()).toBe(1);

    // the issuer rotates: the endpoint now publishes the new key
    jwks.serve(() => Response.json({ keys: [...publicKeys, rotatedPublic] }));
    vi.setSystemTime(Date.parse("2026-11-22T10:00:10Z"));
    await expectErrorBody(await call(jwks.url, TRENDS, await rotatedToken()), 401, "JWT_ERROR");
    expect(jwks.calls()).toBe(1); // within the cooldown: no refetch, an unknown kid is refused

    vi.setSystemTime(Date.parse("2026-11-22T10:00:31Z"));
    expect((await call(jwks.url, TRENDS, await rotatedToken())).status).toBe(200);
    expect(jwks.calls()).toBe(2); // one refetch after the cooldown

    // a flood of unknown kids right after cannot make the worker hammer the endpoint
    for (let i = 0; i < 5; i++) {
      await expectErrorBody(await call(jwks.url, TRENDS, await token({ header: { kid: `junk-${i}` }, claims: ALL_ACCESS })), 401, "JWT_ERROR");
    }
    expect(jwks.calls()).toBe(2);
  });

  it("refetches a set older than 10 minutes, and fails closed if that refresh fails", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse("2026-11-22T11:00:00Z") });
    const jwks = fakeJwksEndpoint();
    expect((await call(jwks.url, TRENDS, await token({ claims: ALL_ACCESS }))).status).toBe(200);
    vi.setSystemTime(Date.parse("2026-11-22T11:09:00Z"));
    expect((await call(jwks.url, TRENDS, await token({ claims: ALL_ACCESS }))).status).toBe(200);
    expect(jwks.calls()).toBe(1); // still fresh

    // the issuer revokes everything it published; the cached set is now stale
    jwks.serve(() => Promise.reject(new TypeError("Network connection lost.")));
    vi.setSystemTime(Date.parse("2026-11-22T11:11:00Z"));
    await expectErrorBody(await call(jwks.url, TRENDS, await token({ claims: ALL_ACCESS })), 503, "AUTH_UNAVAILABLE");
    expect(jwks.calls()).toBe(2);

    jwks.serve(() => Response.json({ keys: [rotatedPublic] }));
    vi.setSystemTime(Date.parse("2026-11-22T11:12:00Z"));
    // the refreshed set no longer has the old keys: old tokens stop working
    await expectErrorBody(await call(jwks.url, TRENDS, await token({ claims: ALL_ACCESS })), 401, "JWT_ERROR");
    expect((await call(jwks.url, TRENDS, await token({ key: strangerKey, header: { kid: rotatedKid }, claims: ALL_ACCESS }))).status).toBe(200);
  });
});
