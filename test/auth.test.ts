import { base64url, importJWK, jwtVerify, SignJWT, UnsecuredJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { AUDIENCE, countEverywhere, ingest, ingestToken, ISSUER, request, strangerKey, testKeys, token } from "./helpers";
import { expectErrorBody } from "./contract";
import { prepareRouteData } from "./route-data";
import { initFor, pathFor, protectedRoutes, type RouteKind, type ServedRoute } from "./routes";

/**
 * The auth matrix: every case below runs against every route. Org routes read
 * org "acme" (seeded before the matrix, so an authorized read is a 200); the
 * ingest route posts one "acme" event (an authorized write is a 202).
 */

type Kind = Exclude<RouteKind, "public">;
const KINDS: Kind[] = ["org", "platform", "ingest", "org-admin", "inventory"];

/** Every protected route the router serves (test/routes.ts), org routes pointed at "acme". */
const ROUTES = protectedRoutes().map((r) => ({ route: r, kind: r.kind as Kind, method: r.method, path: pathFor(r, "acme") }));
const ORG_ROUTES = ROUTES.filter((r) => r.kind === "org");

/** "ok": the route's success status (200 for reads and governance writes, 202 for ingest). */
type Outcome = "ok" | { status: 401 | 403; code: "UNAUTHORIZED" | "TOKEN_EXPIRED" | "JWT_ERROR" | "FORBIDDEN" };

const unauthorized = { status: 401, code: "UNAUTHORIZED" } as const;
const expired = { status: 401, code: "TOKEN_EXPIRED" } as const;
const jwtError = { status: 401, code: "JWT_ERROR" } as const;
const forbidden = { status: 403, code: "FORBIDDEN" } as const;
const everywhere = (o: Outcome): Record<Kind, Outcome> => Object.fromEntries(KINDS.map((k) => [k, o])) as Record<Kind, Outcome>;
/** A valid token's outcomes: allowed on the listed kinds of route, FORBIDDEN on the others. */
const allows = (...kinds: Kind[]): Record<Kind, Outcome> =>
  Object.fromEntries(KINDS.map((k) => [k, kinds.includes(k) ? "ok" : forbidden])) as Record<Kind, Outcome>;

/**
 * Claims of a token that would be fully allowed on org and ingest routes, so only the defect
 * under test matters: it writes (events:write) and, explicitly, reads (analytics:read).
 */
const ORG_WRITER = { org: "acme", scope: "events:write analytics:read" };

const nowSeconds = () => Math.floor(Date.now() / 1000);
const b64json = (value: unknown) => base64url.encode(JSON.stringify(value));

/** A well-formed, correctly claimed but unsigned token (`alg: none`) naming a published kid. */
function unsignedToken(): string {
  const header = { alg: "none", typ: "JWT", kid: testKeys[0].kid };
  const now = nowSeconds();
  const payload = { sub: "attacker", ...ORG_WRITER, is_platform_owner: true, iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600 };
  return `${b64json(header)}.${b64json(payload)}.`;
}

/** Algorithm confusion: HS256 whose HMAC secret is the published RS256 public key material. */
function hmacWithPublicKey(secret: Uint8Array): Promise<string> {
  return new SignJWT({ sub: "attacker", ...ORG_WRITER, is_platform_owner: true })
    .setProtectedHeader({ alg: "HS256", kid: testKeys[0].kid, typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime("10m")
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .sign(secret);
}

interface AuthCase {
  name: string;
  /** The Authorization header value; undefined sends none. */
  authorization: () => Promise<string | undefined>;
  expect: Record<Kind, Outcome>;
}

const bearerOf = (make: () => Promise<string>) => async () => `Bearer ${await make()}`;

const CASES: AuthCase[] = [
  // ---- header problems: UNAUTHORIZED ----
  { name: "no Authorization header", authorization: async () => undefined, expect: everywhere(unauthorized) },
  { name: 'header "Bearer" alone', authorization: async () => "Bearer", expect: everywhere(unauthorized) },
  { name: 'header "Bearer " with only whitespace', authorization: async () => "Bearer    ", expect: everywhere(unauthorized) },
  { name: 'header "Basic xxx"', authorization: async () => "Basic dXNlcjpwYXNz", expect: everywhere(unauthorized) },
  {
    name: "valid token under the Basic scheme",
    authorization: async () => `Basic ${await token({ claims: ORG_WRITER })}`,
    expect: everywhere(unauthorized),
  },
  {
    name: "two tokens in one header",
    authorization: async () => `Bearer ${await token({ claims: ORG_WRITER })} ${await token({ claims: ORG_WRITER })}`,
    expect: everywhere(unauthorized),
  },

  {
    name: 'lower-case "bearer" scheme (schemes are case-insensitive)',
    authorization: async () => `bearer ${await token({ claims: ORG_WRITER })}`,
    expect: allows("org", "ingest"),
  },

  // ---- a Bearer header whose token is invalid: JWT_ERROR / TOKEN_EXPIRED ----
  { name: "garbage token abc.def", authorization: async () => "Bearer abc.def", expect: everywhere(jwtError) },
  { name: "garbage three-part token", authorization: async () => "Bearer abc.def.ghi", expect: everywhere(jwtError) },
  {
    name: "bad signature (unpublished key with a published kid)",
    authorization: bearerOf(() => token({ key: strangerKey, claims: ORG_WRITER })),
    expect: everywhere(jwtError),
  },
  {
    name: "tampered payload (signature of another payload)",
    authorization: bearerOf(async () => {
      const [h, , s] = (await token({ claims: ORG_WRITER })).split(".");
      const now = nowSeconds();
      const forged = b64json({ sub: "user_test", ...ORG_WRITER, is_platform_owner: true, iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600 });
      return `${h}.${forged}.${s}`;
    }),
    expect: everywhere(jwtError),
  },
  {
    name: "stripped signature (header.payload. of a valid token)",
    authorization: bearerOf(async () => `${(await token({ claims: ORG_WRITER })).split(".").slice(0, 2).join(".")}.`),
    expect: everywhere(jwtError),
  },
  {
    name: "signature part removed entirely (header.payload)",
    authorization: bearerOf(async () => (await token({ claims: ORG_WRITER })).split(".").slice(0, 2).join(".")),
    expect: everywhere(jwtError),
  },
  {
    name: "oversized: validly signed, but over the 8192-character cap (padding claim)",
    authorization: bearerOf(() => token({ claims: { ...ORG_WRITER, padding: "x".repeat(9000) } })),
    expect: everywhere(jwtError),
  },
  {
    name: "oversized: 60 KiB of token characters",
    authorization: async () => `Bearer ${"A".repeat(60 * 1024)}`,
    expect: everywhere(jwtError),
  },
  {
    name: "just under the cap: validly signed with a padding claim (the cap does not refuse real tokens)",
    authorization: bearerOf(() => token({ claims: { ...ORG_WRITER, padding: "x".repeat(5000) } })),
    expect: allows("org", "ingest"),
  },
  {
    name: "unknown kid",
    authorization: bearerOf(() => token({ claims: ORG_WRITER, header: { kid: "no-such-key" } })),
    expect: everywhere(jwtError),
  },
  {
    name: "expired beyond the 30 s tolerance",
    authorization: bearerOf(() => token({ claims: ORG_WRITER, expiresIn: nowSeconds() - 120 })),
    expect: everywhere(expired),
  },
  {
    name: "expired AND badly signed (the signature is judged first: no expiry hint for forgeries)",
    authorization: bearerOf(() => token({ key: strangerKey, claims: ORG_WRITER, expiresIn: nowSeconds() - 120 })),
    expect: everywhere(jwtError),
  },
  {
    name: "expired 10 s ago (within the 30 s tolerance)",
    authorization: bearerOf(() => token({ claims: ORG_WRITER, expiresIn: nowSeconds() - 10 })),
    expect: allows("org", "ingest"),
  },
  {
    name: "not yet valid beyond the 30 s tolerance",
    authorization: bearerOf(() => token({ claims: ORG_WRITER, notBefore: nowSeconds() + 120 })),
    expect: everywhere(jwtError),
  },
  {
    name: "not yet valid for 10 s (within the 30 s tolerance)",
    authorization: bearerOf(() => token({ claims: ORG_WRITER, notBefore: nowSeconds() + 10 })),
    expect: allows("org", "ingest"),
  },
  { name: "wrong issuer", authorization: bearerOf(() => token({ claims: ORG_WRITER, issuer: "https://evil.test" })), expect: everywhere(jwtError) },
  { name: "wrong audience", authorization: bearerOf(() => token({ claims: ORG_WRITER, audience: "someone-else" })), expect: everywhere(jwtError) },
  { name: "missing issuer", authorization: bearerOf(() => token({ claims: ORG_WRITER, issuer: null })), expect: everywhere(jwtError) },
  { name: "missing audience", authorization: bearerOf(() => token({ claims: ORG_WRITER, audience: null })), expect: everywhere(jwtError) },
  { name: "alg none (unsigned)", authorization: async () => `Bearer ${unsignedToken()}`, expect: everywhere(jwtError) },
  {
    name: "HS256 keyed with the RS256 public modulus bytes",
    authorization: bearerOf(() => hmacWithPublicKey(base64url.decode(testKeys[0].publicJwk.n as string))),
    expect: everywhere(jwtError),
  },
  {
    name: "HS256 keyed with the RS256 public JWK JSON text",
    authorization: bearerOf(() => hmacWithPublicKey(new TextEncoder().encode(JSON.stringify(testKeys[0].publicJwk)))),
    expect: everywhere(jwtError),
  },
  {
    name: "is_platform_owner as the string \"true\" (not a boolean)",
    authorization: bearerOf(() => token({ claims: { is_platform_owner: "true" } })),
    expect: everywhere(jwtError),
  },

  // ---- every allowed algorithm works ----
  ...testKeys.flatMap((key): AuthCase[] => [
    {
      name: `${key.alg} org token for acme with events:write and analytics:read`,
      authorization: bearerOf(() => token({ key, claims: ORG_WRITER })),
      expect: allows("org", "ingest"),
    },
    {
      name: `${key.alg} platform-owner token`,
      authorization: bearerOf(() => token({ key, claims: { is_platform_owner: true } })),
      // no events:write scope: a platform owner still needs the scope to write
      expect: allows("org", "platform", "org-admin"),
    },
  ]),

  // ---- authorization: FORBIDDEN ----
  {
    name: 'other organization\'s token (org "other")',
    authorization: bearerOf(() => token({ claims: { org: "other", scope: "events:write" } })),
    expect: everywhere(forbidden),
  },
  {
    name: 'end-user service token (org "acme", service "app")',
    authorization: bearerOf(() => token({ claims: { org: "acme", service: "app" } })),
    expect: everywhere(forbidden),
  },
  {
    name: "end-user service token with events:write (a service token is refused everywhere)",
    authorization: bearerOf(() => token({ claims: { org: "acme", service: "app", scope: "events:write" } })),
    expect: everywhere(forbidden),
  },
  {
    name: "end-user service token claiming platform owner",
    authorization: bearerOf(() => token({ claims: { is_platform_owner: true, service: "svc-x" } })),
    expect: everywhere(forbidden),
  },
  {
    name: "end-user service token claiming platform owner, events:write and analytics:read",
    authorization: bearerOf(() => token({ claims: { is_platform_owner: true, service: "svc-x", scope: "events:write analytics:read" } })),
    expect: everywhere(forbidden),
  },
  {
    name: "org-bound ingest token (events:write only) cannot read its own org",
    authorization: bearerOf(() => ingestToken("acme")),
    expect: allows("ingest"),
  },
  {
    name: "org-bound inventory token (inventory:write only) writes its org's inventory and reads nothing",
    authorization: bearerOf(() => token({ claims: { org: "acme", scope: "inventory:write" } })),
    expect: allows("inventory"),
  },
  {
    name: "org token with analytics:read only",
    authorization: bearerOf(() => token({ claims: { org: "acme", scope: "analytics:read" } })),
    expect: allows("org"),
  },
  {
    name: "scope joined by an ideographic space (x\u3000events:write) grants nothing",
    authorization: bearerOf(() => token({ claims: { org: "acme", scope: "x\u3000events:write" } })),
    expect: allows("org"),
  },
  {
    name: "scopes joined by a tab (events:write\tanalytics:read) grant nothing",
    authorization: bearerOf(() => token({ claims: { org: "acme", scope: "events:write\tanalytics:read" } })),
    expect: allows("org"),
  },
  {
    name: "scopes separated by several ASCII spaces",
    authorization: bearerOf(() => token({ claims: { org: "acme", scope: "  events:write   analytics:read " } })),
    expect: allows("org", "ingest"),
  },
  {
    name: "org token without any scope",
    authorization: bearerOf(() => token({ claims: { org: "acme" } })),
    expect: allows("org"),
  },
  {
    name: "org token with is_platform_owner false",
    authorization: bearerOf(() => token({ claims: { org: "acme", is_platform_owner: false } })),
    expect: allows("org"),
  },
  {
    name: "token without org or platform owner (plain user)",
    authorization: bearerOf(() => token()),
    expect: everywhere(forbidden),
  },
  {
    name: "unbound ingest token (scope events:write, no org)",
    authorization: bearerOf(() => ingestToken()),
    expect: allows("ingest"),
  },
  {
    name: "scope list containing events:write",
    authorization: bearerOf(() => token({ claims: { scope: "events:read events:write analytics:read" } })),
    expect: allows("ingest"),
  },
  {
    name: "scope events:read only",
    authorization: bearerOf(() => token({ claims: { org: "acme", scope: "events:read" } })),
    expect: allows("org"),
  },
  {
    name: "scope events:writer (prefix look-alike)",
    authorization: bearerOf(() => token({ claims: { org: "acme", scope: "events:writer" } })),
    expect: allows("org"),
  },
  {
    name: "platform owner with events:write only (a machine credential: writes, reads nothing)",
    authorization: bearerOf(() => token({ claims: { is_platform_owner: true, scope: "events:write" } })),
    expect: allows("ingest"),
  },
  {
    name: "platform owner with events:write and analytics:read",
    authorization: bearerOf(() => token({ claims: { is_platform_owner: true, scope: "events:write analytics:read" } })),
    expect: allows("org", "platform", "ingest", "org-admin"),
  },

  // ---- governance writes: org:admin (settings), inventory:write (identity inventory) ----
  {
    name: "org token for acme with org:admin",
    authorization: bearerOf(() => token({ claims: { org: "acme", scope: "org:admin" } })),
    expect: allows("org", "org-admin"),
  },
  {
    name: "org token for another org with org:admin",
    authorization: bearerOf(() => token({ claims: { org: "other", scope: "org:admin analytics:read" } })),
    expect: everywhere(forbidden),
  },
  {
    name: "org:admin without an org claim (not the platform owner)",
    authorization: bearerOf(() => token({ claims: { scope: "org:admin" } })),
    expect: everywhere(forbidden),
  },
  {
    name: "scope org:administrator (prefix look-alike)",
    authorization: bearerOf(() => token({ claims: { org: "acme", scope: "org:administrator" } })),
    expect: allows("org"),
  },
  {
    name: "org:admin together with events:write (a machine credential) administers nothing",
    authorization: bearerOf(() => token({ claims: { org: "acme", scope: "org:admin events:write" } })),
    expect: allows("ingest"),
  },
  {
    name: "unbound inventory token (inventory:write, no org)",
    authorization: bearerOf(() => token({ claims: { scope: "inventory:write" } })),
    expect: allows("inventory"),
  },
  {
    name: "inventory token bound to another org",
    authorization: bearerOf(() => token({ claims: { org: "other", scope: "inventory:write" } })),
    expect: everywhere(forbidden),
  },
  {
    name: "scope inventory:writer (prefix look-alike)",
    authorization: bearerOf(() => token({ claims: { org: "acme", scope: "inventory:writer" } })),
    expect: allows("org"),
  },
  {
    name: "platform owner with every scope",
    authorization: bearerOf(() => token({ claims: { is_platform_owner: true, scope: "events:write analytics:read inventory:write org:admin" } })),
    expect: allows("org", "platform", "ingest", "org-admin", "inventory"),
  },
];

function send(target: { route: ServedRoute; path: string }, authorization: string | undefined): Promise<Response> {
  const { headers: bodyHeaders, ...init } = initFor(target.route, "acme");
  const headers = new Headers(bodyHeaders);
  if (authorization !== undefined) headers.set("authorization", authorization);
  return request(target.path, { ...init, headers });
}

const count = countEverywhere;

beforeAll(async () => {
  expect(await ingest([{ id: "seed-1", org: "acme", user_id: "u-seed", service_id: "web", provider: "github" }])).toEqual({
    accepted: 1,
    duplicates: 0,
  });
  await prepareRouteData("acme");
});

describe("auth matrix", () => {
  it("covers every route and both directions of every rule", () => {
    // all 16 routes of today; more as they land (test/routes.ts reads them from the router)
    expect(ROUTES.length).toBeGreaterThanOrEqual(16);
    for (const kind of KINDS) expect(ROUTES.some((r) => r.kind === kind), kind).toBe(true);
    // each kind has at least one allowing and one refusing case, so no column is vacuous
    for (const kind of KINDS) {
      expect(CASES.some((c) => c.expect[kind] === "ok")).toBe(true);
      expect(CASES.some((c) => typeof c.expect[kind] === "object")).toBe(true);
    }
  });

  for (const c of CASES) {
    describe(c.name, () => {
      for (const route of ROUTES) {
        const outcome = c.expect[route.kind];
        const label = outcome === "ok" ? `${route.route.okStatus}` : `${outcome.status} ${outcome.code}`;
        it(`${route.method} ${route.path} → ${label}`, async () => {
          const res = await send(route, await c.authorization());
          if (outcome === "ok") {
            const text = await res.text();
            expect({ status: res.status, text }).toEqual({ status: route.route.okStatus, text });
            expect(res.headers.get("content-type")).toMatch(/^application\/json/);
            const body = JSON.parse(text);
            if (route.kind === "ingest") expect(body).toEqual({ accepted: 1, duplicates: 0 });
            else expect(body).not.toBeNull();
          } else {
            await expectErrorBody(res, outcome.status, outcome.code);
          }
        });
      }
    });
  }
});

describe("the crafted attack tokens are otherwise valid (controls for the matrix)", () => {
  const claimChecks = { issuer: ISSUER, audience: AUDIENCE };

  it("the alg-none token decodes as an unsecured JWT with good claims", () => {
    const { payload, header } = UnsecuredJWT.decode(unsignedToken(), claimChecks);
    expect(header).toEqual({ alg: "none", typ: "JWT", kid: testKeys[0].kid });
    expect(payload).toMatchObject({ ...ORG_WRITER, is_platform_owner: true });
  });

  it("the HS256 confusion tokens verify under HS256 with the public key material as secret", async () => {
    for (const secret of [base64url.decode(testKeys[0].publicJwk.n as string), new TextEncoder().encode(JSON.stringify(testKeys[0].publicJwk))]) {
      const { payload, protectedHeader } = await jwtVerify(await hmacWithPublicKey(secret), secret, { ...claimChecks, algorithms: ["HS256"] });
      expect(protectedHeader).toMatchObject({ alg: "HS256", kid: testKeys[0].kid });
      expect(payload).toMatchObject(ORG_WRITER);
    }
  });

  it("the stranger-signed token is a valid RS256 token for the stranger's key, under the published kid", async () => {
    expect(strangerKey.kid).toBe(testKeys[0].kid);
    const tok = await token({ key: strangerKey, claims: ORG_WRITER });
    const { protectedHeader } = await jwtVerify(tok, await importJWK(strangerKey.publicJwk, "RS256"), { ...claimChecks, algorithms: ["RS256"] });
    expect(protectedHeader).toMatchObject({ alg: "RS256", kid: testKeys[0].kid });
  });

  it("the unknown-kid token is signed by a published key", async () => {
    const tok = await token({ claims: ORG_WRITER, header: { kid: "no-such-key" } });
    const { protectedHeader } = await jwtVerify(tok, await importJWK(testKeys[0].publicJwk, "RS256"), { ...claimChecks, algorithms: ["RS256"] });
    expect(protectedHeader.kid).toBe("no-such-key");
  });
});

describe("authorized reads return the data", () => {
  it("an acme org token sees acme's logins", async () => {
    const res = await send(ORG_ROUTES.find((r) => r.path.endsWith("/login-trends"))!, `Bearer ${await token({ claims: { org: "acme" } })}`);
    expect(res.status).toBe(200);
    const rows = (await res.json()) as { date: string; count: number }[];
    expect(rows).toHaveLength(1);
    expect(rows[0].date).toBe(new Date().toISOString().slice(0, 10));
    expect(rows[0].count).toBeGreaterThanOrEqual(1);
  });

  it("an other-org token is refused before org existence is revealed (403, not 404)", async () => {
    const res = await request("/api/organizations/no-such-org/analytics/login-trends", { token: await token({ claims: { org: "other" } }) });
    await expectErrorBody(res, 403, "FORBIDDEN");
  });

  it("the platform owner gets 404 for an unknown organization", async () => {
    const res = await request("/api/organizations/no-such-org/analytics/login-trends", { token: await token({ claims: { is_platform_owner: true } }) });
    await expectErrorBody(res, 404, "NOT_FOUND");
  });

  it("auth is checked before query validation", async () => {
    const res = await request("/api/organizations/acme/analytics/login-trends?start_date=garbage");
    await expectErrorBody(res, 401, "UNAUTHORIZED");
    const forbiddenRes = await request("/api/organizations/acme/analytics/login-trends?start_date=garbage", {
      token: await token({ claims: { org: "other" } }),
    });
    await expectErrorBody(forbiddenRes, 403, "FORBIDDEN");
  });
});

describe("ingest org binding", () => {
  const post = async (tok: string, body: unknown) =>
    request("/api/events", { method: "POST", token: tok, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const totals = async () => ({
    events: await count("SELECT COUNT(*) AS n FROM login_events"),
    orgs: await count("SELECT COUNT(*) AS n FROM organizations"),
    identities: await count("SELECT COUNT(*) AS n FROM identities"),
    services: await count("SELECT COUNT(*) AS n FROM services"),
  });

  it('an "acme"-bound token writing a "globex" event gets 403 and nothing is stored', async () => {
    const before = await totals();
    const res = await post(await ingestToken("acme"), { id: "bind-1", org: "globex", user_id: "u1", service_id: "web", provider: "github" });
    const body = await expectErrorBody(res, 403, "FORBIDDEN");
    expect(body.error).toContain("globex");
    expect(await totals()).toEqual(before);
    expect(await count("SELECT COUNT(*) AS n FROM organizations WHERE slug = 'globex'")).toBe(0);
  });

  it('an "acme"-bound token writing a batch mixing acme and globex gets 403 and not even the acme event is stored', async () => {
    const before = await totals();
    const res = await post(await ingestToken("acme"), {
      events: [
        { id: "bind-2", org: "acme", user_id: "u-new-1", service_id: "new-svc", provider: "github" },
        { id: "bind-3", org: "globex", user_id: "u1", service_id: "web", provider: "github" },
      ],
    });
    await expectErrorBody(res, 403, "FORBIDDEN");
    expect(await totals()).toEqual(before);
    expect(await count("SELECT COUNT(*) AS n FROM login_events WHERE event_id IN ('bind-2', 'bind-3')")).toBe(0);
  });

  it('an "acme"-bound token writes acme events', async () => {
    const res = await post(await ingestToken("acme"), { id: "bind-4", org: "acme", user_id: "u1", service_id: "web", provider: "github" });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1, duplicates: 0 });
  });

  it("an unbound ingest token may write any organization, in one batch", async () => {
    const res = await post(await ingestToken(), {
      events: [
        { id: "bind-5", org: "globex", user_id: "u1", service_id: "web", provider: "github" },
        { id: "bind-6", org: "initech", user_id: "u1", service_id: "web", provider: "google" },
      ],
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 2, duplicates: 0 });
    expect(
      await count(
        "SELECT COUNT(*) AS n FROM login_events e JOIN organizations o ON o.id = e.org_id WHERE (o.slug, e.event_id) IN (VALUES ('globex', 'bind-5'), ('initech', 'bind-6'))",
      ),
    ).toBe(2);
  });

  it("a token without events:write is refused before the body is even parsed", async () => {
    const res = await request("/api/events", {
      method: "POST",
      token: await token({ claims: { org: "acme" } }),
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    await expectErrorBody(res, 403, "FORBIDDEN");
  });

  it("an unauthenticated POST is refused before the body is parsed", async () => {
    const res = await request("/api/events", { method: "POST", headers: { "content-type": "text/plain" }, body: "{not json" });
    await expectErrorBody(res, 401, "UNAUTHORIZED");
  });
});
