import { sql, type SQL } from "drizzle-orm";
import { DAY_MS } from "../lib/dates";

/**
 * Milliseconds per day as an SQL integer literal. D1 binds JS numbers as REAL,
 * and `created_at / 86400000.0` would not truncate to a day number.
 */
export const DAY_MS_SQL = sql.raw(String(DAY_MS));

/**
 * The daily statistics, as one SELECT shared by the cron rollup and by live
 * reads. It expects these CTEs in its WITH clause:
 *
 *   target(org_id, day)           the days to compute
 *   activity(org_id, day, identity_id, service_id, provider, identity_type, logins, failures)
 *   tail_first(identity_id, day)  first login day among events not yet folded into
 *                                 identities (empty for the rollup)
 *
 * The rollup binds `activity` to daily_activity and `target` to claimed dirty
 * days; a read binds `activity` to daily_activity ∪ the unsealed tail and
 * `target` (or `changed`, for same-day metrics) to the stale days it must not
 * take from the daily tables. Same SQL, so a live answer and a rolled-up answer
 * cannot disagree.
 */

/** An identity's first login day, counting logins not yet folded into `identities` (needs `identities i`, `tail_first f`). */
export const effectiveFirstDay = sql`MIN(COALESCE(i.first_day, f.day), COALESCE(f.day, i.first_day))`;

export type Dimension = "identity_type" | "service_id" | "provider";

export const DAILY_TABLE: Record<Dimension, string> = {
  identity_type: "daily_org_stats",
  service_id: "daily_service_stats",
  provider: "daily_provider_stats",
};

export const METRIC_COLUMNS = "logins, failed_logins, dau, new_users, returning_users, wau, mau";

export interface DayStatsOptions {
  /** The CTE holding the days to compute (`target` by default). */
  days?: "target" | "changed";
  /**
   * With windows (default), WAU/MAU are computed over each day's 30-day window.
   * Without, only same-day activity is read and wau/mau are NULL: enough for
   * logins, failures, DAU, new and returning, at a thirtieth of the cost.
   */
  windows?: boolean;
}

/**
 * Rows (org_id, day, <dimension>, logins, failed_logins, dau, new_users,
 * returning_users, wau, mau) for the given days: one per dimension value with
 * any login in the window (or on the day, without windows) or any failure on the day.
 */
export function dayStatsSelect(dimension: Dimension, { days = "target", windows = true }: DayStatsOptions = {}): SQL {
  const dim = sql.raw(dimension);
  const window = windows
    ? { from: sql`t.day - 29`, wau: sql`SUM(p.in_week)`, mau: sql`SUM(p.in_month)`, keep: sql`SUM(p.in_month) > 0` }
    : { from: sql`t.day`, wau: sql`NULL`, mau: sql`NULL`, keep: sql`SUM(p.logins_today) > 0` };
  return sql`
  SELECT p.org_id, p.day, p.${dim},
    SUM(p.logins_today) AS logins,
    SUM(p.failures_today) AS failed_logins,
    SUM(p.logins_today > 0) AS dau,
    SUM(p.logins_today > 0 AND ${effectiveFirstDay} = p.day) AS new_users,
    SUM(p.logins_today > 0 AND ${effectiveFirstDay} < p.day) AS returning_users,
    ${window.wau} AS wau,
    ${window.mau} AS mau
  FROM (
    SELECT t.org_id, t.day, a.identity_id, a.${dim},
      SUM(CASE WHEN a.day = t.day THEN a.logins ELSE 0 END) AS logins_today,
      SUM(CASE WHEN a.day = t.day THEN a.failures ELSE 0 END) AS failures_today,
      MAX(a.logins > 0 AND a.day >= t.day - 6) AS in_week,
      MAX(a.logins > 0) AS in_month
    FROM ${sql.raw(days)} t
    JOIN activity a ON a.org_id = t.org_id AND a.day BETWEEN ${window.from} AND t.day
    GROUP BY t.org_id, t.day, a.identity_id, a.${dim}
  ) p
  JOIN identities i ON i.id = p.identity_id
  LEFT JOIN tail_first f ON f.identity_id = p.identity_id
  GROUP BY p.org_id, p.day, p.${dim}
  HAVING ${window.keep} OR SUM(p.failures_today) > 0`;
}

/** The 30 offsets of a MAU window: an event on day d changes WAU/MAU of days d..d+29. */
export const windowOffsetsCte = sql`offsets(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM offsets WHERE k < 29)`;

export const WATERMARK = sql`COALESCE((SELECT value FROM rollup_state WHERE key = 'events_watermark'), 0)`;
