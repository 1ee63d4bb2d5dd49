import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { everyDatabase } from "../src/db/shards";
import { runDailyJob } from "../src/governance/jobs";
import { makeOrgReport } from "../src/governance/reports";
import { deliverDue, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_TIMEOUT_MS } from "../src/governance/webhooks";
import worker from "../src/index";
import { CRON_DAILY, CRON_ROLLUP } from "../src/scheduled";
import { allD1, countEverywhere, DAY_MS, type EventInput, getJson, ingest, orgD1, orgDb, orgToken, platformToken, request, testDatabases, token } from "./helpers";
import { dateOf, dayOfMs } from "./oracle";

/**
 * Scheduled reports and their signed delivery. The cron handler is called as Cloudflare calls
 * it (createScheduledController, waitOnExecutionContext) with scheduled times chosen by the
 * test, so retries happen on "later" runs. Outbound fetches go to fake receivers that verify
 * every signature with the `standardwebhooks` package — an implementation that is not the
 * signer's (ours signs with Web Crypto).
 */

const T = dayOfMs(Date.now());
const SIX = T * DAY_MS + 6 * 3_600_000; // today 06:00 UTC, the daily run's scheduled time
const MIN = 60_000;
const secret = (c: string) => `whsec_${btoa(c.repeat(32))}`;

async function cron(expression: string, scheduledTime: number) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: expression, scheduledTime }), env, ctx);
  await waitOnExecutionContext(ctx);
}

interface Received {
  id: string;
  timestamp: string;
  body: { type: string; timestamp: string; data: Record<string, unknown> };
  verifiedWith: string[];
}

/** Fake receivers by URL: each answers from its script and records what it verified. */
const receivers = new Map<string, { secrets: string[]; answers: (() => Response | Promise<Response>)[]; received: Received[] }>();
function receiver(url: string, secrets: string[], answers: (() => Response | Promise<Response>)[]) {
  const r = { secrets, answers, received: [] as Received[] };
  receivers.set(url, r);
  return r;
}

beforeAll(() => {
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const r = receivers.get(url);
    if (!r) return real(input, init);
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    const payload = String(init?.body);
    const verifiedWith = r.secrets.filter((s) => {
      try {
        new Webhook(s).verify(payload, headers);
        return true;
      } catch {
        return false;
      }
    });
    r.received.push({ id: headers["webhook-id"], timestamp: headers["webhook-timestamp"], body: JSON.parse(payload), verifiedWith });
    const answer = r.answers.length > 1 ? r.answers.shift()! : r.answers[0];
    const signal = init?.signal ?? undefined;
    return Promise.race([answer(), new Promise<Response>((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason)))]);
  });
});

const login = (org: string, user: string, daysAgo: number, extra: Partial<EventInput> = {}): EventInput => ({
  id: `${org}-${user}-${daysAgo}-${Math.random().toString(36).slice(2)}`,
  org,
  user_id: user,
  service_id: "web",
  provider: "github",
  created_at: new Date(SIX - daysAgo * DAY_MS - 3_600_000).toISOString(),
  ...extra,
});

async function configure(org: string, body: Record<string, unknown>) {
  const res = await request(`/api/organizations/${org}/settings`, {
    method: "PUT",
    token: await token({ claims: { is_platform_owner: true } }),
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

const count = countEverywhere;
/** A write run in every database (each organization's deliveries live in its own). */
const runEverywhere = (query: string) => Promise.all(allD1().map((d1) => d1.prepare(query).run()));
/** Due deliveries of every database, as the cron sends them. */
const deliverEverywhere = async (options: Parameters<typeof deliverDue>[1]) => (await everyDatabase(testDatabases(), (db) => deliverDue(db, options))).flat();

async function report(org: string, day = T) {
  const { status, body } = await getJson<Record<string, any>>(`/api/organizations/${org}/reports/${dateOf(day)}`, await orgToken(org));
  expect(status).toBe(200);
  return body;
}

describe("the daily report", () => {
  beforeAll(async () => {
    await ingest([
      login("rep-a", "alice", 45),
      login("rep-a", "alice", 3),
      login("rep-a", "bob", 31), // crossed 30 days today: newly dormant
      login("rep-a", "carol", 90),
      login("rep-a", "dan", 90),
      ...[60, 59, 58, 57, 56, 55].map((d) => login("rep-a", "etl", d, { identity_type: "machine", service_id: "api" })),
      login("rep-b", "dave", 2),
    ]);
    await configure("rep-a", { webhook_url: "https://hooks.example.test/a", webhook_secret: secret("a") });
  });

  it("is made for every organization and the platform, stored, and delivered signed (verified independently)", async () => {
    const hook = receiver("https://hooks.example.test/a", [secret("a")], [() => new Response("ok")]);
    await cron(CRON_DAILY, SIX);
    expect(await count("SELECT COUNT(*) AS n FROM reports WHERE day = ?", T)).toBe(3); // rep-a, rep-b, platform
    expect(hook.received).toHaveLength(1);
    const [delivery] = hook.received;
    expect(delivery.verifiedWith).toEqual([secret("a")]);
    expect(delivery.id).toMatch(/^msg_report_\d+$/);
    expect(Math.abs(Number(delivery.timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(delivery.body.type).toBe("report.daily");
    expect(delivery.body.data.org).toBe("rep-a");
    const stored = await report("rep-a");
    const { org, ...data } = delivery.body.data;
    expect(stored.report).toEqual(data);
    expect(stored.delivery).toMatchObject({ state: "delivered", attempts: 1, last_status: 200, next_attempt_at: null, log: [{ attempt: 1, status: 200, error: null }] });
    // the content
    expect(stored.report.date).toBe(dateOf(T));
    expect(stored.report.newly_dormant.map((r: { user_id: string }) => r.user_id)).toEqual(["bob"]);
    expect(stored.report.summary.dormant.human).toEqual([
      { days: 30, count: 3 }, // bob, carol, dan
      { days: 60, count: 2 },
      { days: 90, count: 0 }, // exactly 90 days is not more than 90
    ]);
    expect(stored.report.overdue_machines.map((r: { user_id: string }) => r.user_id)).toEqual(["etl"]);
    expect(stored.report.health.label).toBeDefined();
    expect(stored.report.health.inputs.active).toBe(1);
    // rep-b has no webhook: a report, no delivery
    expect((await report("rep-b")).delivery).toBeNull();
    const platform = await getJson<Record<string, any>>(`/api/platform/reports/${dateOf(T)}`, await platformToken());
    expect(platform.body.report).toMatchObject({ type: "platform", date: dateOf(T), organizations: 2 });
  });

  it("a second daily run the same day makes no second report and no second delivery", async () => {
    const hook = receivers.get("https://hooks.example.test/a")!;
    const reports = await count("SELECT COUNT(*) AS n FROM reports");
    await cron(CRON_DAILY, SIX + 5 * MIN);
    await cron(CRON_ROLLUP, SIX + 15 * MIN);
    expect(await count("SELECT COUNT(*) AS n FROM reports")).toBe(reports);
    expect(hook.received).toHaveLength(1);
    expect(await count("SELECT COUNT(*) AS n FROM webhook_attempts")).toBe(1);
    const list = await getJson<{ total: number; reports: { id: string; delivery: unknown }[] }>(`/api/organizations/rep-a/reports`, await orgToken("rep-a"));
    expect(list.body).toMatchObject({ total: 1, reports: [{ id: dateOf(T), delivery: { state: "delivered", attempts: 1 } }] });
  });

  it("the next day: identities newly dormant since the previous report only; reactivations since it", async () => {
    // carol wakes up after 90 days: today, which is the next report's yesterday
    await ingest([login("rep-a", "carol", 0, { created_at: new Date(Date.now() - MIN).toISOString() }), login("rep-a", "dan", 0, { created_at: new Date(Date.now() - MIN).toISOString() })]);
    // dan is deprovisioned: he leaves every report (his reactivation stays in the reactivations read, as history)
    const idp = await token({ claims: { org: "rep-a", scope: "inventory:write" } });
    expect((await request("/api/organizations/rep-a/identities/dan", { method: "DELETE", token: idp })).status).toBe(200);
    const history = await getJson<{ reactivations: { user_id: string }[] }>(`/api/organizations/rep-a/analytics/reactivations`, await orgToken("rep-a"));
    expect(history.body.reactivations.map((r) => r.user_id).sort()).toEqual(["alice", "carol", "dan"]);
    const hook = receivers.get("https://hooks.example.test/a")!;
    await cron(CRON_DAILY, SIX + DAY_MS);
    const next = await report("rep-a", T + 1);
    expect(next.report.period).toEqual({ start_date: dateOf(T), end_date: dateOf(T) });
    expect(next.report.newly_dormant.map((r: { user_id: string }) => r.user_id)).toEqual([]); // bob was already reported
    expect(next.report.reactivations.map((r: { user_id: string; gap_days: number }) => [r.user_id, r.gap_days])).toEqual([["carol", 90]]);
    expect(hook.received).toHaveLength(2);
    expect(new Set(hook.received.map((r) => r.id)).size).toBe(2); // one webhook-id per report
  });
});

describe("a daily run cut off midway", () => {
  it("leaves what it made; the quarter-hourly run finishes the day's reports and the platform's, once each", async () => {
    const DAY = T + 40;
    const AT = DAY * DAY_MS + 6 * 3_600_000;
    // maxReports applies per database: the cut-off run makes one report in each database that has
    // organizations. Three more organizations, so some database holds more than one, sharded or not.
    await ingest(["cut-1", "cut-2", "cut-3"].map((org) => login(org, "u1", 2)));
    const perDatabase = await Promise.all(allD1().map(async (d1) => (await d1.prepare("SELECT COUNT(*) AS n FROM organizations").first<{ n: number }>())!.n));
    const orgs = perDatabase.reduce((a, b) => a + b, 0);
    const made = perDatabase.filter((n) => n > 0).length;
    expect(orgs).toBeGreaterThan(made); // more than the reports the cut-off run makes
    const cut = await runDailyJob(testDatabases(), { now: AT, allowPrivateWebhooks: false, rawRetentionDays: 400, maxReports: 1 });
    expect(cut.reports).toEqual({ created: made, complete: false });
    expect(cut.platformReport).toBe("pending");
    expect(await count("SELECT COUNT(*) AS n FROM reports WHERE day = ?", DAY)).toBe(made);
    await cron(CRON_ROLLUP, AT + 15 * MIN);
    expect(await count("SELECT COUNT(*) AS n FROM reports WHERE day = ? AND scope = 'org'", DAY)).toBe(orgs);
    expect(await count("SELECT COUNT(*) AS n FROM reports WHERE day = ? AND scope = 'platform'", DAY)).toBe(1);
    await cron(CRON_ROLLUP, AT + 30 * MIN);
    await cron(CRON_DAILY, AT + 45 * MIN);
    expect(await count("SELECT COUNT(*) AS n FROM reports WHERE day = ?", DAY)).toBe(orgs + 1);
  });
});

describe("delivery: retries, timeouts, 410, Retry-After, rotation", () => {
  const DAY = T + 10;
  const AT = DAY * DAY_MS + 6 * 3_600_000;
  beforeAll(async () => {
    await ingest(["flaky", "hang", "fast", "gone", "busy"].map((o) => login(`hook-${o}`, "u1", 3)));
    for (const o of ["flaky", "hang", "fast", "gone", "busy"]) {
      await configure(`hook-${o}`, { webhook_url: `https://hooks.example.test/${o}`, webhook_secret: secret(o[0]) });
    }
  });

  it("a receiver that fails twice then succeeds gets the report once per attempt, on the backoff schedule", async () => {
    const flaky = receiver("https://hooks.example.test/flaky", [secret("f")], [() => new Response("no", { status: 500 }), () => new Response("no", { status: 502 }), () => new Response("ok")]);
    receiver("https://hooks.example.test/hang", [secret("h")], [() => new Response("ok")]);
    receiver("https://hooks.example.test/fast", [secret("f")], [() => new Response("ok")]);
    receiver("https://hooks.example.test/gone", [secret("g")], [() => new Response("ok")]);
    receiver("https://hooks.example.test/busy", [secret("b")], [() => new Response("ok")]);
    await cron(CRON_DAILY, AT); // attempt 1 fails
    expect(flaky.received).toHaveLength(1);
    await cron(CRON_ROLLUP, AT + 5 * MIN); // not due yet
    expect(flaky.received).toHaveLength(1);
    await cron(CRON_ROLLUP, AT + 15 * MIN); // attempt 2, 15 min later, fails
    expect(flaky.received).toHaveLength(2);
    await cron(CRON_ROLLUP, AT + 60 * MIN); // due at +1 h 15 min: not yet
    expect(flaky.received).toHaveLength(2);
    await cron(CRON_ROLLUP, AT + 75 * MIN); // attempt 3 succeeds
    for (const later of [90, 240, 24 * 60]) await cron(CRON_ROLLUP, AT + later * MIN);
    expect(flaky.received).toHaveLength(3);
    expect(new Set(flaky.received.map((r) => r.id)).size).toBe(1); // the same webhook-id every time
    expect(flaky.received.every((r) => r.verifiedWith.length === 1)).toBe(true);
    const log = (await report("hook-flaky", DAY)).delivery;
    expect(log).toMatchObject({ state: "delivered", attempts: 3, last_status: 200 });
    expect(log.log.map((a: { status: number }) => a.status)).toEqual([500, 502, 200]);
  });

  it("a receiver that hangs is cut off at the timeout, and does not hold up the others", async () => {
    expect(WEBHOOK_TIMEOUT_MS).toBeLessThanOrEqual(15_000);
    await runEverywhere("UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = 0 WHERE report_id IN (SELECT d.report_id FROM webhook_deliveries d JOIN organizations o ON o.id = d.org_id WHERE o.slug IN ('hook-hang', 'hook-fast'))");
    receiver("https://hooks.example.test/hang", [secret("h")], [() => new Promise<Response>(() => {})]);
    const fast = receiver("https://hooks.example.test/fast", [secret("f")], [() => new Response("ok")]);
    const started = Date.now();
    const results = await deliverEverywhere({ now: AT + 2 * DAY_MS, allowPrivate: false, timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(fast.received).toHaveLength(1);
    expect(results.map((r) => r.state).sort()).toEqual(["delivered", "pending"]);
    const hang = (await report("hook-hang", DAY)).delivery;
    expect(hang).toMatchObject({ state: "pending", attempts: 1, last_status: null, last_error: "timed out after 300 ms" });
    receiver("https://hooks.example.test/hang", [secret("h")], [() => new Response("ok")]);
  });

  it("410 Gone disables the webhook until the settings are saved again", async () => {
    await runEverywhere("UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = 0 WHERE report_id IN (SELECT d.report_id FROM webhook_deliveries d JOIN organizations o ON o.id = d.org_id WHERE o.slug = 'hook-gone')");
    const gone = receiver("https://hooks.example.test/gone", [secret("g")], [() => new Response("gone", { status: 410 }), () => new Response("ok")]);
    await cron(CRON_ROLLUP, AT + 3 * DAY_MS);
    expect(gone.received).toHaveLength(1);
    expect((await report("hook-gone", DAY)).delivery).toMatchObject({ state: "disabled", attempts: 1, last_status: 410 });
    const settings = await getJson<{ webhook: { disabled_at: string | null } }>("/api/organizations/hook-gone/settings", await orgToken("hook-gone"));
    expect(settings.body.webhook.disabled_at).not.toBeNull();
    // the next day's report is made but not sent
    await cron(CRON_DAILY, AT + DAY_MS);
    expect(gone.received).toHaveLength(1);
    expect((await report("hook-gone", DAY + 1)).delivery).toBeNull();
    // saving the settings re-enables it: the next report goes out
    await configure("hook-gone", {});
    await cron(CRON_DAILY, AT + 2 * DAY_MS);
    expect(gone.received).toHaveLength(2);
    expect((await report("hook-gone", DAY + 2)).delivery).toMatchObject({ state: "delivered" });
  });

  it("429 and 503 are retried no sooner than their Retry-After", async () => {
    await runEverywhere("UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = 0 WHERE report_id IN (SELECT d.report_id FROM webhook_deliveries d JOIN organizations o ON o.id = d.org_id WHERE o.slug = 'hook-busy')");
    receiver("https://hooks.example.test/busy", [secret("b")], [() => new Response("slow down", { status: 429, headers: { "retry-after": "7200" } })]);
    const now = AT + 5 * DAY_MS;
    await deliverEverywhere({ now, allowPrivate: false });
    const row = await (await orgD1("hook-busy")).prepare("SELECT d.state, d.next_attempt_at FROM webhook_deliveries d JOIN organizations o ON o.id = d.org_id WHERE o.slug = 'hook-busy' ORDER BY d.report_id LIMIT 1").first<{ state: string; next_attempt_at: number }>();
    expect(row).toEqual({ state: "pending", next_attempt_at: now + 7_200_000 });
  });

  it("after a rotation both secrets sign for 24 h, then only the new one; attempts stop after the last", async () => {
    await ingest([login("hook-rot", "u1", 3)]);
    await configure("hook-rot", { webhook_url: "https://hooks.example.test/rot", webhook_secret: secret("r") });
    const db = await orgDb("hook-rot");
    expect(await makeOrgReport(db, "hook-rot", DAY + 30, Date.now())).toBe("created");
    await configure("hook-rot", { webhook_secret: secret("s") });
    const rot = receiver("https://hooks.example.test/rot", [secret("r"), secret("s")], [() => new Response("no", { status: 500 })]);
    const d1 = db.$client;
    const id = (await d1.prepare("SELECT d.report_id AS id FROM webhook_deliveries d JOIN organizations o ON o.id = d.org_id WHERE o.slug = 'hook-rot'").first<{ id: number }>())!.id;
    await deliverDue(db, { now: Date.now(), allowPrivate: false });
    expect(rot.received.map((r) => r.verifiedWith)).toEqual([[secret("r"), secret("s")]]);
    for (let i = 1; i <= WEBHOOK_MAX_ATTEMPTS; i++) {
      await d1.prepare("UPDATE webhook_deliveries SET next_attempt_at = 0 WHERE report_id = ?").bind(id).run();
      await deliverDue(db, { now: Date.now() + 25 * 3_600_000, allowPrivate: false });
    }
    // 5 attempts in all (the last run found nothing due), after 24 h signed with the new secret only
    expect(rot.received.map((r) => r.verifiedWith)).toEqual([[secret("r"), secret("s")], ...Array(WEBHOOK_MAX_ATTEMPTS - 1).fill([secret("s")])]);
    expect(await d1.prepare("SELECT state, attempts FROM webhook_deliveries WHERE report_id = ?").bind(id).first()).toEqual({ state: "failed", attempts: WEBHOOK_MAX_ATTEMPTS });
  });
});

describe("no secret in a log line", () => {
  it("a daily run with deliveries logs what happened, never a secret or a webhook URL", async () => {
    const logged: string[] = [];
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logged.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "))),
    );
    receiver("https://hooks.example.test/a", [secret("a")], [() => new Response("no", { status: 500 })]);
    await cron(CRON_DAILY, SIX + 20 * DAY_MS);
    for (const spy of spies) spy.mockRestore();
    expect(logged.some((l) => l.includes('"job":"webhook"'))).toBe(true);
    for (const line of logged) {
      for (const needle of [secret("a"), btoa("a".repeat(32)), "hooks.example.test"]) expect(line.includes(needle), line.slice(0, 200)).toBe(false);
    }
  });
});
