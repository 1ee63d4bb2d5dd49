import { sql } from "drizzle-orm";
import { first, namedBatch } from "../db/client";
import { rollupState } from "../db/schema";
import type { Db } from "../env";
import { type Databases, everyDatabase } from "../db/shards";
import { dayOf } from "../lib/dates";
import { runRollup, type RollupResult } from "../rollup/rollup";
import { makeOrgReport, makePlatformReport, orgsWithoutReport, pendingReports, recordHealth } from "./reports";
import { pruneRawEvents, type PruneResult } from "./retention";
import { deliverDue, type DeliveryResult } from "./webhooks";

/**
 * The governance work of the cron triggers (dispatched in src/scheduled.ts):
 *
 *   0 6 * * *     finish the rollup, prune raw events past retention, record every
 *                 organization's health label, make the day's reports (organizations, then
 *                 the platform's), deliver due webhooks
 *   *∕15 * * * *  after the rollup: continue the day's reports if the daily run did not finish
 *                 them, and deliver due webhooks (retries happen here)
 *
 * Every step is idempotent and works in chunks under a time budget, so a run cut off anywhere
 * leaves consistent tables and the next run continues.
 */

/** rollup_state key: the day whose reports the daily job started (the quarter-hourly runs finish them). */
export const GOVERNANCE_DAY_KEY = "governance_day";

export interface GovernanceOptions {
  /** The cron's scheduled time: the report day and the webhook schedule follow it. */
  now: number;
  allowPrivateWebhooks: boolean;
  rawRetentionDays: number;
  /** Stop starting new chunks after this long (the daily cron may run 15 min; quarter-hourly runs get 30 s of CPU). */
  budgetMs?: number;
  fetcher?: typeof fetch;
  webhookTimeoutMs?: number;
  /** Testing hook: make at most this many reports in this run (in each database), as if it had been cut off. */
  maxReports?: number;
}

export interface DailyResult {
  day: number;
  /** Per database (src/db/shards.ts): `DB`, then any `DB_SHARD_n`. */
  rollup: Record<string, RollupResult>;
  retention: PruneResult;
  health: number;
  reports: { created: number; complete: boolean };
  platformReport: "created" | "exists" | "pending";
  deliveries: DeliveryResult[];
}

/** Organizations' reports of `day` in chunks until none is missing, the budget is spent or `maxReports` made. */
async function makeReports(db: Db, day: number, now: number, deadline: number, maxReports: number) {
  let created = 0;
  for (;;) {
    if (Date.now() > deadline || created >= maxReports) return { created, complete: false };
    const missing = await orgsWithoutReport(db, day, Math.min(50, maxReports - created));
    if (missing.length === 0) return { created, complete: true };
    for (const slug of missing) {
      if ((await makeOrgReport(db, slug, day, now)) === "created") created++;
      if (Date.now() > deadline || created >= maxReports) return { created, complete: false };
    }
  }
}

const sumReports = (parts: { created: number; complete: boolean }[]) => ({
  created: parts.reduce((n, p) => n + p.created, 0),
  complete: parts.every((p) => p.complete),
});

/**
 * The daily run: every database's share in parallel (each organization lives in one), then
 * the platform report once every organization's report of the day exists.
 */
export async function runDailyJob(dbs: Databases, options: GovernanceOptions): Promise<DailyResult> {
  const { now, budgetMs = 600_000, maxReports = Number.POSITIVE_INFINITY } = options;
  const started = Date.now();
  const deadline = started + budgetMs;
  const day = dayOf(now);
  const shards = await everyDatabase(dbs, async (db, name) => {
    // Reports read the tail live, so they are exact either way; a finished rollup makes them cheap.
    const rollup = await runRollup(db, { budgetMs: Math.floor(budgetMs / 3) });
    const retention = rollup.complete ? await pruneRawEvents(db, { now, retentionDays: options.rawRetentionDays, deadline }) : { deleted: 0, complete: false };
    await namedBatch(db, {
      mark: sql`INSERT INTO ${rollupState} (key, value) VALUES (${GOVERNANCE_DAY_KEY}, ${day})
          ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)`,
    });
    const health = await recordHealth(db, day, now);
    const reports = await makeReports(db, day, now, deadline, maxReports);
    return { name, rollup, retention, health, reports };
  });
  const reports = sumReports(shards.map((s) => s.reports));
  const platformReport = reports.complete ? await makePlatformReport(dbs, day, now) : "pending";
  const deliveries = await deliverEverywhere(dbs, options);
  return {
    day,
    rollup: Object.fromEntries(shards.map((s) => [s.name, s.rollup])),
    retention: { deleted: shards.reduce((n, s) => n + s.retention.deleted, 0), complete: shards.every((s) => s.retention.complete) },
    health: shards.reduce((n, s) => n + s.health, 0),
    reports,
    platformReport,
    deliveries,
  };
}

/** Due webhook deliveries of every database (each organization's reports live in its own). */
async function deliverEverywhere(dbs: Databases, options: GovernanceOptions): Promise<DeliveryResult[]> {
  const parts = await everyDatabase(dbs, (db) =>
    deliverDue(db, { now: options.now, allowPrivate: options.allowPrivateWebhooks, timeoutMs: options.webhookTimeoutMs, fetcher: options.fetcher }),
  );
  return parts.flat();
}

/**
 * The quarter-hourly run's share, after its rollup: finish today's reports in every database
 * where the daily run left some, then the platform report, then deliver due webhooks.
 */
export async function continueGovernance(dbs: Databases, options: GovernanceOptions) {
  const { now, budgetMs = 20_000, maxReports = Number.POSITIVE_INFINITY } = options;
  const deadline = Date.now() + budgetMs;
  const today = dayOf(now);
  const shards = await everyDatabase(dbs, async (db) => {
    const state = await first<{ value: number }>(db, sql`SELECT value FROM ${rollupState} WHERE key = ${GOVERNANCE_DAY_KEY}`);
    if (state?.value !== today) return undefined;
    const pending = await pendingReports(db, today);
    if (!pending.orgs) return { ran: false, created: 0, complete: true, platform: pending.platform };
    await recordHealth(db, today, now);
    return { ran: true, ...(await makeReports(db, today, now, deadline, maxReports)), platform: pending.platform };
  });
  const started = shards.filter((s) => s !== undefined);
  let reports: { created: number; complete: boolean } | undefined;
  let platformReport: "created" | "exists" | "pending" | undefined;
  // The daily run has started today in every database: the primary's mark says whether the platform report is still missing.
  if (started.length === shards.length && shards[0]) {
    if (started.some((s) => s.ran)) reports = sumReports(started);
    const complete = started.every((s) => s.complete);
    if (shards[0].platform) platformReport = complete ? await makePlatformReport(dbs, today, now) : "pending";
  }
  const deliveries = await deliverEverywhere(dbs, options);
  return { reports, platformReport, deliveries };
}
