import { beforeAll, describe, expect, it } from "vitest";
import { expectErrorBody } from "./contract";
import { dbState } from "./db-state";
import { countEverywhere, ingest, orgD1, platformToken, request, token } from "./helpers";

/** The identity inventory feed: idempotent, all-or-nothing, scoped by inventory:write; deprovisioning keeps history. */

const ORG = "inv-org";
const BASE = `/api/organizations/${ORG}/identities`;
let writer: string;

const put = (body: unknown, tok = writer, org = ORG) =>
  request(`/api/organizations/${org}/identities`, { method: "PUT", token: tok, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

async function inventory(org = ORG) {
  const { results } = await (await orgD1(org)).prepare(
    `SELECT i.user_id, i.identity_type, v.display_name, v.owner, v.created_at, v.deprovisioned_at
     FROM identity_inventory v JOIN identities i ON i.id = v.identity_id JOIN organizations o ON o.id = v.org_id
     WHERE o.slug = ? ORDER BY i.user_id, i.identity_type`,
  )
    .bind(org)
    .all<Record<string, unknown>>();
  return results;
}

beforeAll(async () => {
  writer = await token({ claims: { org: ORG, scope: "inventory:write" } });
  await ingest([{ id: "inv-1", org: ORG, user_id: "alice", service_id: "web", provider: "github" }]);
});

describe("PUT …/identities", () => {
  it("stores identities, idempotently: the same request twice changes nothing", async () => {
    const body = {
      identities: [
        { user_id: "alice", display_name: "Alice", owner: "it@example.com", created_at: "2024-01-02T03:04:05Z" },
        { user_id: "nightly-etl", identity_type: "machine", display_name: "Nightly ETL", owner: "data-team" },
      ],
    };
    const res = await put(body);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: 2, added: 2 });
    const first = await inventory();
    expect(first).toMatchObject([
      { user_id: "alice", identity_type: "human", display_name: "Alice", owner: "it@example.com", created_at: Date.parse("2024-01-02T03:04:05Z"), deprovisioned_at: null },
      { user_id: "nightly-etl", identity_type: "machine", display_name: "Nightly ETL", owner: "data-team", deprovisioned_at: null },
    ]);
    const state = await dbState();
    const again = await put(body);
    expect(await again.json()).toEqual({ received: 2, added: 0 });
    const after = await dbState();
    // only updated_at moves
    expect(after.counts).toEqual(state.counts);
    expect((await inventory()).map(({ created_at, ...r }) => r)).toEqual(first.map(({ created_at, ...r }) => r));
    expect((await inventory())[1].created_at).toBe(first[1].created_at);
  });

  it("fields left out keep their value; the identity existing from logins is the same identity", async () => {
    await put({ identities: [{ user_id: "alice", owner: "security@example.com" }] });
    expect((await inventory())[0]).toMatchObject({ display_name: "Alice", owner: "security@example.com", created_at: Date.parse("2024-01-02T03:04:05Z") });
    expect(await countEverywhere("SELECT COUNT(*) AS n FROM identities WHERE user_id = 'alice'")).toBe(1);
  });

  it("is all-or-nothing: one bad identity refuses the request naming its index, and nothing is stored", async () => {
    const before = await dbState();
    const bad: [unknown, string][] = [
      [{ identities: [{ user_id: "ok-1" }, { user_id: "" }] }, "identities[1].user_id"],
      [{ identities: [{ user_id: "ok-1" }, { user_id: "x", identity_type: "robot" }] }, "identities[1].identity_type"],
      [{ identities: [{ user_id: "ok-1" }, { user_id: "ok-1" }] }, "identities[1].user_id"],
      [{ identities: [{ user_id: "ok-1", created_at: "2024-13-01" }] }, "identities[0].created_at"],
      [{ identities: [{ user_id: "ok-1", created_at: "2999-01-01T00:00:00Z" }] }, "identities[0].created_at"],
      [{ identities: [{ user_id: "ok-1", owner: "x".repeat(201) }] }, "identities[0].owner"],
      [{ identities: [{ user_id: "ok-1", extra: true }] }, "identities[0]"],
      [{ identities: [] }, "identities"],
      [{ identities: Array.from({ length: 1001 }, (_, i) => ({ user_id: `u${i}` })) }, "identities"],
      [[{ user_id: "ok-1" }], ""],
    ];
    for (const [body, path] of bad) {
      const err = await expectErrorBody(await put(body), 400, "BAD_REQUEST", JSON.stringify(body).slice(0, 100));
      expect(err.details?.map((d) => d.path)).toContain(path);
    }
    expect(await dbState()).toEqual(before);
  });

  it("1000 identities in one request", async () => {
    const identities = Array.from({ length: 1000 }, (_, i) => ({ user_id: `bulk-${i}`, identity_type: i % 3 === 0 ? "machine" : "human", owner: `team-${i % 7}` }));
    const res = await put({ identities });
    expect(await res.json()).toEqual({ received: 1000, added: 1000 });
    expect((await inventory()).length).toBe(1002);
  });

  it("creates the organization when it has no events yet", async () => {
    const tok = await token({ claims: { scope: "inventory:write" } });
    const res = await put({ identities: [{ user_id: "first" }] }, tok, "inv-new-org");
    expect(res.status).toBe(200);
    expect(await countEverywhere("SELECT COUNT(*) AS n FROM organizations WHERE slug = 'inv-new-org'")).toBe(1);
    // not a slug: no such organization can exist
    await expectErrorBody(await put({ identities: [{ user_id: "x" }] }, tok, "Not%20A%20Slug"), 404, "NOT_FOUND");
  });

  it("needs inventory:write for this organization", async () => {
    const before = await dbState();
    for (const tok of [
      await token({ claims: { org: ORG } }),
      await token({ claims: { org: ORG, scope: "events:write" } }),
      await token({ claims: { org: "other", scope: "inventory:write" } }),
      await platformToken(),
      await token({ claims: { org: ORG, scope: "inventory:writer" } }),
    ]) {
      await expectErrorBody(await put({ identities: [{ user_id: "sneaky" }] }, tok), 403, "FORBIDDEN");
      await expectErrorBody(await request(`${BASE}/alice`, { method: "DELETE", token: tok }), 403, "FORBIDDEN");
    }
    expect(await dbState()).toEqual(before);
  });
});

describe("DELETE …/identities/:user_id", () => {
  it("marks the identity deprovisioned, keeps it (and its history), and is idempotent", async () => {
    const res = await request(`${BASE}/nightly-etl`, { method: "DELETE", token: writer });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { user_id: string; deprovisioned: { identity_type: string; deprovisioned_at: string }[] };
    expect(body.user_id).toBe("nightly-etl");
    expect(body.deprovisioned.map((d) => d.identity_type)).toEqual(["machine"]);
    const again = await request(`${BASE}/nightly-etl`, { method: "DELETE", token: writer });
    expect(await again.json()).toEqual(body);
    expect((await inventory()).find((r) => r.user_id === "nightly-etl")).toMatchObject({ display_name: "Nightly ETL" });
  });

  it("re-registering brings it back", async () => {
    await put({ identities: [{ user_id: "nightly-etl", identity_type: "machine" }] });
    expect((await inventory()).find((r) => r.user_id === "nightly-etl")?.deprovisioned_at).toBeNull();
  });

  it("an identity known only from its logins can be deprovisioned; identity_type narrows; unknown ids are 404", async () => {
    await ingest([
      { id: "inv-2", org: ORG, user_id: "bob", service_id: "web", provider: "github" },
      { id: "inv-3", org: ORG, user_id: "bob", identity_type: "machine", service_id: "web", provider: "github" },
    ]);
    const res = await request(`${BASE}/bob?identity_type=machine`, { method: "DELETE", token: writer });
    expect(((await res.json()) as { deprovisioned: { identity_type: string }[] }).deprovisioned.map((d) => d.identity_type)).toEqual(["machine"]);
    const both = await request(`${BASE}/bob`, { method: "DELETE", token: writer });
    expect(((await both.json()) as { deprovisioned: { identity_type: string }[] }).deprovisioned.map((d) => d.identity_type)).toEqual(["human", "machine"]);
    await expectErrorBody(await request(`${BASE}/nobody`, { method: "DELETE", token: writer }), 404, "NOT_FOUND");
    await expectErrorBody(await request(`${BASE}/bob?identity_type=robot`, { method: "DELETE", token: writer }), 400, "BAD_REQUEST");
    await expectErrorBody(
      await request("/api/organizations/no-such-org/identities/bob", { method: "DELETE", token: await token({ claims: { scope: "inventory:write" } }) }),
      404,
      "NOT_FOUND",
    );
  });
});
