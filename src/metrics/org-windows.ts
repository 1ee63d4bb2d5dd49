import { sql, type SQL } from "drizzle-orm";
import { activeWindowDeltas, dailyOrgLogins, identities, loginEvents } from "../db/schema";
import type { DayRange } from "../analytics/range";
import { ACTIVE_WINDOW_LENGTHS } from "./active-windows";
import { DAY_MS_SQL } from "./day-stats";

/** The fold's statement adding the chunk's (seq in (from, to]) successful logins per organization and day. */
export function foldOrgLogins(from: number, to: number, guard: SQL): SQL {
  return sql`INSERT INTO ${dailyOrgLogins} (org_id, day, logins)
    SELECT org_id, created_at / ${DAY_MS_SQL}, COUNT(*) FROM ${loginEvents}
    WHERE seq > ${from} AND seq <= ${to} AND outcome = 'success' AND ${guard}
    GROUP BY org_id, created_at / ${DAY_MS_SQL}
    ON CONFLICT (org_id, day) DO UPDATE SET logins = logins + excluded.logins`;
}

/** Sum of an organization's window deltas of `length` days (both identity types) over days matching `days`. */
function deltaSum(orgId: SQL, length: number, days: SQL): SQL {
  return sql`(SELECT COALESCE(SUM(delta), 0) FROM ${activeWindowDeltas}
    WHERE org_id = ${orgId} AND identity_type IN ('human', 'machine') AND window_days = ${length} AND ${days})`;
}

/**
 * Per organization, the sealed (folded) figures of a window `current` whose length is a kept
 * window length, and of the window of the same length before it — each organization in a
 * few index ranges, whatever its history:
 *
 *   active(e)   = SUM(delta, day <= e) = −SUM(delta, day > e): every span's +1 has its −1 at
 *                 most `length` days later, so an organization's deltas sum to zero. The
 *                 shorter side is read: deltas lie between the organization's first login day
 *                 and its last login day + length.
 *   previous    = active(e) − SUM(delta, e − length < day <= e)
 *   new_users   = identities whose (sealed) first login is in the window
 *   logins      = daily_org_logins over the window
 *
 * A CTE `name(org_id, active, previous_active, new_users, logins)` over `organizations`.
 * Live reads add the unsealed tail's identities.
 */
export function sealedOrgWindowsCte(name: string, current: DayRange): SQL {
  const length = current.end - current.start + 1;
  if (!(ACTIVE_WINDOW_LENGTHS as readonly number[]).includes(length)) throw new Error(`no window deltas are kept for ${length} days`);
  const e = current.end;
  const org = sql`b.org_id`;
  return sql`${sql.identifier(name)}(org_id, active, previous_active, new_users, logins) AS (
    SELECT org_id, active, active - ${deltaSum(org, length, sql`day > ${e - length} AND day <= ${e}`)}, new_users, logins FROM (
      SELECT b.org_id,
        CASE WHEN b.last_day IS NULL THEN 0
          WHEN b.last_day + ${length} - ${e} <= ${e} - b.first_day THEN -${deltaSum(org, length, sql`day > ${e}`)}
          ELSE ${deltaSum(org, length, sql`day <= ${e}`)} END AS active,
        (SELECT COUNT(*) FROM ${identities} WHERE org_id = b.org_id AND first_day BETWEEN ${current.start} AND ${e}) AS new_users,
        (SELECT COALESCE(SUM(logins), 0) FROM ${dailyOrgLogins} WHERE org_id = b.org_id AND day BETWEEN ${current.start} AND ${e}) AS logins
      FROM (
        SELECT o.id AS org_id,
          (SELECT MIN(first_day) FROM ${identities} WHERE org_id = o.id) AS first_day,
          (SELECT MAX(last_login_at) FROM ${identities} WHERE org_id = o.id) / ${DAY_MS_SQL} AS last_day
        FROM organizations o
      ) b
    ) b
  )`;
}
