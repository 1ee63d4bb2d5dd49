import { beforeAll, describe, expect, it } from "vitest";
import { expectErrorBody } from "./contract";
import { addDays, countEverywhere, DAY_MS, type EventInput, ingest, ingestToken, iso, orgToken, platformToken, request, rollup, todayDate, token } from "./helpers";
import { dbState } from "./db-state";
import { prepareRouteData } from "./route-data";
import { initFor, pathFor, servedRoutes, type ServedRoute } from "./routes";

/**
 * Tenant isolation over every route the router serves (test/routes.ts).
 *
 * A twin of tenant A (the same events under another slug) is read while it is alone in
 * the database: that is what A must answer. Then tenant C (A's user ids, service ids,
 * providers and even event ids) and A are stored, then B (the same again, plus
 * identifiers seen nowhere else). A is read with the others in the live tail and after
 * the rollup, by its own token and the platform owner: every answer must equal the
 * twin's byte for byte (a lookup missing its org would count, dedupe or pick another
 * tenant's row), and no B-only identifier may appear. Tokens for another org, end-user
 * service tokens and non-owners are refused on every route.
 */

const A = "tenant-a";
const B = "tenant-b";
const C = "tenant-c";
const TWIN = "tenant-twin";
const today = todayDate();

/** Identifiers that exist only in tenant B. */
const B_ONLY = {
  user: "b-only-user-7f3a",
  machine: "b-only-robot-91cc",
  service: "b-only-service-e2d0",
  serviceName: "B Only Service Name 5b1e",
  provider: "bonlyprovider",
  eventId: "b-only-event-44aa",
  userAgent: "B-Only-Agent/9.9 (c0ffee)",
  ip: "203.0.113.201",
};
const B_MARKERS = [B, ...Object.values(B_ONLY)];

function eventsOf(org: string, shared: number): EventInput[] {
  const out: EventInput[] = [];
  for (let i = 0; i < shared; i++) {
    const day = addDays(today, -1 - (i % 20));
    out.push({
      id: `evt-${i}`,
      org,
      user_id: `user-${i % 7}`,
      service_id: ["web", "mobile"][i % 2],
      service_name: ["Web app", "Mobile app"][i % 2],
      provider: ["github", "google", "password"][i % 3],
      identity_type: i % 5 === 0 ? "machine" : "human",
      outcome: i % 9 === 0 ? "failure" : "success",
      created_at: iso(day, `${String(i % 24).padStart(2, "0")}:15:00`),
    });
  }
  return out;
}

const bOnly: EventInput[] = Array.from({ length: 12 }, (_, i) => ({
  id: i === 0 ? B_ONLY.eventId : `${B_ONLY.eventId}-${i}`,
  org: B,
  user_id: i % 3 === 0 ? B_ONLY.machine : B_ONLY.user,
  identity_type: i % 3 === 0 ? "machine" : "human",
  service_id: B_ONLY.service,
  service_name: B_ONLY.serviceName,
  provider: B_ONLY.provider,
  user_agent: B_ONLY.userAgent,
  ip_address: B_ONLY.ip,
  created_at: iso(addDays(today, -1 - (i % 4)), "23:59:59"),
}));

/** Query variants for a route, built from the parameters it declares. */
function variants(route: ServedRoute): string[] {
  const names = new Set(route.query.map((q) => q.name));
  const out = [""];
  if (names.has("start_date")) {
    // wide, and one that starts after most identities were first seen
    out.push(`?start_date=${addDays(today, -60)}&end_date=${today}`, `?start_date=${addDays(today, -8)}&end_date=${addDays(today, -2)}`);
  }
  if (names.has("identity_type")) out.push("?identity_type=human", "?identity_type=machine");
  if (names.has("service_id")) out.push(`?service_id=web`, `?service_id=${B_ONLY.service}`);
  if (names.has("limit")) out.push("?limit=1000");
  if (names.has("days")) out.push("?days=1", "?days=7&limit=2");
  if (names.has("status")) for (const v of route.query.find((q) => q.name === "status")?.schema.enum ?? []) out.push(`?status=${v}`);
  if (names.has("format")) out.push("?format=csv");
  return out;
}

const orgRoutes = () => servedRoutes().filter((r) => r.kind === "org");

async function snapshotOf(org: string, tok: string): Promise<Map<string, string>> {
  const snap = new Map<string, string>();
  for (const route of orgRoutes()) {
    for (const q of variants(route)) {
      const url = pathFor(route, org) + q;
      const res = await request(url, { token: tok });
      const text = await res.text();
      expect({ url, status: res.status }).toEqual({ url, status: 200 });
      // keyed and compared without the slug, and without the cursor (it holds the row's storage
      // sequence, which differs between twins), so twins compare equal
      const link = (res.headers.get("link") ?? "").replaceAll(`/${org}/`, "/ORG/").replace(/cursor=[^&>]*/, "cursor=…");
      snap.set(pathFor(route, "ORG") + q, `${link}\n${text}`);
    }
  }
  return snap;
}

function expectNoMarkers(snap: Map<string, string>) {
  for (const [url, text] of snap) {
    for (const marker of B_MARKERS) expect(text.includes(marker), `${url} leaks "${marker}"`).toBe(false);
  }
}

let aToken: string;
/** What A must answer: its twin's answers while the twin was alone. */
let before: Map<string, string>;

beforeAll(async () => {
  aToken = await orgToken(A);
  expect(await ingest(eventsOf(TWIN, 150))).toEqual({ accepted: 150, duplicates: 0 });
  await prepareRouteData(TWIN);
  before = await snapshotOf(TWIN, await orgToken(TWIN));
  expect(await ingest([...eventsOf(C, 150), ...eventsOf(A, 150)])).toEqual({ accepted: 300, duplicates: 0 });
  await prepareRouteData(C);
  await prepareRouteData(A);
});

describe("tenant isolation", () => {
  it("the isolation snapshot is not vacuous: A's answers name A's data", () => {
    expect(before.size).toBeGreaterThanOrEqual(orgRoutes().length);
    const all = [...before.values()].join("\n");
    for (const seen of ["user-3", "web", "Web app", "github", "evt-1"]) expect(all).toContain(seen);
  });

  it("with C in the database, A answers exactly what its twin answered alone", async () => {
    expect(await snapshotOf(A, aToken)).toEqual(before);
  });

  it("with B's events in the live tail, every answer to A is still byte-identical", async () => {
    // B: the same identifiers and event ids as A, plus its own
    expect(await ingest([...eventsOf(B, 150), ...bOnly])).toEqual({ accepted: 150 + bOnly.length, duplicates: 0 });
    const after = await snapshotOf(A, aToken);
    expect(after).toEqual(before);
    expectNoMarkers(after);
  });

  it("B's data is really there: B's own token sees B-only identifiers (after B is stored)", async () => {
    await prepareRouteData(B);
    const snap = await snapshotOf(B, await orgToken(B));
    const all = [...snap.values()].join("\n");
    for (const marker of [B_ONLY.user, B_ONLY.service, B_ONLY.serviceName, B_ONLY.provider, B_ONLY.eventId]) expect(all).toContain(marker);
  });

  it("after the rollup, still byte-identical, also for the platform owner reading A", async () => {
    const result = await rollup();
    expect(result.complete).toBe(true);
    expect(await snapshotOf(A, aToken)).toEqual(before);
    const owner = await snapshotOf(A, await platformToken());
    expect(owner).toEqual(before);
    expectNoMarkers(owner);
  });

  it("a cursor issued for B's recent logins never pages into B's data on A's route", async () => {
    const recent = orgRoutes().find((r) => r.path.endsWith("/recent-logins"));
    expect(recent).toBeDefined();
    const bRes = await request(`${pathFor(recent!, B)}?limit=2`, { token: await orgToken(B) });
    const link = bRes.headers.get("link");
    expect(link).toMatch(/rel="next"/);
    const cursor = new URL(link!.slice(1, link!.indexOf(">")), "http://relative.invalid").searchParams.get("cursor")!;
    const res = await request(`${pathFor(recent!, A)}?limit=1000&cursor=${encodeURIComponent(cursor)}`, { token: aToken });
    const text = await res.text();
    expect([200, 400]).toContain(res.status);
    for (const marker of B_MARKERS) expect(text.includes(marker), marker).toBe(false);
  });

  describe("refusals on every route", () => {
    const everyOrgRoute = () => orgRoutes();
    const expect403 = async (path: string, tok: string, method = "GET") => expectErrorBody(await request(path, { method, token: tok }), 403, "FORBIDDEN");

    it("A's token gets 403 on B's data, and B's on A's, on every org route", async () => {
      const bToken = await orgToken(B);
      for (const route of everyOrgRoute()) {
        for (const q of variants(route)) {
          await expect403(pathFor(route, B) + q, aToken);
          await expect403(pathFor(route, A) + q, bToken);
        }
      }
    });

    it("A's token gets 403 for path tricks that name B", async () => {
      for (const route of everyOrgRoute()) {
        const tail = route.path.slice(route.path.indexOf(":org_slug") + ":org_slug".length);
        for (const slug of [B, "TENANT-B", "tenant-b%20", "tenant-b%00", `${A}/../${B}`, `${A}%2F..%2F${B}`, "%74enant-b"]) {
          const res = await request(`/api/organizations/${slug}${tail}`, { token: aToken });
          const text = await res.text();
          expect([403, 404], `${slug}${tail} → ${res.status}`).toContain(res.status);
          for (const marker of B_MARKERS) expect(text.includes(marker) && marker !== B, `${slug} leaks ${marker}`).toBe(false);
        }
      }
    });

    it("end-user service tokens get 403 on every org route, even for their own org", async () => {
      const service = await token({ claims: { org: A, service: "web", scope: "events:write" } });
      for (const route of everyOrgRoute()) await expect403(pathFor(route, A), service);
    });

    it("non-owners get 403 on every platform route", async () => {
      const platformRoutes = servedRoutes().filter((r) => r.kind === "platform");
      expect(platformRoutes.length).toBeGreaterThan(0);
      const nonOwners = [
        aToken,
        await ingestToken(),
        await token({ claims: { org: A, is_platform_owner: false } }),
        await token({ claims: { org: A, service: "web" } }),
        await token(),
      ];
      for (const route of platformRoutes) for (const tok of nonOwners) await expect403(pathFor(route, A), tok, route.method);
      // and the owner is let in (the refusals are not a broken route)
      for (const route of platformRoutes) expect((await request(pathFor(route, A), { method: route.method, token: await platformToken() })).status, route.label).toBe(200);
    });

    it("A's governance writers (org:admin, A-bound inventory:write) get 403 on B's settings and inventory, and nothing changes", async () => {
      const writer = { "org-admin": await orgToken(A, { scope: "org:admin" }), inventory: await token({ claims: { org: A, scope: "inventory:write" } }) };
      const writes = servedRoutes().filter((r): r is ServedRoute & { kind: keyof typeof writer } => r.kind === "org-admin" || r.kind === "inventory");
      expect(new Set(writes.map((r) => r.kind))).toEqual(new Set(["org-admin", "inventory"]));
      await prepareRouteData(B);
      const unchanged = await dbState();
      for (const route of writes) {
        for (const slug of [B, "TENANT-B", `${A}%2F..%2F${B}`]) {
          const res = await request(pathFor(route, A).replace(`/${A}/`, `/${slug}/`), initFor(route, B, writer[route.kind]));
          expect([403, 404], `${route.label} as ${slug} → ${res.status}`).toContain(res.status);
          if (slug === B) await expectErrorBody(res, 403, "FORBIDDEN", route.label);
        }
      }
      expect(await dbState()).toEqual(unchanged);
      // the same credentials are let in on A's own data: the refusals are not a broken route
      for (const route of writes) expect((await request(pathFor(route, A), initFor(route, A, writer[route.kind]))).status, route.label).toBe(route.okStatus);
    });

    it("an A-bound ingest token cannot write B's events, and nothing is stored", async () => {
      const count = () => countEverywhere("SELECT COUNT(*) AS n FROM login_events");
      const n = await count();
      for (const route of servedRoutes().filter((r) => r.kind === "ingest")) {
        const res = await request(route.path, {
          method: route.method,
          token: await ingestToken(A),
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ id: "sneaky", org: B, user_id: "x", service_id: "web", provider: "github", created_at: new Date(Date.now() - DAY_MS).toISOString() }),
        });
        await expectErrorBody(res, 403, "FORBIDDEN");
      }
      expect(await count()).toBe(n);
    });
  });
});
