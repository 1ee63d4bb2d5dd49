import { sql, type SQL } from "drizzle-orm";
import { DAY_MS_SQL, WATERMARK, windowOffsetsCte } from "../metrics/day-stats";

/** `AND identity_type = …` for rows that carry identity_type (daily tables, activity, tail). */
export const identityTypeFilter = (identityType?: "human" | "machine") =>
  identityType ? sql`AND identity_type = ${identityType}` : sql``;

/**
 * The CTEs every organization read starts with: sealed rollups ∪ live tail.
 *
 *   org(id)        the organization (empty if unknown; the route checks existence in the same batch)
 *   tail           this org's events not yet folded by the rollup (seq > watermark)
 *   tail_first     first login day per identity within the tail
 *   changed        days in [start, end] whose same-day metrics (logins, failures, DAU,
 *                  new, returning) the tail or a pending recompute changes: tail days,
 *                  dirty days (folded, not yet recomputed), and the known first day of an
 *                  identity with an earlier login in the tail (its "new" day moves).
 *   target         "stale" days in [start, end]: changed days and, because a login on
 *                  day t is in the WAU/MAU windows of t..t+29, those days too. Every
 *                  other day is read from the daily tables.
 *   activity       daily_activity ∪ the tail aggregated the same way, over the target
 *                  days — and the 29 days before them when `windows` is "per-day" (a read
 *                  that recomputes WAU/MAU of its stale days). SQLite materializes it (a
 *                  compound select it cannot flatten), so its range is what a read copies.
 */
export function liveCtes(orgSlug: string, start: number, end: number, { windows = "none" }: { windows?: "none" | "per-day" } = {}): SQL {
  return sql`org(id) AS (SELECT id FROM organizations WHERE slug = ${orgSlug}),
  tail AS MATERIALIZED (
    SELECT e.org_id, e.created_at / ${DAY_MS_SQL} AS day, e.identity_id, e.service_id, e.provider, e.outcome, i.identity_type
    FROM login_events e JOIN identities i ON i.id = e.identity_id
    -- unary + keeps the planner on the rowid range (the tail is small) instead of the org index (all of the org's events)
    WHERE e.seq > ${WATERMARK} AND +e.org_id = (SELECT id FROM org)
  ),
  tail_first(identity_id, day) AS (SELECT identity_id, MIN(day) FROM tail WHERE outcome = 'success' GROUP BY identity_id),
  ${windowOffsetsCte},
  changed_any(day) AS (
    SELECT day FROM dirty_days WHERE org_id = (SELECT id FROM org)
    UNION SELECT day FROM tail
    UNION SELECT i.first_day FROM tail_first f JOIN identities i ON i.id = f.identity_id WHERE f.day < i.first_day
  ),
  changed(org_id, day) AS (SELECT (SELECT id FROM org), day FROM changed_any WHERE day BETWEEN ${start} AND ${end}),
  target(org_id, day) AS (
    SELECT (SELECT id FROM org), day FROM (
      SELECT day FROM changed_any UNION SELECT t.day + offsets.k FROM (SELECT DISTINCT day FROM tail) t, offsets
    ) WHERE day BETWEEN ${start} AND ${end}
  ),
  activity AS (
    SELECT org_id, day, identity_id, service_id, provider, identity_type, logins, failures FROM daily_activity
    WHERE org_id = (SELECT id FROM org)
      AND day BETWEEN (SELECT MIN(day) FROM target) - ${sql.raw(windows === "per-day" ? "29" : "0")} AND (SELECT MAX(day) FROM target)
    UNION ALL
    SELECT org_id, day, identity_id, service_id, provider, identity_type,
      SUM(outcome = 'success'), SUM(outcome = 'failure')
    FROM tail GROUP BY day, identity_id, service_id, provider
  )`;
}

/** Identity ids with a login in [start, end] (sealed ∪ tail), optionally of one type. Needs liveCtes. */
export function activeIdentitiesSql(start: number, end: number, identityType?: "human" | "machine", serviceRef?: SQL): SQL {
  const typeFilter = identityTypeFilter(identityType);
  const serviceFilter = serviceRef ? sql`AND service_id = ${serviceRef}` : sql``;
  return sql`SELECT identity_id FROM daily_activity
      WHERE org_id = (SELECT id FROM org) AND day BETWEEN ${start} AND ${end} AND logins > 0 ${typeFilter} ${serviceFilter}
    UNION
    SELECT identity_id FROM tail
      WHERE outcome = 'success' AND day BETWEEN ${start} AND ${end} ${typeFilter} ${serviceFilter}`;
}
