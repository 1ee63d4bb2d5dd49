import { sql, type SQL } from "drizzle-orm";
import { all, first, namedBatch } from "../db/client";
import type { Db } from "../env";
import { dailyPlatformStats, IDENTITIES_WITH_LOGIN_KEY, rollupState } from "../db/schema";
import { HEALTH, type HealthCountsRow, healthCountsCtes } from "../governance/health";
import { platformWindowedActiveCount } from "../metrics/active-windows";
import { orgFiguresCtes, orgsTailCtes } from "../metrics/org-windows";
import type { DayRange } from "./range";

/** Platform-wide reads (all organizations), each one D1 batch. */

/** Unsealed events of every organization, and first logins among them (`tail`, `tail_first`). */
const platformTailCtes = orgsTailCtes();

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
      -- identities with a sealed first login (a counter the fold keeps), and those the tail brings
      COALESCE((SELECT value FROM ${rollupState} WHERE key = ${IDENTITIES_WITH_LOGIN_KEY}), 0)
        + (SELECT COUNT(*) FROM tail_first f CROSS JOIN identities i ON i.id = f.identity_id WHERE i.first_day IS NULL) AS identities,
      ${
        platformWindowedActiveCount(range.start, range.end) ??
        sql`(SELECT COUNT(*) FROM (
          -- each organization's days of the range, by daily_activity's primary key (org_id, day, …)
          SELECT a.identity_id FROM organizations o CROSS JOIN daily_activity a
            ON a.org_id = o.id AND a.day BETWEEN ${range.start} AND ${range.end} WHERE a.logins > 0
          UNION SELECT identity_id FROM tail WHERE outcome = 'success' AND day BETWEEN ${range.start} AND ${range.end}
        ))`
      } AS active_identities,
      (SELECT COALESCE(SUM(logins), 0) FROM (${platformLoginsSql(range)})) AS logins`);
}

export const ORG_SORTS = ["active_users", "active_users_change_pct", "new_users", "logins", "last_activity_at", "slug"] as const;
/** Sort keys whose SQL column differs from the public field name. */
const SORT_COLUMN: Partial<Record<OrgSort, string>> = { active_users_change_pct: "active_users_change" };
export type OrgSort = (typeof ORG_SORTS)[number];

/** A row of the organizations table, with its organization health counts (src/governance/health.ts). */
export interface OrgEngagementRow extends HealthCountsRow {
  active_users: number;
  previous_active_users: number;
  active_users_change: number | null;
  new_users: number;
  returning_users: number;
  last_activity_at: number | null;
}

/**
 * One row per organization for the window `current` (the ORG_WINDOW_DAYS days ending a
 * day, the kept window length organization health also uses) and the window of the same
 * length before it: distinct active identities, new identities (first login ever inside the
 * window), logins, and last login ever — from maintained tables plus the unsealed tail
 * (src/metrics/org-windows.ts) — sorted and cut to the page; then the organization health
 * counts of the page's organizations only, in the same statement.
 */
export async function organizationsEngagement(
  db: Db,
  current: DayRange,
  page: { sort: OrgSort; order: "asc" | "desc"; limit: number; offset: number },
) {
  if (current.end - current.start + 1 !== HEALTH.windowDays) throw new Error(`the organizations view's window is ${HEALTH.windowDays} days`);
  const direction = sql.raw(page.order === "asc" ? "ASC" : "DESC");
  const orderBy = sql`ORDER BY ${sql.raw(SORT_COLUMN[page.sort] ?? page.sort)} ${direction}, slug ASC`;
  const { page: rows, total } = await namedBatch(db, {
    page: sql`WITH ${platformTailCtes},
      ${orgFiguresCtes(current, sql`SELECT id AS org_id FROM organizations`)},
      tail_last AS (SELECT org_id, MAX(created_at) AS at FROM tail WHERE outcome = 'success' GROUP BY org_id),
      rows AS (
        SELECT o.id AS org_id, o.slug,
          COALESCE(f.active, 0) AS active_users,
          COALESCE(f.previous_active, 0) AS previous_active_users,
          -- unrounded, for sorting; the route rounds it for display
          CASE WHEN COALESCE(f.previous_active, 0) = 0 THEN NULL
            ELSE (f.active - f.previous_active) * 1.0 / f.previous_active END AS active_users_change,
          COALESCE(f.new_users, 0) AS new_users,
          COALESCE(f.active - f.new_users, 0) AS returning_users,
          COALESCE(f.logins, 0) AS logins,
          MAX(COALESCE((SELECT MAX(last_login_at) FROM identities WHERE org_id = o.id), tl.at), COALESCE(tl.at, 0)) AS last_activity_at
        FROM organizations o
        LEFT JOIN org_figures f ON f.org_id = o.id
        LEFT JOIN tail_last tl ON tl.org_id = o.id
      ),
      page AS MATERIALIZED (SELECT * FROM rows ${orderBy} LIMIT ${page.limit} OFFSET ${page.offset}),
      ${healthCountsCtes(current.end, sql`SELECT org_id, active_users, previous_active_users, new_users, logins FROM page`)}
      SELECT p.*, h.active, h.previous_active, h.new, h.resurrecting, h.newly_dormant, h.top_identities, h.top_logins, h.known
      FROM page p JOIN health_counts h ON h.org_id = p.org_id
      ${orderBy}`,
    total: sql`SELECT COUNT(*) AS n FROM organizations`,
  });
  return { rows: rows.results as OrgEngagementRow[], total: (total.results as { n: number }[])[0].n };
}
