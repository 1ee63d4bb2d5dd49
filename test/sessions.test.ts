import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BOOKMARK_HEADER } from "../src/db/client";
import { parseBookmarks } from "../src/db/shards";
import { ingest, ingestToken, orgShard, orgToken, request, requestWith, SHARDED } from "./helpers";
import { prepareRouteData } from "./route-data";
import { pathFor, servedRoutes } from "./routes";

/** D1 Sessions API: reads may go to a replica no older than the client's bookmark; writes start on the primary. */

const ONE = "[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}";
/** One database: a bare bookmark. Sharded: `NAME=bookmark` per database the client has seen. */
const BOOKMARK = SHARDED ? new RegExp(`^DB(_SHARD_1)?=${ONE}(,DB_SHARD_1=${ONE})?$`) : new RegExp(`^${ONE}$`);

/** The header value that hands `bookmark` to the database `shard`. */
const bookmarkFor = (shard: string, bookmark: string) => (SHARDED ? `${shard}=${bookmark}` : bookmark);

/** The real D1 of an organization, recording the constraint or bookmark each request's session opened it with. */
async function recordingD1(org: string) {
  const shard = await orgShard(org);
  const real = env[shard as "DB"];
  const opened: string[] = [];
  const db = {
    prepare: (q: string) => real.prepare(q),
    batch: (s: D1PreparedStatement[]) => real.batch(s),
    withSession: (constraint: string) => {
      opened.push(constraint);
      return real.withSession(constraint);
    },
  };
  return { bindings: { [shard]: db as unknown as D1Database }, opened, shard };
}

const post = (tok: string, body: unknown, headers: Record<string, string> = {}) =>
  request("/api/events", { method: "POST", token: tok, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

describe("D1 sessions and bookmarks", () => {
  it("every served route answers with a bookmark; a write's bookmark, sent back, reads the write", async () => {
    await ingest([{ id: "s-seed", org: "sess", user_id: "u0", service_id: "web", provider: "github" }]);
    await prepareRouteData("sess");
    const reader = await orgToken("sess");
    for (const route of servedRoutes().filter((r) => r.kind === "org")) {
      const res = await request(pathFor(route, "sess"), { token: reader });
      expect(res.status, route.label).toBe(200);
      expect(res.headers.get(BOOKMARK_HEADER), route.label).toMatch(BOOKMARK);
    }
    const write = await post(await ingestToken(), { id: "s-1", org: "sess", user_id: "u1", service_id: "web", provider: "github" });
    expect(write.status).toBe(202);
    const written = write.headers.get(BOOKMARK_HEADER)!;
    expect(written).toMatch(BOOKMARK);
    const read = await request("/api/organizations/sess/analytics/recent-logins?limit=5", { token: reader, headers: { [BOOKMARK_HEADER]: written } });
    expect(((await read.json()) as { id: string }[]).map((r) => r.id)).toContain("s-1");
    // bookmarks sort oldest to newest: each database's session is at least as new as the write it was given
    const readMarks = parseBookmarks(read.headers.get(BOOKMARK_HEADER)!);
    for (const [shard, mark] of parseBookmarks(written)) expect(readMarks.get(shard)! >= mark, shard).toBe(true);
  });

  it("reads open their session on the client's bookmark (or unconstrained); writes on the primary", async () => {
    const reader = await orgToken("sess");
    const { bindings, opened, shard } = await recordingD1("sess");
    const bookmark = "0000000a-00000010-00000000-0123456789abcdef0123456789abcdef";
    await requestWith(bindings, "/api/organizations/sess/analytics/summary", { token: reader, headers: { [BOOKMARK_HEADER]: bookmarkFor(shard, bookmark) } });
    await requestWith(bindings, "/api/organizations/sess/analytics/summary", { token: reader });
    await requestWith(bindings, "/api/events", {
      method: "POST",
      token: await ingestToken(),
      headers: { "content-type": "application/json", [BOOKMARK_HEADER]: bookmarkFor(shard, bookmark) },
      body: JSON.stringify({ id: "s-2", org: "sess", user_id: "u2", service_id: "web", provider: "github" }),
    });
    expect(opened).toEqual([bookmark, "first-unconstrained", "first-primary"]);
  });

  it("a missing, empty or malformed bookmark falls back to an unconstrained session: 200, never a 500, never echoed", async () => {
    const reader = await orgToken("sess");
    for (const bad of ["", "garbage", "../../etc/passwd", "0000000a-00000010-00000000", "0".repeat(5000), "0000000A-00000010-00000000-0123456789ABCDEF0123456789ABCDEF"]) {
      const { bindings, opened, shard } = await recordingD1("sess");
      const res = await requestWith(bindings, "/api/organizations/sess/analytics/login-trends", { token: reader, headers: { [BOOKMARK_HEADER]: bookmarkFor(shard, bad) } });
      expect(res.status, bad.slice(0, 40)).toBe(200);
      expect(opened).toEqual(["first-unconstrained"]);
      expect(res.headers.get(BOOKMARK_HEADER)).toMatch(BOOKMARK);
    }
  });

  it("CORS lets a browser send and read the bookmark", async () => {
    const res = await requestWith({ CORS_ALLOWED_ORIGINS: "https://dash.test" }, "/api/organizations/sess/analytics/summary", {
      method: "OPTIONS",
      headers: { origin: "https://dash.test", "access-control-request-method": "GET", "access-control-request-headers": `authorization, ${BOOKMARK_HEADER}` },
    });
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain(BOOKMARK_HEADER);
    const get = await requestWith({ CORS_ALLOWED_ORIGINS: "https://dash.test" }, "/api/organizations/sess/analytics/summary", {
      token: await orgToken("sess"),
      headers: { origin: "https://dash.test" },
    });
    expect(get.headers.get("access-control-expose-headers")?.toLowerCase()).toContain(BOOKMARK_HEADER);
  });
});
