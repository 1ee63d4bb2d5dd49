import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BOOKMARK_HEADER } from "../src/db/client";
import { parseBookmarks, placeByHash } from "../src/db/shards";
import type { Bindings } from "../src/env";
import { expectErrorBody } from "./contract";
import { type EventInput, getJson, ingestToken, platformToken, requestWith, SHARDED, unavailableD1 } from "./helpers";

/**
 * Organizations sharded across two databases (src/db/shards.ts), in both runs of the suite:
 * in the sharded project (vitest.config.ts) the second database is DB_SHARD_1 itself; otherwise this file
 * binds the spare test database as DB_SHARD_1 for its own requests. Every check reads the two
 * databases directly.
 */

const second = (SHARDED ? env.DB_SHARD_1 : env.TEST_SPARE_DB)!;
const sharded = { DB_SHARD_1: second };
/** As a single-database deployment runs. */
const single = { DB_SHARD_1: undefined };
const NAMES = ["DB", "DB_SHARD_1"];
const d1Of = (name: string) => (name === "DB" ? env.DB : second);

type Overrides = Partial<Bindings & Cloudflare.Env>;

const post = async (body: unknown, overrides: Overrides = sharded, headers: Record<string, string> = {}) =>
  requestWith(overrides, "/api/events", {
    method: "POST",
    token: await ingestToken(),
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

const event = (org: string, id: string, user = "u1"): EventInput => ({ id, org, user_id: user, service_id: "web", provider: "github", created_at: new Date(Date.now() - 3_600_000).toISOString() });

/** `prefix-0`, `prefix-1`, … until `count` slugs that hash to `shard`. */
function slugsOn(shard: string, prefix: string, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) if (placeByHash(`${prefix}-${i}`, NAMES) === shard) out.push(`${prefix}-${i}`);
  return out;
}

async function eventsIn(name: string, org: string): Promise<string[]> {
  const { results } = await d1Of(name)
    .prepare("SELECT e.event_id FROM login_events e JOIN organizations o ON o.id = e.org_id WHERE o.slug = ? ORDER BY e.event_id")
    .bind(org)
    .all<{ event_id: string }>();
  return results.map((r) => r.event_id);
}

const directory = async (org: string) => (await env.DB.prepare("SELECT shard FROM org_directory WHERE slug = ?").bind(org).first<{ shard: string }>())?.shard;

describe("placement", () => {
  it("a new organization goes where its slug hashes, is recorded in the directory, and stays in one database", async () => {
    const orgs = Array.from({ length: 12 }, (_, i) => `place-${i}`);
    const homes = orgs.map((o) => placeByHash(o, NAMES));
    expect(new Set(homes)).toEqual(new Set(NAMES)); // the batch spans both databases
    const res = await post({ events: orgs.flatMap((o) => [event(o, `${o}-a`), event(o, `${o}-b`, "u2")]) });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 24, duplicates: 0 });
    for (const [i, org] of orgs.entries()) {
      expect(await directory(org), org).toBe(homes[i]);
      expect(await eventsIn(homes[i], org), org).toEqual([`${org}-a`, `${org}-b`]);
      expect(await eventsIn(NAMES.find((n) => n !== homes[i])!, org), `${org} elsewhere`).toEqual([]);
    }
    // the same batch again: every event a duplicate, in its own database
    expect(await (await post({ events: orgs.flatMap((o) => [event(o, `${o}-a`), event(o, `${o}-b`, "u2")]) })).json()).toEqual({ accepted: 0, duplicates: 24 });
  });

  it("an organization created before sharding (in DB, no directory row) stays in DB", async () => {
    const [org] = slugsOn("DB_SHARD_1", "legacy", 1);
    // as a single-database deployment leaves it: the organization and its events in DB
    expect((await post(event(org, "legacy-1"), single)).status).toBe(202);
    expect(await directory(org)).toBeUndefined();
    expect((await post(event(org, "legacy-2"))).status).toBe(202);
    expect(await directory(org)).toBe("DB");
    expect(await eventsIn("DB", org)).toEqual(["legacy-1", "legacy-2"]);
    expect(await eventsIn("DB_SHARD_1", org)).toEqual([]);
    const read = await getJson<{ id: string }[]>(`/api/organizations/${org}/analytics/recent-logins`, await platformToken(), sharded);
    expect(read.body.map((r) => r.id)).toEqual(["legacy-2", "legacy-1"]);
  });

  it("SHARDS_FOR_NEW_ORGS closes the other databases to new organizations; naming an unbound one is a 503", async () => {
    const [org] = slugsOn("DB", "closed", 1);
    expect((await post(event(org, "closed-1"), { ...sharded, SHARDS_FOR_NEW_ORGS: "DB_SHARD_1" })).status).toBe(202);
    expect(await directory(org)).toBe("DB_SHARD_1");
    expect(await eventsIn("DB_SHARD_1", org)).toEqual(["closed-1"]);
    const res = await post(event("closed-elsewhere", "x-1"), { ...sharded, SHARDS_FOR_NEW_ORGS: "DB_SHARD_7" });
    await expectErrorBody(res, 503, "DATABASE_UNAVAILABLE", "unbound shard");
    expect(await directory("closed-elsewhere")).toBeUndefined();
  });

  it("an organization nobody has written is 404 on its routes, whatever the directory", async () => {
    const res = await requestWith(sharded, "/api/organizations/never-written/analytics/summary", { headers: { authorization: `Bearer ${await platformToken()}` } });
    await expectErrorBody(res, 404, "NOT_FOUND", "unknown org");
  });
});

describe("a batch across databases", () => {
  it("is all-or-nothing per database: with one down, 503 names every event stored and not stored; the retry stores the rest once", async () => {
    const onDb = slugsOn("DB", "split", 2);
    const onShard = slugsOn("DB_SHARD_1", "split", 2);
    const events = [onDb[0], onShard[0], onDb[1], onShard[1]].flatMap((o) => [event(o, `${o}-1`), event(o, `${o}-2`)]);
    const res = await post({ events }, { DB_SHARD_1: unavailableD1() });
    const body = (await expectErrorBody(res, 503, "DATABASE_UNAVAILABLE", "one database down")) as unknown as { details: { path: string; message: string }[] };
    expect(body.details.map((d) => `${d.path} ${d.message.split(":")[0]}`)).toEqual(
      events.map((e, i) => `events[${i}] ${onDb.includes(e.org) ? "stored" : "not stored"}`),
    );
    for (const org of onDb) expect(await eventsIn("DB", org)).toEqual([`${org}-1`, `${org}-2`]);
    for (const org of onShard) expect(await eventsIn("DB_SHARD_1", org)).toEqual([]);
    const retry = await post({ events });
    expect(await retry.json()).toEqual({ accepted: 4, duplicates: 4 });
    for (const org of onShard) expect(await eventsIn("DB_SHARD_1", org)).toEqual([`${org}-1`, `${org}-2`]);
  });
});

describe("bookmarks, one per database", () => {
  it("a write across both databases returns both; a read of one carries the other through", async () => {
    const [a] = slugsOn("DB", "mark", 1);
    const [b] = slugsOn("DB_SHARD_1", "mark", 1);
    const write = await post({ events: [event(a, "mark-a"), event(b, "mark-b")] });
    expect(write.status).toBe(202);
    const marks = parseBookmarks(write.headers.get(BOOKMARK_HEADER)!);
    expect([...marks.keys()]).toEqual(NAMES);
    const read = await requestWith(sharded, `/api/organizations/${b}/analytics/recent-logins`, {
      headers: { authorization: `Bearer ${await platformToken()}`, [BOOKMARK_HEADER]: write.headers.get(BOOKMARK_HEADER)! },
    });
    expect(((await read.json()) as { id: string }[]).map((r) => r.id)).toEqual(["mark-b"]);
    const after = parseBookmarks(read.headers.get(BOOKMARK_HEADER)!);
    expect(after.get("DB")).toBe(marks.get("DB")); // untouched: handed back as it came
    expect(after.get("DB_SHARD_1")! >= marks.get("DB_SHARD_1")!).toBe(true);
  });
});

describe("platform reads merge the databases exactly", () => {
  it("organizations: every page of every sort equals the same slice of the whole merged list", async () => {
    // 10 organizations, 5 in each database, with 1..10 active users
    const orgs = [...slugsOn("DB", "rank", 5), ...slugsOn("DB_SHARD_1", "rank", 5)];
    const res = await post({ events: orgs.flatMap((o, i) => Array.from({ length: i + 1 }, (_, u) => event(o, `${o}-${u}`, `u${u}`))) });
    expect(res.status).toBe(202);
    const token = await platformToken();
    type Page = { total: number; organizations: { org: string; active_users: number; logins: number }[] };
    for (const sort of ["active_users", "slug", "logins", "last_activity_at", "active_users_change_pct", "new_users"]) {
      for (const order of ["asc", "desc"]) {
        const whole = (await getJson<Page>(`/api/platform/analytics/organizations?sort=${sort}&order=${order}&limit=1000`, token, sharded)).body;
        const ours = whole.organizations.filter((r) => r.org.startsWith("rank-"));
        expect(ours.length, sort).toBe(10);
        if (sort === "active_users") {
          expect(ours.map((r) => r.active_users)).toEqual(order === "desc" ? [10, 9, 8, 7, 6, 5, 4, 3, 2, 1] : [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        }
        if (sort === "slug") expect(whole.organizations.map((r) => r.org)).toEqual(whole.organizations.map((r) => r.org).sort((x, y) => (order === "asc" ? (x < y ? -1 : 1) : x < y ? 1 : -1)));
        const pages: string[] = [];
        for (let offset = 0; offset < whole.total; offset += 3) {
          const page = (await getJson<Page>(`/api/platform/analytics/organizations?sort=${sort}&order=${order}&limit=3&offset=${offset}`, token, sharded)).body;
          expect(page.total, `${sort} ${order}`).toBe(whole.total);
          pages.push(...page.organizations.map((r) => r.org));
        }
        expect(pages, `${sort} ${order}`).toEqual(whole.organizations.map((r) => r.org));
      }
    }
    // total counts every organization of both databases
    const count = async (d1: D1Database) => (await d1.prepare("SELECT COUNT(*) AS n FROM organizations").first<{ n: number }>())!.n;
    expect((await getJson<Page>("/api/platform/analytics/organizations", token, sharded)).body.total).toBe((await count(env.DB)) + (await count(second)));
  });
});
