import { sql, type SQL } from "drizzle-orm";
import { all, first, namedBatch } from "../db/client";
import type { Db } from "../env";
import { dailyPlatformStats } from "../db/schema";
import { platformWindowedActiveCount } from "../metrics/active-windows";
import { sealedOrgWindowsCte } from "../metrics/org-windows";
import { DAY_MS_SQL, effectiveFirstDay, IDENTITY_ALIAS, TAIL_FIRST_ALIAS, WATERMARK } from "../metrics/day-stats";
import type { DayRange } from "./range";

/** Platform-wide reads (all organizations), each one D1 batch. */

/**
 * Unsealed events of every organization, and first logins among them. MATERIALIZED: the tail
 * is read once by its rowid range; inlined into a read that filters on outcome, the planner
 * would walk the (org_id, outcome, created_at) index over every stored login instead.
 */
const platformTailCtes = sql`tail AS MATERIALIZED (
    SELECT e.org_id, e.created_at, e.created_at / ${DAY_MS_SQL} AS day, e.identity_id, e.outcome
    FROM login_events e WHERE e.seq > ${WATERMARK}
  ),
  tail_first(identity_id, day) AS (SELECT identity_id, MIN(day) FROM tail WHERE outcome = 'success' GROUP BY identity_id)`;

/**
 * Logins per day across organizations. Logins are additive, so days without a dirty pair
 * come from daily_platform_stats (one row a day); on days with dirty pairs the clean
 * organizations' rows come from daily_org_stats and the dirty ones from daily_activity
 * (folded, not yet recomputed); the tail is counted raw.
 */
function platformLoginsSql({ start, end }: DayRange): SQL {
  return sql`SELECT p.day, p.logins FROM ${dailyPlatformStats} p
      WHERE p.day BETWEEN ${start} AND ${end} AND p.day NOT IN (SELECT day FROM dirty_days)
    UNION ALL
    SELECT s.day, s.logins FROM (SELECT DISTINCT day FROM dirty_days WHERE day BETWEEN ${start} AND ${end}) dd
      CROSS JOIN daily_org_stats s ON s.day = dd.day
      WHERE NOT EXISTS (SELECT 1 FROM dirty_days d WHERE d.org_id = s.org_id AND d.day = s.day)
    UNION ALL
    -- CROSS JOIN fixes the order: walk the (few) dirty days, not every org's activity in the range
    SELECT a.day, a.logins FROM dirty_days d CROSS JOIN daily_activity a ON a.org_id = d.org_id AND a.day = d.day
      WHERE d.day BETWEEN ${start} AND ${end}
    UNION ALL
    SELECT day, 1 FROM tail WHERE outcome = 'success' AND day BETWEEN ${start} AND ${end}`;
}

export async function platformLoginActivity(db: Db, range: DayRange) {
  return all<{ day: number; count: number }>(db, sql`WITH ${platformTailCtes}
    SELECT day, SUM(logins) AS count FROM (${platformLoginsSql(range)})
    GROUP BY day HAVING SUM(logins) > 0 ORDER BY day`);
}

export interface PlatformOverview {
  organizations: number;
  identities: number;
  active_identities: number;
  logins: number;
}

export async function platformOverview(db: Db, range: DayRange) {
  return first<PlatformOverview>(db, sql`WITH ${platformTailCtes}
    SELECT
      (SELECT COUNT(*) FROM organizations) AS organizations,
      (SELECT COUNT(*) FROM identities WHERE first_day IS NOT NULL)
        + (SELECT COUNT(*) FROM tail_first f JOIN identities i ON i.id = f.identity_id WHERE i.first_day IS NULL) AS identities,
      ${
        platformWindowedActiveCount(range.start, range.end) ??
        sql`(SELECT COUNT(*) FROM (
          SELECT identity_id FROM daily_activity WHERE day BETWEEN ${range.start} AND ${range.end} AND logins > 0
          UNION SELECT identity_id FROM tail WHERE outcome = 'success' AND day BETWEEN ${range.start} AND ${range.end}
        ))`
      } AS active_identities,
      (SELECT COALESCE(SUM(logins), 0) FROM (${platformLoginsSql(range)})) AS logins`);
}

/** (org_id, <columns of n>) per organization: tail identities with a login in `range` and no sealed login in it. Needs the platform tail CTE. */
function tailOnlyActivePerOrg({ start, end }: DayRange, marks: SQL): SQL {
  return sql`SELECT org_id, ${marks} FROM (
      SELECT t.org_id, COUNT(DISTINCT t.identity_id) AS n FROM tail t
      WHERE t.outcome = 'success' AND t.day BETWEEN ${start} AND ${end}
        AND NOT EXISTS (SELECT 1 FROM daily_activity s WHERE s.identity_id = t.identity_id AND s.day BETWEEN ${start} AND ${end} AND s.logins > 0)
      GROUP BY t.org_id)`;
}

export const ORG_SORTS = ["active_users", "active_users_change_pct", "new_users", "logins", "last_activity_at", "slug"] as const;
/** Sort keys whose SQL column differs from the public field name. */
const SORT_COLUMN: Partial<Record<OrgSort, string>> = { active_users_change_pct: "active_users_change" };
export type OrgSort = (typeof ORG_SORTS)[number];

export interface OrgEngagementRow {
  slug: string;
  active_users: number;
  previous_active_users: number;
  active_users_change: number | null;
  new_users: number;
  returning_users: number;
  logins: number;
  last_activity_at: number | null;
}

/**
 * One row per organization for the window `current` (and `previous`, the same
 * length just before it): distinct active identities, new identities (first
 * login ever inside the window), logins, and last login ever. `current` must have a kept
 * window length (src/metrics/active-windows.ts) and `previous` end the day before it starts:
 * the sealed figures come from maintained tables (src/metrics/org-windows.ts), the
 * unsealed tail is added per organization.
 */
export async function organizationsEngagement(
  db: Db,
  current: DayRange,
  previous: DayRange,
  page: { sort: OrgSort; order: "asc" | "desc"; limit: number; offset: number },
  /** More statements for the same batch (one round trip), e.g. organization health; their results come back in `extra`. */
  extraStatements: Record<string, SQL> = {},
) {
  const direction = sql.raw(page.order === "asc" ? "ASC" : "DESC");
  const { page: rows, total, ...extra } = await namedBatch(db, {
    ...extraStatements,
    page: sql`WITH ${platformTailCtes},
      ${sealedOrgWindowsCte("sealed", current)},
      -- the tail: identities active in a window without a sealed login in it, logins, and
      -- identities whose first login the tail moves into or out of the current window
      tail_parts(org_id, active, previous_active, logins) AS (
        ${tailOnlyActivePerOrg(current, sql`n, 0, 0`)}
        UNION ALL ${tailOnlyActivePerOrg(previous, sql`0, n, 0`)}
        UNION ALL SELECT org_id, 0, 0, COUNT(*) FROM tail WHERE outcome = 'success' AND day BETWEEN ${current.start} AND ${current.end} GROUP BY org_id
      ),
      tail_counts AS (SELECT org_id, SUM(active) AS active, SUM(previous_active) AS previous_active, SUM(logins) AS logins FROM tail_parts GROUP BY org_id),
      tail_new(org_id, n) AS (
        SELECT ${IDENTITY_ALIAS}.org_id,
          SUM((${effectiveFirstDay(IDENTITY_ALIAS, TAIL_FIRST_ALIAS)} BETWEEN ${current.start} AND ${current.end})
            - COALESCE(${IDENTITY_ALIAS}.first_day BETWEEN ${current.start} AND ${current.end}, 0))
        FROM tail_first ${TAIL_FIRST_ALIAS} JOIN identities ${IDENTITY_ALIAS} ON ${IDENTITY_ALIAS}.id = ${TAIL_FIRST_ALIAS}.identity_id
        GROUP BY ${IDENTITY_ALIAS}.org_id
      ),
      per_org AS (
        SELECT s.org_id,
          s.active + COALESCE(tc.active, 0) AS active_users,
          s.previous_active + COALESCE(tc.previous_active, 0) AS previous_active_users,
          s.new_users + COALESCE(tn.n, 0) AS new_users,
          s.logins + COALESCE(tc.logins, 0) AS logins
        FROM sealed s LEFT JOIN tail_counts tc ON tc.org_id = s.org_id LEFT JOIN tail_new tn ON tn.org_id = s.org_id
      ),
      tail_last AS (SELECT org_id, MAX(created_at) AS at FROM tail WHERE outcome = 'success' GROUP BY org_id),
      rows AS (
        SELECT o.slug,
          COALESCE(p.active_users, 0) AS active_users,
          COALESCE(p.previous_active_users, 0) AS previous_active_users,
          -- unrounded, for sorting; the route rounds it for display
          CASE WHEN COALESCE(p.previous_active_users, 0) = 0 THEN NULL
            ELSE (p.active_users - p.previous_active_users) * 1.0 / p.previous_active_users END AS active_users_change,
          COALESCE(p.new_users, 0) AS new_users,
          COALESCE(p.active_users - p.new_users, 0) AS returning_users,
          COALESCE(p.logins, 0) AS logins,
          MAX(COALESCE((SELECT MAX(last_login_at) FROM identities WHERE org_id = o.id), tl.at), COALESCE(tl.at, 0)) AS last_activity_at
        FROM organizations o
        LEFT JOIN per_org p ON p.org_id = o.id
        LEFT JOIN tail_last tl ON tl.org_id = o.id
      )
      SELECT * FROM rows ORDER BY ${sql.raw(SORT_COLUMN[page.sort] ?? page.sort)} ${direction}, slug ASC
      LIMIT ${page.limit} OFFSET ${page.offset}`,
    total: sql`SELECT COUNT(*) AS n FROM organizations`,
  });
  return { rows: rows.results as OrgEngagementRow[], total: (total.results as { n: number }[])[0].n, extra: extra as Record<string, D1Result> };
}
