import { beforeAll, describe, expect, it } from "vitest";
import { expectErrorBody } from "./contract";
import { countEverywhere, type EventInput, ingest, orgToken, relativeLogins, request, rollup } from "./helpers";
import { dateOf, GovernanceOracle, Oracle } from "./oracle";

/**
 * Reactivations: gaps of threshold − 1, threshold and threshold + 1; late events that split
 * a gap, land before the first login, move a day's first login or its previous day's last;
 * live (the tail) and sealed (after the rollup, in chunks of one event or all at once), always
 * equal to the brute-force model.
 */

const ORG = "react";
const { today: T, at, login } = relativeLogins(ORG, "r");

const oracle = new Oracle();
const gov = new GovernanceOracle(oracle);
let reader: string;

async function store(events: EventInput[]) {
  oracle.post(events);
  expect((await ingest(events)).accepted).toBe(events.length);
}

const RANGE = `start_date=${dateOf(T - 200)}&end_date=${dateOf(T)}`;
async function read(query = "") {
  const res = await request(`/api/organizations/${ORG}/analytics/reactivations?${RANGE}&limit=1000${query}`, { token: reader });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { thresholds: unknown; reactivations: Record<string, unknown>[] };
}
const brief = (rows: Record<string, unknown>[]) => rows.map((r) => `${r.user_id}:${r.gap_days}`);

/** The answer equals the model live, and after the rollup (one event per fold batch, then everything at once). */
async function expectExact(label: string) {
  expect((await read()).reactivations, `${label} (live)`).toEqual(gov.reactivations(ORG, T - 200, T));
  await rollup({ eventChunk: 1 });
  expect((await read()).reactivations, `${label} (sealed)`).toEqual(gov.reactivations(ORG, T - 200, T));
}

beforeAll(async () => {
  reader = await orgToken(ORG);
  await store([
    login("gap-29", 60),
    login("gap-29", 31),
    login("gap-30", 60),
    login("gap-30", 30, { service_id: "portal", provider: "google", ip_address: "203.0.113.5", country: "de", created_at: at(30, "07:00:00") }),
    login("gap-30", 30, { created_at: at(30, "09:00:00") }),
    login("gap-31", 61, { created_at: at(61, "08:00:00") }),
    login("gap-31", 61, { created_at: at(61, "22:30:00") }),
    login("gap-31", 30),
    // a failed attempt is not a login: it neither ends nor splits a gap
    login("gap-31", 45, { outcome: "failure" }),
  ]);
});

describe("reactivations", () => {
  it("gaps of threshold − 1, threshold and threshold + 1 days", async () => {
    const body = await read();
    expect(body.thresholds).toEqual({ human: 30, machine: 30 });
    expect(body.reactivations).toEqual([
      {
        user_id: "gap-31",
        identity_type: "human",
        gap_days: 31,
        previous_login_at: at(61, "22:30:00"),
        login_at: at(30),
        service_id: "web",
        provider: "github",
        ip_address: null,
        country: null,
      },
      {
        user_id: "gap-30",
        identity_type: "human",
        gap_days: 30,
        previous_login_at: at(60),
        login_at: at(30, "07:00:00"),
        service_id: "portal",
        provider: "google",
        ip_address: "203.0.113.5",
        country: "DE",
      },
    ]);
    await expectExact("edges");
    expect(brief((await read()).reactivations)).toEqual(["gap-31:31", "gap-30:30"]);
  });

  it("a late event inside a gap splits it: the gap is no longer a reactivation", async () => {
    await store([login("split", 90), login("split", 10, { service_id: "api" })]);
    await rollup();
    expect(brief((await read()).reactivations)).toContain("split:80");
    await store([login("split", 50)]); // 90 → 50 → 10: gaps of 40 and 40
    expect(brief((await read()).reactivations).filter((r) => r.startsWith("split"))).toEqual(["split:40", "split:40"]);
    await expectExact("split once");
    await store([login("split", 30), login("split", 70)]); // gaps of 20: none left
    expect(brief((await read()).reactivations).filter((r) => r.startsWith("split"))).toEqual([]);
    await expectExact("split again");
  });

  it("a late event before the first login makes the first login a reactivation, with its own details", async () => {
    await store([login("early", 20, { service_id: "first-svc", provider: "saml", ip_address: "2001:db8::7", country: "fr" }), login("early", 15)]);
    await rollup();
    await store([login("early", 80)]);
    const row = (await read()).reactivations.find((r) => r.user_id === "early");
    expect(row).toEqual({
      user_id: "early",
      identity_type: "human",
      gap_days: 60,
      previous_login_at: at(80),
      login_at: at(20),
      service_id: "first-svc",
      provider: "saml",
      ip_address: "2001:db8::7",
      country: "FR",
    });
    await expectExact("before the first login");
  });

  it("a late login earlier on a reactivation day replaces its first login; a later one on the previous day moves previous_login_at", async () => {
    await store([login("moves", 100), login("moves", 40, { created_at: at(40, "15:00:00") })]);
    await rollup();
    await store([login("moves", 40, { service_id: "early-bird", created_at: at(40, "06:00:00") }), login("moves", 100, { created_at: at(100, "23:00:00") })]);
    const row = (await read()).reactivations.find((r) => r.user_id === "moves");
    expect(row).toMatchObject({ gap_days: 60, login_at: at(40, "06:00:00"), previous_login_at: at(100, "23:00:00"), service_id: "early-bird" });
    await expectExact("moved first and last");
  });

  it("thresholds come from the settings, per type, and apply to what is already stored", async () => {
    await store([
      ...[50, 42].map((d) => login("cron-bot", d, { identity_type: "machine", service_id: "api", provider: "key" })),
      ...[50, 43].map((d) => login("six-bot", d, { identity_type: "machine", service_id: "api", provider: "key" })),
    ]);
    await rollup();
    expect(brief((await read()).reactivations).filter((r) => r.includes("bot"))).toEqual([]);
    const saved = await request(`/api/organizations/${ORG}/settings`, {
      method: "PUT",
      token: await orgToken(ORG, { scope: "org:admin" }),
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ machine_thresholds: [7, 30] }),
    });
    expect(saved.status).toBe(200);
    gov.settings.set(ORG, { human: [30, 60, 90], machine: [7, 30] });
    const body = await read("&identity_type=machine");
    expect(body.thresholds).toEqual({ human: 30, machine: 7 });
    expect(brief(body.reactivations)).toEqual(["cron-bot:8", "six-bot:7"]);
    expect(body.reactivations).toEqual(gov.reactivations(ORG, T - 200, T, "machine"));
  });

  it("the fold stored them (a read does not scan history), and pages walk the whole list", async () => {
    expect(await countEverywhere("SELECT COUNT(*) AS n FROM reactivations")).toBeGreaterThan(4);
    const all = (await read()).reactivations;
    const seen: unknown[] = [];
    let next: string | null = `/api/organizations/${ORG}/analytics/reactivations?${RANGE}&limit=2`;
    while (next) {
      const res: Response = await request(next, { token: reader });
      seen.push(...((await res.json()) as { reactivations: unknown[] }).reactivations);
      const link: string | null = res.headers.get("link");
      next = link ? link.slice(1, link.indexOf(">")) : null;
    }
    expect(seen).toEqual(all);
    await expectErrorBody(await request(`/api/organizations/${ORG}/analytics/reactivations?cursor=nope`, { token: reader }), 400, "BAD_REQUEST");
    await expectErrorBody(await request(`/api/organizations/${ORG}/analytics/reactivations?start_date=2025-02-30`, { token: reader }), 400, "BAD_REQUEST");
  });
});
