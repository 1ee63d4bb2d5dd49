import { beforeAll, describe, expect, it } from "vitest";
import { countEverywhere, type EventInput, getJson, ingestToken, orgD1, platformToken, request, rowsEverywhere } from "./helpers";
import { expectErrorBody as expectError, RFC3339 } from "./contract";

/** POST /api/events: idempotency, batch limits, all-or-nothing validation, defaults, errors. */

let writer: string;
let reader: string;

beforeAll(async () => {
  writer = await ingestToken();
  reader = await platformToken();
});

const ev = (id: string, org: string, extra: Partial<EventInput> = {}): EventInput => ({
  id,
  org,
  user_id: "u1",
  service_id: "web",
  provider: "github",
  ...extra,
});

function post(body: unknown, init: { contentType?: string | null; raw?: BodyInit } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (init.contentType !== null) headers["content-type"] = init.contentType ?? "application/json";
  return request("/api/events", { method: "POST", token: writer, headers, body: init.raw ?? JSON.stringify(body) });
}

async function accepted(res: Response): Promise<{ accepted: number; duplicates: number }> {
  const text = await res.text();
  expect({ status: res.status, text }).toMatchObject({ status: 202 });
  return JSON.parse(text);
}

const count = countEverywhere;

const totals = async () => ({
  events: await count("SELECT COUNT(*) AS n FROM login_events"),
  orgs: await count("SELECT COUNT(*) AS n FROM organizations"),
  identities: await count("SELECT COUNT(*) AS n FROM identities"),
  services: await count("SELECT COUNT(*) AS n FROM services"),
});

const orgEvents = (org: string) =>
  count("SELECT COUNT(*) AS n FROM login_events e JOIN organizations o ON o.id = e.org_id WHERE o.slug = ?", org);

describe("idempotency", () => {
  it("a single event is accepted, the same id again is a duplicate", async () => {
    expect(await accepted(await post(ev("once-1", "idem")))).toEqual({ accepted: 1, duplicates: 0 });
    expect(await accepted(await post(ev("once-1", "idem")))).toEqual({ accepted: 0, duplicates: 1 });
    // even with different content, the id decides
    expect(await accepted(await post(ev("once-1", "idem", { user_id: "someone-else", provider: "google" })))).toEqual({ accepted: 0, duplicates: 1 });
    expect(await orgEvents("idem")).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM identities i JOIN organizations o ON o.id = i.org_id WHERE o.slug = 'idem' AND i.user_id = 'u1'")).toBe(1);
  });

  it("duplicates within one batch are stored and counted once", async () => {
    const res = await post({ events: [ev("dup-a", "dupbatch"), ev("dup-a", "dupbatch"), ev("dup-b", "dupbatch"), ev("dup-a", "dupbatch")] });
    expect(await accepted(res)).toEqual({ accepted: 2, duplicates: 2 });
    expect(await orgEvents("dupbatch")).toBe(2);
    // a later batch overlapping the stored ids
    expect(await accepted(await post({ events: [ev("dup-a", "dupbatch"), ev("dup-b", "dupbatch"), ev("dup-c", "dupbatch")] }))).toEqual({
      accepted: 1,
      duplicates: 2,
    });
    expect(await orgEvents("dupbatch")).toBe(3);
  });

  it("a duplicate delivery with different content has no side effect at all", async () => {
    const names = async () =>
      await rowsEverywhere("SELECT s.external_id, s.name FROM services s JOIN organizations o ON o.id = s.org_id WHERE o.slug = 'sidefx' ORDER BY 1");
    const users = async () =>
      await rowsEverywhere("SELECT i.user_id, i.identity_type FROM identities i JOIN organizations o ON o.id = i.org_id WHERE o.slug = 'sidefx' ORDER BY 1");
    expect(await accepted(await post(ev("fx-1", "sidefx", { service_id: "s1", service_name: "Name A" })))).toEqual({ accepted: 1, duplicates: 0 });
    const before = { totals: await totals(), names: await names(), users: await users() };
    expect(before.names).toEqual([{ external_id: "s1", name: "Name A" }]);
    // stored id redelivered: a rename of the stored service, a new service, a new identity
    expect(await accepted(await post({ events: [
      ev("fx-1", "sidefx", { service_id: "s1", service_name: "Renamed" }),
      ev("fx-1", "sidefx", { user_id: "ghost", identity_type: "machine", service_id: "ghost-svc", service_name: "Ghost" }),
    ] }))).toEqual({ accepted: 0, duplicates: 2 });
    expect({ totals: await totals(), names: await names(), users: await users() }).toEqual(before);
    // a repeat inside one batch: the first copy is stored, the second changes nothing
    expect(await accepted(await post({ events: [
      ev("fx-2", "sidefx", { service_id: "s1" }),
      ev("fx-2", "sidefx", { user_id: "ghost-2", service_id: "ghost-svc-2", service_name: "Ghost 2" }),
    ] }))).toEqual({ accepted: 1, duplicates: 1 });
    expect(await names()).toEqual(before.names);
    expect(await users()).toEqual(before.users);
    expect(await orgEvents("sidefx")).toBe(2);
  });

  it("the same event id in two organizations is two events", async () => {
    expect(await accepted(await post({ events: [ev("shared-id", "tenant-a"), ev("shared-id", "tenant-b")] }))).toEqual({ accepted: 2, duplicates: 0 });
    expect(await accepted(await post(ev("shared-id", "tenant-c")))).toEqual({ accepted: 1, duplicates: 0 });
    expect(await accepted(await post(ev("shared-id", "tenant-a")))).toEqual({ accepted: 0, duplicates: 1 });
    expect(await count("SELECT COUNT(*) AS n FROM login_events WHERE event_id = 'shared-id'")).toBe(3);
    for (const org of ["tenant-a", "tenant-b", "tenant-c"]) expect(await orgEvents(org)).toBe(1);
  });
});

describe("batch size", () => {
  const START = Date.UTC(2025, 2, 1);
  const PROVIDERS = ["github", "google", "password", "saml"];
  const COUNTRIES = ["US", "DE", "JP", "BR"];
  const full = (i: number, org = "bulk"): EventInput => ({
    id: `bulk-${i}`,
    org,
    user_id: `user-${i % 100}`,
    identity_type: i % 2 === 1 ? "machine" : "human",
    service_id: `svc-${i % 10}`,
    service_name: `Service ${i % 10}`,
    provider: PROVIDERS[i % 4],
    outcome: i % 3 === 0 ? "failure" : "success",
    created_at: new Date(START + i * 3_600_000).toISOString(),
    ip_address: i % 2 === 1 ? `2001:db8::${i.toString(16)}` : `10.0.${Math.floor(i / 256)}.${i % 256}`,
    user_agent: `Mozilla/5.0 (loginpulse test ${i})`,
    country: COUNTRIES[i % 4],
  });

  it("1000 events with every column filled are all stored", async () => {
    const events = Array.from({ length: 1000 }, (_, i) => full(i));
    expect(await accepted(await post({ events }))).toEqual({ accepted: 1000, duplicates: 0 });

    expect(await orgEvents("bulk")).toBe(1000);
    expect(await count("SELECT COUNT(DISTINCT event_id) AS n FROM login_events e JOIN organizations o ON o.id = e.org_id WHERE o.slug = 'bulk'")).toBe(1000);
    expect(
      await count("SELECT COUNT(*) AS n FROM login_events e JOIN organizations o ON o.id = e.org_id WHERE o.slug = 'bulk' AND outcome = 'failure'"),
    ).toBe(334);
    expect(await count("SELECT COUNT(*) AS n FROM identities i JOIN organizations o ON o.id = i.org_id WHERE o.slug = 'bulk'")).toBe(100);
    expect(
      await count("SELECT COUNT(*) AS n FROM identities i JOIN organizations o ON o.id = i.org_id WHERE o.slug = 'bulk' AND identity_type = 'machine'"),
    ).toBe(50);
    const bulk = await orgD1("bulk");
    const services = await bulk.prepare(
      "SELECT s.external_id, s.name FROM services s JOIN organizations o ON o.id = s.org_id WHERE o.slug = 'bulk' ORDER BY s.external_id",
    ).all<{ external_id: string; name: string }>();
    expect(services.results).toEqual(Array.from({ length: 10 }, (_, k) => ({ external_id: `svc-${k}`, name: `Service ${k}` })));

    const row = (id: string) =>
      bulk.prepare(
        `SELECT e.event_id, i.user_id, i.identity_type, s.external_id AS service_id, e.provider, e.outcome, e.created_at,
                e.ip_address, e.user_agent, e.country
         FROM login_events e JOIN organizations o ON o.id = e.org_id JOIN identities i ON i.id = e.identity_id
         JOIN services s ON s.id = e.service_id WHERE o.slug = 'bulk' AND e.event_id = ?`,
      )
        .bind(id)
        .first();
    expect(await row("bulk-999")).toEqual({
      event_id: "bulk-999",
      user_id: "user-99",
      identity_type: "machine",
      service_id: "svc-9",
      provider: "saml",
      outcome: "failure",
      created_at: START + 999 * 3_600_000,
      ip_address: "2001:db8::3e7",
      user_agent: "Mozilla/5.0 (loginpulse test 999)",
      country: "BR",
    });
    expect(await row("bulk-256")).toEqual({
      event_id: "bulk-256",
      user_id: "user-56",
      identity_type: "human",
      service_id: "svc-6",
      provider: "github",
      outcome: "success",
      created_at: START + 256 * 3_600_000,
      ip_address: "10.0.1.0",
      user_agent: "Mozilla/5.0 (loginpulse test 256)",
      country: "US",
    });

    // the same 1000 again: all duplicates, nothing new
    expect(await accepted(await post({ events }))).toEqual({ accepted: 0, duplicates: 1000 });
    expect(await orgEvents("bulk")).toBe(1000);

    // and the analytics see them: successes only, 666 of 1000
    const { status, body } = await getJson<{ date: string; count: number }[]>(
      "/api/organizations/bulk/analytics/login-trends?start_date=2025-03-01&end_date=2025-04-30",
      reader,
    );
    expect(status).toBe(200);
    expect(body.reduce((sum, r) => sum + r.count, 0)).toBe(666);
  });

  it("1001 events are refused with 400 and nothing is stored", async () => {
    const before = await totals();
    const events = Array.from({ length: 1001 }, (_, i) => full(i, "toolarge"));
    const body = await expectError(await post({ events }), 400, "BAD_REQUEST");
    expect(body.details?.map((d) => d.path)).toEqual(["events"]);
    expect(await totals()).toEqual(before);
  });

  it('{"events": []} is refused with 400', async () => {
    const before = await totals();
    const body = await expectError(await post({ events: [] }), 400, "BAD_REQUEST");
    expect(body.details?.map((d) => d.path)).toEqual(["events"]);
    expect(await totals()).toEqual(before);
  });
});

describe("a batch is all-or-nothing", () => {
  const batchWithBad7 = (org: string, bad: Record<string, unknown>, drop?: string) =>
    Array.from({ length: 10 }, (_, i) => {
      const e: Record<string, unknown> = { ...ev(`atomic-${i}`, org, { user_id: `new-user-${i}`, service_id: `new-svc-${i}`, service_name: "Fresh" }) };
      if (i === 7) {
        Object.assign(e, bad);
        if (drop) delete e[drop];
      }
      return e;
    });

  const cases: { name: string; org: string; bad: Record<string, unknown>; drop?: string; field: string }[] = [
    { name: "unparseable created_at", org: "atomic-a", bad: { created_at: "yesterday" }, field: "created_at" },
    { name: "impossible created_at (2025-02-30)", org: "atomic-b", bad: { created_at: "2025-02-30T00:00:00Z" }, field: "created_at" },
    { name: "missing user_id", org: "atomic-c", bad: {}, drop: "user_id", field: "user_id" },
    { name: "created_at 10 minutes in the future", org: "atomic-d", bad: { created_at: new Date(Date.now() + 600_000).toISOString() }, field: "created_at" },
    { name: "unknown outcome", org: "atomic-e", bad: { outcome: "maybe" }, field: "outcome" },
    { name: "invalid ip_address", org: "atomic-f", bad: { ip_address: "999.1.1.1" }, field: "ip_address" },
  ];

  for (const c of cases) {
    it(`event #7 with ${c.name} → 400 naming events[7].${c.field}, nothing stored`, async () => {
      const before = await totals();
      const body = await expectError(await post({ events: batchWithBad7(c.org, c.bad, c.drop) }), 400, "BAD_REQUEST");
      expect(body.details?.map((d) => d.path)).toEqual([`events[7].${c.field}`]);
      expect(body.error).toContain(`events[7].${c.field}`);
      expect(await totals()).toEqual(before);
      expect(await count("SELECT COUNT(*) AS n FROM organizations WHERE slug = ?", c.org)).toBe(0);
      // the same batch without the bad event goes through: the refusal was about event #7 only
      const good = batchWithBad7(c.org, {}).filter((_, i) => i !== 7);
      expect(await accepted(await post({ events: good }))).toEqual({ accepted: 9, duplicates: 0 });
    });
  }
});

describe("created_at", () => {
  it("more than 5 minutes in the future → 400; 4 minutes → accepted and stored as sent", async () => {
    const tooFar = await expectError(await post(ev("future-1", "future", { created_at: new Date(Date.now() + 5 * 60_000 + 30_000).toISOString() })), 400, "BAD_REQUEST");
    expect(tooFar.details?.map((d) => d.path)).toEqual(["created_at"]);
    expect(await count("SELECT COUNT(*) AS n FROM organizations WHERE slug = 'future'")).toBe(0);

    const soon = Date.now() + 4 * 60_000;
    expect(await accepted(await post(ev("future-2", "future", { created_at: new Date(soon).toISOString() })))).toEqual({ accepted: 1, duplicates: 0 });
    expect(await count("SELECT created_at AS n FROM login_events WHERE event_id = 'future-2'")).toBe(soon);
  });

  it("2025-02-30T00:00:00Z → 400", async () => {
    const body = await expectError(await post(ev("feb30", "dates", { created_at: "2025-02-30T00:00:00Z" })), 400, "BAD_REQUEST");
    expect(body.details?.map((d) => d.path)).toEqual(["created_at"]);
  });

  it("a timestamp without offset → 400 (RFC 3339 needs one)", async () => {
    const body = await expectError(await post(ev("nooffset", "dates", { created_at: "2025-01-01T00:00:00" })), 400, "BAD_REQUEST");
    expect(body.details?.map((d) => d.path)).toEqual(["created_at"]);
  });

  it("an offset is honoured: stored as the UTC instant", async () => {
    expect(await accepted(await post(ev("offset", "dates", { created_at: "2025-01-01T02:30:00+02:00" })))).toEqual({ accepted: 1, duplicates: 0 });
    expect(await count("SELECT created_at AS n FROM login_events WHERE event_id = 'offset'")).toBe(Date.UTC(2025, 0, 1, 0, 30));
  });
});

describe("request shape", () => {
  it("a bare top-level array → 400, nothing stored", async () => {
    const before = await totals();
    await expectError(await post([ev("bare-1", "bare")]), 400, "BAD_REQUEST");
    expect(await totals()).toEqual(before);
  });

  it("text/plain → 415 even with a valid JSON body; no content-type → 415", async () => {
    await expectError(await post(ev("ct-1", "ctype"), { contentType: "text/plain" }), 415, "UNSUPPORTED_MEDIA_TYPE");
    await expectError(await post(ev("ct-2", "ctype"), { contentType: null }), 415, "UNSUPPORTED_MEDIA_TYPE");
    expect(await count("SELECT COUNT(*) AS n FROM organizations WHERE slug = 'ctype'")).toBe(0);
  });

  it("the 415 check reads the media type as the JSON parser does: look-alikes → 415, +json → accepted", async () => {
    for (const contentType of ["application/x+y+json", "application/foo bar+json", "application/jsonx", "text/json"]) {
      await expectError(await post(ev("ct-4", "ctype"), { contentType }), 415, "UNSUPPORTED_MEDIA_TYPE");
    }
    expect(await accepted(await post(ev("ct-5", "ctype"), { contentType: "Application/Vnd.Api+JSON ; charset=utf-8" }))).toEqual({ accepted: 1, duplicates: 0 });
  });

  it("well-formed unicode (a surrogate pair, RTL, CJK) is accepted and stored as sent", async () => {
    const id = "ok-😀-שלום-日本";
    expect(await accepted(await post(ev(id, "unicode", { service_name: "Ünïcødé 😀" })))).toEqual({ accepted: 1, duplicates: 0 });
    expect(await count("SELECT COUNT(*) AS n FROM login_events WHERE event_id = ?", id)).toBe(1);
  });

  it("application/json with a charset is accepted", async () => {
    expect(await accepted(await post(ev("ct-3", "ctype"), { contentType: "application/json; charset=utf-8" }))).toEqual({ accepted: 1, duplicates: 0 });
  });

  it("malformed JSON → 400, not 500", async () => {
    await expectError(await post(null, { raw: '{"id": "x", "org": ' }), 400, "BAD_REQUEST");
    await expectError(await post(null, { raw: "" }), 400, "BAD_REQUEST");
  });

  it("a body over 1 MiB → 413 (with Content-Length and when streamed)", async () => {
    const big = JSON.stringify(ev("big-1", "big", { user_agent: "x".repeat(1024 * 1024 + 10) }));
    await expectError(await post(null, { raw: big }), 413, "PAYLOAD_TOO_LARGE");

    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.slice(i, i + 64 * 1024));
        controller.close();
      },
    });
    await expectError(await post(null, { raw: stream }), 413, "PAYLOAD_TOO_LARGE");
    expect(await count("SELECT COUNT(*) AS n FROM organizations WHERE slug = 'big'")).toBe(0);
  });

  it("an unknown route → 404 in the contract shape", async () => {
    await expectError(await request("/api/nope"), 404, "NOT_FOUND");
    await expectError(await request("/api/nope", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }), 404, "NOT_FOUND");
  });

  const BAD_BODIES: [string, string][] = [
    ["null", "null"],
    ["a number", "42"],
    ["a string", '"event"'],
    ["an empty object", "{}"],
    ["events: null", '{"events": null}'],
    ["events: an object", '{"events": {}}'],
    ["events: [null]", '{"events": [null]}'],
    ["events: [1]", '{"events": [1]}'],
    ["user_id as a number", JSON.stringify({ ...ev("bb-1", "badbody"), user_id: 7 })],
    ["created_at as a number", JSON.stringify({ ...ev("bb-2", "badbody"), created_at: 1735689600000 })],
    ["id of 65 chars", JSON.stringify(ev("x".repeat(65), "badbody"))],
    ["empty id", JSON.stringify(ev("", "badbody"))],
    ["upper-case org", JSON.stringify(ev("bb-3", "ACME"))],
    ["empty provider", JSON.stringify(ev("bb-4", "badbody", { provider: "" }))],
    ["identity_type robot", JSON.stringify({ ...ev("bb-5", "badbody"), identity_type: "robot" })],
    ["country USA", JSON.stringify(ev("bb-6", "badbody", { country: "USA" }))],
    ["user_agent over the bound", JSON.stringify(ev("bb-7", "badbody", { user_agent: "x".repeat(10_000) }))],
    // JSON.stringify escapes lone surrogates as \udXXX, which JSON.parse turns back into them
    ["a lone high surrogate in the id", JSON.stringify(ev("bb-9\ud800", "badbody"))],
    ["a lone low surrogate in user_id", JSON.stringify({ ...ev("bb-10", "badbody"), user_id: "u\udc00" })],
    ["a reversed surrogate pair in service_name", JSON.stringify(ev("bb-11", "badbody", { service_name: "x\udc00\ud800" }))],
    ["__proto__ smuggling the org", '{"id": "bb-8", "user_id": "u", "service_id": "s", "provider": "github", "__proto__": {"org": "acme"}}'],
    ["deeply nested arrays", `{"events": ${"[".repeat(20_000)}${"]".repeat(20_000)}}`],
  ];

  for (const [name, raw] of BAD_BODIES) {
    it(`${name} → 400 in the contract shape, nothing stored`, async () => {
      const before = await totals();
      const body = await expectError(await post(null, { raw }), 400, "BAD_REQUEST");
      expect(body.error).not.toMatch(/\bat\s+\S+\s+\(/);
      expect(await totals()).toEqual(before);
    });
  }
});

describe("stored values", () => {
  it("service_name names the service; a later name replaces it; an event without one keeps it", async () => {
    const byService = async () => {
      const { status, body } = await getJson("/api/organizations/svcname/analytics/logins-by-service", reader);
      expect(status).toBe(200);
      return body;
    };
    await accepted(await post(ev("sn-1", "svcname", { service_id: "s1", service_name: "Old Name" })));
    expect(await byService()).toEqual([{ service_id: "s1", service_name: "Old Name", count: 1 }]);
    await accepted(await post(ev("sn-2", "svcname", { service_id: "s1", service_name: "New Name" })));
    expect(await byService()).toEqual([{ service_id: "s1", service_name: "New Name", count: 2 }]);
    await accepted(await post(ev("sn-3", "svcname", { service_id: "s1" })));
    expect(await byService()).toEqual([{ service_id: "s1", service_name: "New Name", count: 3 }]);
    // a service never named falls back to its id
    await accepted(await post(ev("sn-4", "svcname", { service_id: "s2" })));
    expect(await byService()).toEqual([
      { service_id: "s1", service_name: "New Name", count: 3 },
      { service_id: "s2", service_name: "s2", count: 1 },
    ]);
    // within one batch the last name sent wins, and a later unnamed event does not erase it
    await accepted(
      await post({
        events: [
          ev("sn-5", "svcname", { service_id: "s2", service_name: "First" }),
          ev("sn-6", "svcname", { service_id: "s2", service_name: "Second" }),
          ev("sn-7", "svcname", { service_id: "s2" }),
        ],
      }),
    );
    expect(await byService()).toEqual([
      { service_id: "s2", service_name: "Second", count: 4 },
      { service_id: "s1", service_name: "New Name", count: 3 },
    ]);
  });

  it("defaults: identity_type human, outcome success, created_at = receive time", async () => {
    const before = Date.now();
    expect(await accepted(await post({ id: "def-1", org: "defaults", user_id: "alice", service_id: "web", provider: "password" }))).toEqual({
      accepted: 1,
      duplicates: 0,
    });
    const after = Date.now();

    const { status, body } = await getJson<{ id: string; user_id: string; service_id: string; provider: string; created_at: string }[]>(
      "/api/organizations/defaults/analytics/recent-logins",
      reader,
    );
    expect(status).toBe(200);
    expect(body).toEqual([{ id: "def-1", user_id: "alice", service_id: "web", provider: "password", created_at: expect.stringMatching(RFC3339) }]);
    const createdAt = Date.parse(body[0].created_at);
    expect(createdAt).toBeGreaterThanOrEqual(before - 1000);
    expect(createdAt).toBeLessThanOrEqual(after + 1000);
    expect(Math.abs(createdAt - Date.now())).toBeLessThan(5000);

    const [stored] = await rowsEverywhere<{ identity_type: string; outcome: string; created_at: number; received_at: number; ip_address: null; user_agent: null }>(
      `SELECT i.identity_type, e.outcome, e.created_at, e.received_at, e.ip_address, e.user_agent
       FROM login_events e JOIN identities i ON i.id = e.identity_id WHERE e.event_id = 'def-1'`,
    );
    expect(stored).toEqual({ identity_type: "human", outcome: "success", created_at: stored!.received_at, received_at: stored!.received_at, ip_address: null, user_agent: null });
    expect(stored!.received_at).toBeGreaterThanOrEqual(before - 1000);
    expect(stored!.received_at).toBeLessThanOrEqual(after + 1000);
    // times are stored as integers (the receive time is bound as a parameter, and D1 binds numbers as REAL)
    expect(
      await rowsEverywhere(
        `SELECT typeof(e.created_at) AS created, typeof(e.received_at) AS received, typeof(o.created_at) AS org_created
         FROM login_events e JOIN organizations o ON o.id = e.org_id WHERE e.event_id = 'def-1'`,
      ),
    ).toEqual([{ created: "integer", received: "integer", org_created: "integer" }]);

    const au = await getJson<{ summary: { active_users: number } }>("/api/organizations/defaults/analytics/active-users?identity_type=human", reader);
    expect(au.status).toBe(200);
    expect(au.body.summary.active_users).toBe(1);
  });

  it('provider is lower-cased ("GitHub" → "github")', async () => {
    await accepted(
      await post({ events: [ev("pc-1", "provcase", { provider: "GitHub" }), ev("pc-2", "provcase", { provider: "GITHUB" }), ev("pc-3", "provcase", { provider: "github" })] }),
    );
    const { status, body } = await getJson("/api/organizations/provcase/analytics/logins-by-provider", reader);
    expect(status).toBe(200);
    expect(body).toEqual([{ provider: "github", count: 3 }]);
    const recent = await getJson<{ provider: string }[]>("/api/organizations/provcase/analytics/recent-logins", reader);
    expect(recent.body.map((r) => r.provider)).toEqual(["github", "github", "github"]);
  });

  it("country comes from the edge (request.cf.country) when the event has none; the event's own wins", async () => {
    const res = await request("/api/events", {
      method: "POST",
      token: writer,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ events: [ev("edge-1", "edge"), ev("edge-2", "edge", { country: "fr" })] }),
      cf: { country: "NL" },
    });
    expect(await accepted(res)).toEqual({ accepted: 2, duplicates: 0 });
    const rows = await rowsEverywhere<{ event_id: string }>("SELECT event_id, country FROM login_events WHERE event_id IN ('edge-1', 'edge-2')");
    expect(rows.sort((a, b) => a.event_id.localeCompare(b.event_id))).toEqual([
      { event_id: "edge-1", country: "NL" },
      { event_id: "edge-2", country: "FR" },
    ]);
  });

  it("country is upper-cased and failures are stored but are not logins", async () => {
    await accepted(await post({ events: [ev("cf-1", "fails", { country: "de", outcome: "failure" }), ev("cf-2", "fails", { outcome: "success" })] }));
    expect(await count("SELECT COUNT(*) AS n FROM login_events WHERE event_id = 'cf-1' AND country = 'DE' AND outcome = 'failure'")).toBe(1);
    const { body } = await getJson<{ id: string }[]>("/api/organizations/fails/analytics/recent-logins", reader);
    expect(body.map((r) => r.id)).toEqual(["cf-2"]);
  });
});
