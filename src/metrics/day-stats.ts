import { sql, type SQL } from "drizzle-orm";
import { dailyOrgStats, dailyProviderStats, dailyServiceStats, rollupState, WATERMARK_KEY } from "../db/schema";
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

/**
 * An identity's first login day, counting logins not yet folded into `identities`:
 * `identity` names a row of `identities` and `tailFirst` a row of `tail_first` (LEFT
 * JOINed: NULL when the identity has no login in the tail).
 */
export const effectiveFirstDay = (identity: SQL, tailFirst: SQL) =>
  sql`MIN(COALESCE(${identity}.first_day, ${tailFirst}.day), COALESCE(${tailFirst}.day, ${identity}.first_day))`;

/** A quoted SQL name (table, column, alias or CTE) as a composable fragment. */
export const ident = (name: string): SQL => sql`${sql.identifier(name)}`;

/** The aliases most reads use: `identities i LEFT JOIN tail_first f`. */
export const IDENTITY_ALIAS = ident("i");
export const TAIL_FIRST_ALIAS = ident("f");

export type Dimension = "identity_type" | "service_id" | "provider";

/**
 * The daily table of each dimension, its dimension column (by drizzle's objects, so a rename
 * in schema.ts follows), and whether the rollup keeps its WAU/MAU: active-users reads them per
 * organization and type and per service; nothing reads them per provider, so that table stores
 * 0 and the rollup skips its 30-day windows.
 */
export const DAILY_TABLE = {
  identity_type: { table: dailyOrgStats, column: ident(dailyOrgStats.identityType.name), windows: true },
  service_id: { table: dailyServiceStats, column: ident(dailyServiceStats.serviceId.name), windows: true },
  provider: { table: dailyProviderStats, column: ident(dailyProviderStats.provider.name), windows: false },
} as const satisfies Record<Dimension, unknown>;

/** The metric columns every daily table shares, in `dayStatsSelect`'s order. */
const m = dailyOrgStats;
export const METRIC_COLUMNS = sql.join(
  [m.logins, m.failedLogins, m.dau, m.newUsers, m.returningUsers, m.wau, m.mau].map((c) => ident(c.name)),
  sql`, `,
);

export interface DayStatsOptions {
  /** The CTE holding the days to compute (`target` by default). */
  days?: "target" | "changed";
  /**
   * How WAU/MAU are computed — the same definition, two costs:
   *   "running" (default): one pass over the days' windows with running sums;
   *                        cost ∝ (days + 29). For runs of consecutive days: the rollup.
   *   "per-day":           each day joined with its own 30-day window; cost ∝ 30 × days.
   *                        For a few stale days: live reads.
   *   "none":              same-day metrics only; wau/mau are NULL.
   */
  windows?: "running" | "per-day" | "none";
}

/**
 * Rows (org_id, day, <dimension>, logins, failed_logins, dau, new_users,
 * returning_users, wau, mau) for the given days: one per dimension value with
 * any login in the window (or on the day, without windows) or any failure on the day.
 */
export function dayStatsSelect(dimension: Dimension, { days = "target", windows = "running" }: DayStatsOptions = {}): SQL {
  const dim = DAILY_TABLE[dimension].column;
  const daySet = ident(days);
  const firstDay = effectiveFirstDay(IDENTITY_ALIAS, TAIL_FIRST_ALIAS);
  const sameDay = sql`
    SELECT p.org_id, p.day, p.${dim},
      SUM(p.logins) AS logins,
      SUM(p.failures) AS failed_logins,
      SUM(p.logins > 0) AS dau,
      SUM(p.logins > 0 AND ${firstDay} = p.day) AS new_users,
      SUM(p.logins > 0 AND ${firstDay} < p.day) AS returning_users,
      0 AS wau, 0 AS mau
    FROM (
      SELECT t.org_id, t.day, a.identity_id, a.${dim}, SUM(a.logins) AS logins, SUM(a.failures) AS failures
      FROM ${daySet} t JOIN activity a ON a.org_id = t.org_id AND a.day = t.day
      GROUP BY t.org_id, t.day, a.identity_id, a.${dim}
    ) p
    JOIN identities ${IDENTITY_ALIAS} ON ${IDENTITY_ALIAS}.id = p.identity_id
    LEFT JOIN tail_first ${TAIL_FIRST_ALIAS} ON ${TAIL_FIRST_ALIAS}.identity_id = p.identity_id
    GROUP BY p.org_id, p.day, p.${dim}`;
  if (windows === "none") {
    return sql`SELECT org_id, day, ${dim}, logins, failed_logins, dau, new_users, returning_users, NULL AS wau, NULL AS mau
      FROM (${sameDay}) WHERE logins > 0 OR failed_logins > 0`;
  }
  const windowed = windows === "per-day" ? perDayWindows(dim, daySet) : runningWindows(dim, daySet);
  return sql`SELECT org_id, day, ${dim}, SUM(logins) AS logins, SUM(failed_logins) AS failed_logins, SUM(dau) AS dau,
      SUM(new_users) AS new_users, SUM(returning_users) AS returning_users, SUM(wau) AS wau, SUM(mau) AS mau
    FROM (SELECT * FROM (${sameDay}) UNION ALL SELECT * FROM (${windowed}))
    GROUP BY org_id, day, ${dim}
    HAVING SUM(mau) > 0 OR SUM(failed_logins) > 0`;
}

/** (org_id, day, dim, 0, 0, 0, 0, 0, wau, mau): each day joined with its own 30-day window. */
function perDayWindows(dim: SQL, daySet: SQL): SQL {
  return sql`
    SELECT org_id, day, ${dim}, 0, 0, 0, 0, 0, SUM(in_week), COUNT(*)
    FROM (
      SELECT t.org_id, t.day, a.identity_id, a.${dim}, MAX(a.day >= t.day - 6) AS in_week
      FROM ${daySet} t JOIN activity a ON a.org_id = t.org_id AND a.day BETWEEN t.day - 29 AND t.day
      WHERE a.logins > 0
      GROUP BY t.org_id, t.day, a.identity_id, a.${dim}
    )
    GROUP BY org_id, day, ${dim}`;
}

/**
 * (org_id, day, dim, 0, 0, 0, 0, 0, wau, mau) in one pass: each login day x of an
 * identity, up to its next login day, covers the days [x, min(x + 29, next − 1)]
 * of MAU (and [x, min(x + 6, next − 1)] of WAU). Those spans are disjoint per
 * identity, so MAU(t) is the running sum of +1 at each span's start and −1 after
 * its end, read off at the target days (given zero rows so each has a value).
 */
function runningWindows(dim: SQL, daySet: SQL): SQL {
  // MATERIALIZED: read by four branches and the DISTINCT below; inlined, each recomputed the spans (a 30-day window per day)
  const spans = sql`spans AS MATERIALIZED (
      SELECT org_id, ${dim}, day,
        MIN(day + 6, COALESCE(next_day, day + 7) - 1) AS week_end,
        MIN(day + 29, COALESCE(next_day, day + 30) - 1) AS month_end
      FROM (
        SELECT org_id, identity_id, ${dim}, day,
          LEAD(day) OVER (PARTITION BY org_id, identity_id, ${dim} ORDER BY day) AS next_day
        FROM (
          SELECT DISTINCT a.org_id, a.identity_id, a.${dim}, a.day
          FROM (SELECT org_id, MIN(day) AS lo, MAX(day) AS hi FROM ${daySet} GROUP BY org_id) b
          JOIN activity a ON a.org_id = b.org_id AND a.day BETWEEN b.lo - 29 AND b.hi
          WHERE a.logins > 0
        )
      )
    )`;
  return sql`
    WITH ${spans}
    SELECT r.org_id, r.day, r.${dim}, 0, 0, 0, 0, 0, r.wau, r.mau
    FROM (
      SELECT org_id, day, ${dim},
        SUM(SUM(dw)) OVER (PARTITION BY org_id, ${dim} ORDER BY day) AS wau,
        SUM(SUM(dm)) OVER (PARTITION BY org_id, ${dim} ORDER BY day) AS mau
      FROM (
        SELECT org_id, ${dim}, day, 1 AS dw, 1 AS dm FROM spans
        UNION ALL SELECT org_id, ${dim}, week_end + 1, -1, 0 FROM spans
        UNION ALL SELECT org_id, ${dim}, month_end + 1, 0, -1 FROM spans
        UNION ALL SELECT t.org_id, v.${dim}, t.day, 0, 0 FROM ${daySet} t
          JOIN (SELECT DISTINCT org_id, ${dim} FROM spans) v ON v.org_id = t.org_id
      ) GROUP BY org_id, ${dim}, day
    ) r
    JOIN ${daySet} t ON t.org_id = r.org_id AND t.day = r.day`;
}

/** The 30 offsets of a MAU window: an event on day d changes WAU/MAU of days d..d+29. */
export const windowOffsetsCte = sql`offsets(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM offsets WHERE k < 29)`;

/** The highest login_events.seq folded by the rollup (0 before the first run). */
export const WATERMARK = sql`COALESCE((SELECT ${rollupState.value} FROM ${rollupState} WHERE ${rollupState.key} = ${WATERMARK_KEY}), 0)`;
