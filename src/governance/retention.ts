import { sql } from "drizzle-orm";
import { namedBatch } from "../db/client";
import { loginEvents, organizations } from "../db/schema";
import type { Db } from "../env";
import { DAY_MS, dayOf } from "../lib/dates";
import { WATERMARK } from "../metrics/day-stats";

/**
 * Raw-event retention: events whose day is more than RAW_RETENTION_DAYS before today are
 * deleted by the daily job, in bounded chunks, and only once the rollup has folded them (seq
 * at or below the watermark), so every rollup-derived answer and every report is the same
 * before and after. Only `recent-logins`, which lists raw events, reaches back no further.
 */

/** Events deleted per statement: well under D1's 30 s per query, and a run stops between chunks when its time is up. */
export const RETENTION_CHUNK = 5_000;

export interface PruneResult {
  deleted: number;
  complete: boolean;
}

/** The first day kept: today − retentionDays (events on earlier days go). */
export const retainedFromDay = (now: number, retentionDays: number) => dayOf(now) - retentionDays;

export async function pruneRawEvents(db: Db, options: { now: number; retentionDays: number; deadline: number; chunk?: number }): Promise<PruneResult> {
  const { now, retentionDays, deadline, chunk = RETENTION_CHUNK } = options;
  const cutoff = retainedFromDay(now, retentionDays) * DAY_MS;
  let deleted = 0;
  for (;;) {
    if (Date.now() > deadline) return { deleted, complete: false };
    // Per organization the (org_id, outcome, created_at) index gives the old events directly.
    const { removed } = await namedBatch(db, {
      removed: sql`DELETE FROM ${loginEvents} WHERE seq IN (
        SELECT e.seq FROM ${organizations} o CROSS JOIN ${loginEvents} e
          ON e.org_id = o.id AND e.outcome IN ('success', 'failure') AND e.created_at < ${cutoff}
        WHERE e.seq <= ${WATERMARK}
        LIMIT ${chunk})`,
    });
    deleted += removed.meta.changes;
    if (removed.meta.changes < chunk) return { deleted, complete: true };
  }
}
