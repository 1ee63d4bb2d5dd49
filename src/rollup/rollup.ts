import { sql } from "drizzle-orm";
import { first, namedBatch } from "../db/client";
import { activeWindowDeltas, dailyActivity, dailyOrgStats, dailyPlatformStats, dirtyDays, identities, IDENTITIES_WITH_LOGIN_KEY, loginEvents, rollupState, WATERMARK_KEY } from "../db/schema";
import type { Db } from "../env";
import { DAY_MS } from "../lib/dates";
import { foldReactivations } from "../governance/reactivations";
import { foldWindowDeltas } from "../metrics/active-windows";
import { deleteZeroCohortCells, foldCohortWeeks } from "../metrics/cohorts";
import { foldOrgLogins } from "../metrics/org-windows";
import { DAILY_TABLE, DAY_MS_SQL, dayStatsSelect, METRIC_COLUMNS, WATERMARK, windowOffsetsCte, type Dimension } from "../metrics/day-stats";

export interface RollupOptions {
  /** Events folded per D1 batch. Given: fixed. Default: sized by time (see `targetBatchMs`). */
  eventChunk?: number;
  /** Dirty (org, day) pairs recomputed per D1 batch. Given: fixed. Default: sized by time. */
  dayChunk?: number;
  /**
   * What a batch should take when chunks are sized by time: each next chunk is scaled by
   * target / last batch's duration (at most doubling), so one large organization's days
   * never make a batch approach D1's 30 s per query, and cheap days go in big chunks.
   */
  targetBatchMs?: number;
  /** Stop starting new chunks after this many ms (the cron's CPU/wall budget); the next run continues. */
  budgetMs?: number;
  /** Testing hook: stop after this many batches, as if the invocation had been killed. */
  maxBatches?: number;
  /** The run's time (ms; default now): dirty days after its day wait until they come (see recomputeDirtyDays). */
  now?: number;
}

/**
 * A chunk size that follows the measured cost of the last batch: fixed when the caller
 * gave one, otherwise scaled toward `targetMs` per batch within [1, max].
 */
export class ChunkSizer {
  constructor(
    private size: number,
    private readonly fixed: boolean,
    private readonly targetMs: number,
    private readonly max: number,
  ) {}

  get current(): number {
    return this.size;
  }

  /** After a batch of the current size took `ms`. */
  observe(ms: number): void {
    if (this.fixed) return;
    const scaled = Math.floor((this.size * this.targetMs) / Math.max(ms, 1));
    this.size = Math.max(1, Math.min(this.max, this.size * 2, scaled));
  }

  /** After a batch failed on D1's time limit: half as much, or false when already one. */
  shrink(): boolean {
    if (this.size === 1) return false;
    this.size = Math.max(1, Math.floor(this.size / 2));
    return true;
  }
}

/** D1 resets a statement that runs past its time limit; a smaller chunk can succeed where this one did not. */
const isD1TimeLimit = (err: unknown) => /exceeded timeout|timed? ?out|too long to execute/i.test((err as Error)?.message ?? "");

/** Runs one batch of `sizer.current`, timing it; on D1's time limit retries with half the chunk. */
async function sizedBatch<T>(sizer: ChunkSizer, run: (size: number) => Promise<T>): Promise<T> {
  for (;;) {
    const started = Date.now();
    try {
      const result = await run(sizer.current);
      sizer.observe(Date.now() - started);
      return result;
    } catch (err) {
      if (!isD1TimeLimit(err) || !sizer.shrink()) throw err;
      console.warn(`rollup: batch hit D1's time limit, retrying with ${sizer.current}`);
    }
  }
}

export interface RollupResult {
  foldedEvents: number;
  recomputedDays: number;
  batches: number;
  complete: boolean;
  watermark: number;
}


/**
 * Folds one chunk of new events (seq in (from, to]) into identities, daily_activity
 * and dirty_days, and advances the watermark — all in one D1 batch, so a chunk is
 * either entirely folded or not at all. Every statement is guarded by the
 * watermark still being `from`, so two overlapping runs cannot fold a chunk twice.
 */
function foldChunk(db: Db, from: number, to: number) {
  const guard = sql`${WATERMARK} = ${from}`;
  const chunk = sql`${loginEvents.seq} > ${from} AND ${loginEvents.seq} <= ${to}`;
  return namedBatch(db, {
    // WAU/MAU of the 30 days starting at each event's day change; so does the event's own day.
    dirtyWindows: sql`INSERT OR IGNORE INTO ${dirtyDays} (org_id, day)
      WITH ${windowOffsetsCte}
      SELECT d.org_id, d.day + offsets.k FROM
        (SELECT DISTINCT org_id, created_at / ${DAY_MS_SQL} AS day FROM ${loginEvents} WHERE ${chunk}) d, offsets
      WHERE ${guard}`,
    // A login earlier than an identity's known first login moves its "new" day: the old day changes too.
    dirtyOldFirstDays: sql`INSERT OR IGNORE INTO ${dirtyDays} (org_id, day)
      SELECT i.org_id, i.first_day FROM ${identities} i
      JOIN (SELECT identity_id, MIN(created_at) / ${DAY_MS_SQL} AS day FROM ${loginEvents}
            WHERE ${chunk} AND outcome = 'success' GROUP BY identity_id) c ON c.identity_id = i.id
      WHERE c.day < i.first_day AND ${guard}`,
    // Reactivations (src/governance/reactivations.ts): read identities and daily_activity as they were before this chunk.
    ...foldReactivations(from, to, guard),
    // before identities and daily_activity take the chunk: it reads each identity's first login and login weeks without it
    cohortWeeks: foldCohortWeeks(from, to, guard),
    cohortZeros: deleteZeroCohortCells,
    orgLogins: foldOrgLogins(from, to, guard),
    // before identities take the chunk: the identities whose first login it is (first_day still unset)
    identitiesWithLogin: sql`UPDATE ${rollupState} SET value = value + (
        SELECT COUNT(*) FROM ${identities}
        WHERE first_day IS NULL AND id IN (SELECT identity_id FROM ${loginEvents} WHERE ${chunk} AND outcome = 'success'))
      WHERE key = ${IDENTITIES_WITH_LOGIN_KEY} AND ${guard}`,
    identities: sql`UPDATE ${identities} SET
        first_login_at = MIN(COALESCE(identities.first_login_at, c.first_at), c.first_at),
        first_day = MIN(COALESCE(identities.first_login_at, c.first_at), c.first_at) / ${DAY_MS_SQL},
        last_service_id = CASE WHEN identities.last_login_at IS NULL OR c.last_at >= identities.last_login_at
          THEN c.latest_service_id ELSE identities.last_service_id END,
        last_provider = CASE WHEN identities.last_login_at IS NULL OR c.last_at >= identities.last_login_at
          THEN c.latest_provider ELSE identities.last_provider END,
        last_login_at = MAX(COALESCE(identities.last_login_at, c.last_at), c.last_at),
        login_count = identities.login_count + c.n
      FROM (
        SELECT identity_id, MIN(created_at) AS first_at, COUNT(*) AS n,
          MAX(CASE WHEN rn = 1 THEN created_at END) AS last_at,
          MAX(CASE WHEN rn = 1 THEN service_id END) AS latest_service_id,
          MAX(CASE WHEN rn = 1 THEN provider END) AS latest_provider
        FROM (SELECT identity_id, created_at, service_id, provider,
                ROW_NUMBER() OVER (PARTITION BY identity_id ORDER BY created_at DESC, seq DESC) AS rn
              FROM ${loginEvents} WHERE ${chunk} AND outcome = 'success')
        GROUP BY identity_id
      ) c
      WHERE identities.id = c.identity_id AND ${guard}`,
    // before the chunk joins daily_activity: it reads the identities' login days without it
    windows: foldWindowDeltas(from, to, guard),
    // a span that was added and removed again leaves a zero: drop it, so the table does not depend on chunking
    windowZeros: sql`DELETE FROM ${activeWindowDeltas} WHERE delta = 0`,
    activity: sql`INSERT INTO ${dailyActivity} (org_id, day, identity_id, service_id, provider, identity_type, logins, failures)
      SELECT ${loginEvents.orgId}, ${loginEvents.createdAt} / ${DAY_MS_SQL}, ${loginEvents.identityId}, ${loginEvents.serviceId},
        ${loginEvents.provider}, i.identity_type, SUM(${loginEvents.outcome} = 'success'), SUM(${loginEvents.outcome} = 'failure')
      FROM ${loginEvents} JOIN ${identities} i ON i.id = ${loginEvents.identityId}
      WHERE ${chunk} AND ${guard}
      GROUP BY ${loginEvents.orgId}, ${loginEvents.createdAt} / ${DAY_MS_SQL}, ${loginEvents.identityId}, ${loginEvents.serviceId}, ${loginEvents.provider}
      ON CONFLICT (org_id, day, identity_id, service_id, provider) DO UPDATE SET
        logins = logins + excluded.logins, failures = failures + excluded.failures`,
    advance: sql`UPDATE ${rollupState} SET value = ${to} WHERE key = ${WATERMARK_KEY} AND value = ${from}`,
    folded: sql`SELECT COUNT(*) AS n FROM ${loginEvents} WHERE ${chunk}`,
  });
}

/**
 * Recomputes the daily tables for up to `limit` dirty (org, day) pairs up to `today` and
 * clears them, in one batch. The claimed set is the same subquery in every statement;
 * inside the batch's transaction it cannot change, and the recompute is a pure
 * function of daily_activity and identities, so re-running it is harmless.
 *
 * Days after today stay dirty until they come. A login dirties the 29 days after its own (its
 * WAU/MAU windows), so a day is dirtied again and again while it is in the future; recomputed
 * then, every cron run would redo about 30 days for each organization with a login, most of
 * them days nobody can read yet. Reads treat a dirty day as stale whenever it is (they recompute
 * it live, as any dirty day), so answers are exact either way; a future day is recomputed once,
 * by the first run on or after it, and again only if a later login dirties it.
 */
function recomputeDirtyDays(db: Db, limit: number, today: number) {
  const claimed = sql`SELECT org_id, day FROM ${dirtyDays} WHERE day <= ${today} ORDER BY org_id, day LIMIT ${limit}`;
  const claimedCtes = sql`target AS (${claimed}),
    activity AS (SELECT * FROM ${dailyActivity}),
    tail_first(identity_id, day) AS (SELECT NULL, NULL WHERE 0)`;
  const dimensions = Object.keys(DAILY_TABLE) as Dimension[];
  const perDimension = Object.fromEntries(
    dimensions.flatMap((dimension) => {
      const { table, column, windows } = DAILY_TABLE[dimension];
      const rows = windows
        ? dayStatsSelect(dimension)
        : sql`SELECT org_id, day, ${column}, logins, failed_logins, dau, new_users, returning_users, 0, 0
            FROM (${dayStatsSelect(dimension, { windows: "none" })})`;
      return [
        [`clear_${dimension}`, sql`DELETE FROM ${table} WHERE (org_id, day) IN (${claimed})`],
        [`fill_${dimension}`, sql`INSERT INTO ${table} (org_id, day, ${column}, ${METRIC_COLUMNS}) WITH ${claimedCtes} ${rows}`],
      ];
    }),
  );
  return namedBatch(db, {
    ...perDimension,
    // The platform rows of the claimed days, from every organization's rows of those days
    // (after they were rewritten above); a day with pairs still dirty is not read from here.
    platformClear: sql`DELETE FROM ${dailyPlatformStats} WHERE day IN (SELECT day FROM (${claimed}))`,
    platformFill: sql`INSERT INTO ${dailyPlatformStats} (day, logins, failed_logins)
      SELECT s.day, SUM(s.logins), SUM(s.failed_logins) FROM ${dailyOrgStats} s
      WHERE s.day IN (SELECT day FROM (${claimed})) GROUP BY s.day`,
    cleared: sql`DELETE FROM ${dirtyDays} WHERE (org_id, day) IN (${claimed})`,
    remaining: sql`SELECT COUNT(*) AS n FROM ${dirtyDays} WHERE day <= ${today}`,
  });
}

/**
 * One rollup run: fold every new event into daily_activity/identities (chunked), then
 * recompute every dirty day up to today (chunked); `complete` when none of those is left.
 * Safe to interrupt anywhere and to re-run: each batch is atomic and the next run continues
 * where this one stopped.
 */
export async function runRollup(db: Db, options: RollupOptions = {}): Promise<RollupResult> {
  const { budgetMs = 20_000, maxBatches = Number.POSITIVE_INFINITY, targetBatchMs = 2_000 } = options;
  const events = new ChunkSizer(options.eventChunk ?? 5_000, options.eventChunk !== undefined, targetBatchMs, 50_000);
  const days = new ChunkSizer(options.dayChunk ?? 50, options.dayChunk !== undefined, targetBatchMs, 5_000);
  const started = Date.now();
  const today = Math.floor((options.now ?? started) / DAY_MS);
  let batches = 0;
  let foldedEvents = 0;
  let recomputedDays = 0;
  const canContinue = () => batches < maxBatches && Date.now() - started < budgetMs;

  // Both rows exist once the migrations ran (0010 counts what was sealed before it); on a database
  // without them nothing was ever folded, so they start at 0.
  await namedBatch(db, {
    init: sql`INSERT OR IGNORE INTO ${rollupState} (key, value) VALUES (${WATERMARK_KEY}, 0), (${IDENTITIES_WITH_LOGIN_KEY}, 0)`,
  });
  let watermark = 0;
  for (;;) {
    const state = (await first<{ watermark: number; max_seq: number }>(db, sql`SELECT
      ${WATERMARK} AS watermark, COALESCE((SELECT MAX(seq) FROM ${loginEvents}), 0) AS max_seq`))!;
    watermark = state.watermark;
    if (state.max_seq <= watermark) break;
    if (!canContinue()) return { foldedEvents, recomputedDays, batches, complete: false, watermark };
    const from = watermark;
    let to = from;
    const { advance, folded } = await sizedBatch(events, (size) => {
      to = Math.min(state.max_seq, from + size);
      return foldChunk(db, from, to);
    });
    batches++;
    if (advance.meta.changes === 1) {
      foldedEvents += (folded.results as { n: number }[])[0].n;
      watermark = to;
    }
  }

  for (;;) {
    if (!canContinue()) return { foldedEvents, recomputedDays, batches, complete: false, watermark };
    const { cleared, remaining } = await sizedBatch(days, (size) => recomputeDirtyDays(db, size, today));
    batches++;
    recomputedDays += cleared.meta.changes;
    if ((remaining.results as { n: number }[])[0].n === 0) break;
  }
  return { foldedEvents, recomputedDays, batches, complete: true, watermark };
}
