import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { pruneRawEvents } from "../src/governance/retention";
import worker from "../src/index";
import { CRON_DAILY } from "../src/scheduled";
import { countEverywhere, DAY_MS, type EventInput, getJson, ingest, orgD1, orgDb, orgToken, rollup } from "./helpers";
import { dateOf, dayOfMs } from "./oracle";

/**
 * Retention: raw events on days more than RAW_RETENTION_DAYS before today go, in chunks, and
 * only once folded; every rollup-derived read is the same before and after.
 */

const ORG = "ret";
const T = dayOfMs(Date.now());
const R = 30;
let seq = 0;
const ev = (ms: number, user = "u1"): EventInput => ({ id: `ret-${++seq}`, org: ORG, user_id: user, service_id: "web", provider: "github", created_at: new Date(ms).toISOString() });
const stored = () => countEverywhere("SELECT COUNT(*) AS n FROM login_events");

const READS = [
  `login-trends?start_date=${dateOf(T - 200)}&end_date=${dateOf(T)}`,
  `logins-by-service?start_date=${dateOf(T - 200)}&end_date=${dateOf(T)}`,
  `active-users?start_date=${dateOf(T - 120)}&end_date=${dateOf(T)}`,
  `user-growth?start_date=${dateOf(T - 120)}&end_date=${dateOf(T)}`,
  `summary?start_date=${dateOf(T - 60)}&end_date=${dateOf(T)}`,
  "dormancy?limit=1000",
  `reactivations?start_date=${dateOf(T - 200)}&end_date=${dateOf(T)}&limit=1000`,
];

async function answers() {
  const tok = await orgToken(ORG);
  return Promise.all(READS.map(async (q) => (await getJson(`/api/organizations/${ORG}/analytics/${q}`, tok)).body));
}

beforeAll(async () => {
  const cutoff = (T - R) * DAY_MS; // the first instant kept
  await ingest([
    ev(cutoff - 1), // the last millisecond of the last day that goes
    ev(cutoff), // the first of the first day kept
    ...Array.from({ length: 23 }, (_, i) => ev(cutoff - (i + 1) * 3 * DAY_MS, `u${i % 4}`)),
    ...Array.from({ length: 5 }, (_, i) => ev(cutoff + (i + 1) * DAY_MS, `u${i}`)),
  ]);
  expect((await rollup()).complete).toBe(true);
});

describe("retention", () => {
  it("deletes folded events older than the retention, in chunks, at the day boundary; answers do not change", async () => {
    const before = await answers();
    const result = await pruneRawEvents(await orgDb(ORG), { now: Date.now(), retentionDays: R, deadline: Number.POSITIVE_INFINITY, chunk: 4 });
    expect(result).toEqual({ deleted: 24, complete: true });
    expect(await stored()).toBe(6);
    const kept = await (await orgD1(ORG)).prepare("SELECT MIN(created_at) AS m FROM login_events").first<{ m: number }>();
    expect(kept?.m).toBe((T - R) * DAY_MS);
    expect(await answers()).toEqual(before);
    // recent-logins lists raw events: it reaches back only as far as retention
    const recent = await getJson<unknown[]>(`/api/organizations/${ORG}/analytics/recent-logins?limit=1000`, await orgToken(ORG));
    expect(recent.body).toHaveLength(6);
  });

  it("never deletes an event the rollup has not folded yet", async () => {
    await ingest([ev((T - R - 10) * DAY_MS, "late")]); // a late event, older than retention, still in the tail
    const before = await answers();
    expect((await pruneRawEvents(await orgDb(ORG), { now: Date.now(), retentionDays: R, deadline: Number.POSITIVE_INFINITY })).deleted).toBe(0);
    expect(await stored()).toBe(7);
    expect((await rollup()).complete).toBe(true);
    expect(await answers()).toEqual(before); // the late login counted live, and counts sealed
    expect((await pruneRawEvents(await orgDb(ORG), { now: Date.now(), retentionDays: R, deadline: Number.POSITIVE_INFINITY })).deleted).toBe(1);
    expect(await answers()).toEqual(before);
  });

  it("stops between chunks when its time is up, and the next run continues", async () => {
    await ingest(Array.from({ length: 5 }, (_, i) => ev((T - R - 2) * DAY_MS + i)));
    expect((await rollup()).complete).toBe(true);
    expect(await pruneRawEvents(await orgDb(ORG), { now: Date.now(), retentionDays: R, deadline: Date.now() - 1 })).toEqual({ deleted: 0, complete: false });
    expect(await pruneRawEvents(await orgDb(ORG), { now: Date.now(), retentionDays: R, deadline: Number.POSITIVE_INFINITY, chunk: 2 })).toEqual({ deleted: 5, complete: true });
  });

  it("the daily cron prunes with RAW_RETENTION_DAYS", async () => {
    await ingest([ev((T - 10) * DAY_MS, "cron-old"), ev(Date.now() - 60_000, "cron-new")]);
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: CRON_DAILY, scheduledTime: Date.now() }), { ...env, RAW_RETENTION_DAYS: "5" }, ctx);
    await waitOnExecutionContext(ctx);
    const line = log.mock.calls.map((c) => String(c[0])).find((l) => l.includes('"job":"daily"'));
    log.mockRestore();
    expect(JSON.parse(line!).retention.deleted).toBeGreaterThan(0);
    const oldest = await (await orgD1(ORG)).prepare("SELECT MIN(created_at) AS m FROM login_events").first<{ m: number }>();
    expect(oldest!.m).toBeGreaterThanOrEqual((T - 5) * DAY_MS);
  });
});
