import { sql, type SQL } from "drizzle-orm";
import { activeWindowDeltas, dailyOrgLogins, identities, loginEvents, organizations } from "../db/schema";
import type { DayRange } from "../analytics/range";
import { isKept, noSealedLoginIn } from "./active-windows";
import { DAY_MS_SQL, effectiveFirstDay, IDENTITY_ALIAS, TAIL_FIRST_ALIAS, WATERMARK } from "./day-stats";

/** The fold's statement adding the chunk's (seq in (from, to]) successful logins per organization and day. */
export function foldOrgLogins(from: number, to: number, guard: SQL): SQL {
  return sql`INSERT INTO ${dailyOrgLogins} (org_id, day, logins)
    SELECT org_id, created_at / ${DAY_MS_SQL}, COUNT(*) FROM ${loginEvents}
    WHERE seq > ${from} AND seq <= ${to} AND outcome = 'success' AND ${guard}
    GROUP BY org_id, created_at / ${DAY_MS_SQL}
    ON CONFLICT (org_id, day) DO UPDATE SET logins = logins + excluded.logins`;
}

/**
 * The unsealed events of every organization (or of one), and first logins among them: CTEs
 * `tail(org_id, created_at, day, identity_id, outcome)` and `tail_first(identity_id, day)`.
 * MATERIALIZED: the tail is read once by its rowid range; inlined into a read that filters on
 * outcome, the planner would walk the (org_id, outcome, created_at) index over every stored
 * login instead (and `+org_id` keeps it off the (org_id, …) indexes for one organization).
 */
export function orgsTailCtes(orgSlug?: string): SQL {
  const oneOrg = orgSlug === undefined ? sql`` : sql`AND +e.org_id = (SELECT id FROM ${organizations} WHERE slug = ${orgSlug})`;
  return sql`tail AS MATERIALIZED (
      SELECT e.org_id, e.created_at, e.created_at / ${DAY_MS_SQL} AS day, e.identity_id, e.outcome
      FROM ${loginEvents} e WHERE e.seq > ${WATERMARK} ${oneOrg}
    ),
    tail_first(identity_id, day) AS (SELECT identity_id, MIN(day) FROM tail WHERE outcome = 'success' GROUP BY identity_id)`;
}

/** Sum of an organization's window deltas of `length` days (both identity types) over days matching `days`. */
function deltaSum(orgId: SQL, length: number, days: SQL): SQL {
  return sql`(SELECT COALESCE(SUM(delta), 0) FROM ${activeWindowDeltas}
    WHERE org_id = ${orgId} AND identity_type IN ('human', 'machine') AND window_days = ${length} AND ${days})`;
}

/**
 * The sealed distinct identities of the organization `b.org_id` with a login in the `length`
 * days ending `e`, for a row `b` of `orgBounds`: SUM(delta, day <= e) = −SUM(delta, day > e),
 * since every span's +1 has its −1 at most `length` days later and an organization's deltas
 * sum to zero. The shorter side is read: deltas lie between the organization's first login
 * day and its last login day + length.
 */
function sealedActive(length: number, e: number): SQL {
  if (!isKept(length)) throw new Error(`no window deltas are kept for ${length} days`);
  const org = sql`b.org_id`;
  return sql`CASE WHEN b.last_day IS NULL THEN 0
    WHEN b.last_day + ${length} - ${e} <= ${e} - b.first_day THEN -${deltaSum(org, length, sql`day > ${e}`)}
    ELSE ${deltaSum(org, length, sql`day <= ${e}`)} END`;
}

/** (org_id, first_day, last_day) of the organizations in `orgs` (a SELECT with an `org_id` column): their sealed first and last login days. */
function orgBounds(orgs: SQL): SQL {
  return sql`SELECT o.org_id,
      (SELECT MIN(first_day) FROM ${identities} WHERE org_id = o.org_id) AS first_day,
      (SELECT MAX(last_login_at) FROM ${identities} WHERE org_id = o.org_id) / ${DAY_MS_SQL} AS last_day
    FROM (${orgs}) o`;
}

/** (org_id, <columns of n>) per organization: tail identities with a login in `range` and no sealed login in it. Needs `tail`. */
function tailOnlyActivePerOrg({ start, end }: DayRange, marks: SQL): SQL {
  return sql`SELECT org_id, ${marks} FROM (
      SELECT t.org_id, COUNT(DISTINCT t.identity_id) AS n FROM tail t
      WHERE t.outcome = 'success' AND t.day BETWEEN ${start} AND ${end}
        AND ${noSealedLoginIn(sql`t.identity_id`, sql`${start}`, sql`${end}`)}
      GROUP BY t.org_id)`;
}

/**
 * Exact live figures of every organization in `orgs` (a SELECT with an `org_id` column) for the window
 * `current`, whose length must be a kept window length, and the window of the same length
 * just before it: a CTE `org_figures(org_id, active, previous_active, new_users, logins)`.
 * Each organization is read in a few index ranges, whatever its history:
 *
 *   active      sealed: the window deltas (sealedActive)
 *   previous    active − SUM(delta, e − length < day <= e)
 *   new_users   identities whose first login is in the window (identities (org_id, first_day))
 *   logins      daily_org_logins over the window
 *
 * and the unsealed tail adds, per organization, its identities active in a window with no
 * sealed login in it, its logins, and the identities whose first login it moves into or out
 * of the window. Needs `orgsTailCtes`.
 */
export function orgFiguresCtes(current: DayRange, orgs: SQL): SQL {
  const length = current.end - current.start + 1;
  const e = current.end;
  const previous = { start: current.start - length, end: current.start - 1 };
  return sql`org_sealed(org_id, active, previous_active, new_users, logins) AS (
      SELECT org_id, active, active - ${deltaSum(sql`b.org_id`, length, sql`day > ${e - length} AND day <= ${e}`)}, new_users, logins FROM (
        SELECT b.org_id, b.first_day, b.last_day, ${sealedActive(length, e)} AS active,
          (SELECT COUNT(*) FROM ${identities} WHERE org_id = b.org_id AND first_day BETWEEN ${current.start} AND ${e}) AS new_users,
          (SELECT COALESCE(SUM(logins), 0) FROM ${dailyOrgLogins} WHERE org_id = b.org_id AND day BETWEEN ${current.start} AND ${e}) AS logins
        FROM (${orgBounds(orgs)}) b
      ) b
    ),
    org_tail_parts(org_id, active, previous_active, logins) AS (
      ${tailOnlyActivePerOrg(current, sql`n, 0, 0`)}
      UNION ALL ${tailOnlyActivePerOrg(previous, sql`0, n, 0`)}
      UNION ALL SELECT org_id, 0, 0, COUNT(*) FROM tail WHERE outcome = 'success' AND day BETWEEN ${current.start} AND ${e} GROUP BY org_id
    ),
    org_tail_counts AS (
      SELECT org_id, SUM(active) AS active, SUM(previous_active) AS previous_active, SUM(logins) AS logins FROM org_tail_parts GROUP BY org_id
    ),
    org_tail_new(org_id, n) AS (
      SELECT ${IDENTITY_ALIAS}.org_id,
        SUM((${effectiveFirstDay(IDENTITY_ALIAS, TAIL_FIRST_ALIAS)} BETWEEN ${current.start} AND ${e})
          - COALESCE(${IDENTITY_ALIAS}.first_day BETWEEN ${current.start} AND ${e}, 0))
      FROM tail_first ${TAIL_FIRST_ALIAS} JOIN ${identities} ${IDENTITY_ALIAS} ON ${IDENTITY_ALIAS}.id = ${TAIL_FIRST_ALIAS}.identity_id
      GROUP BY ${IDENTITY_ALIAS}.org_id
    ),
    org_figures(org_id, active, previous_active, new_users, logins) AS (
      SELECT s.org_id,
        s.active + COALESCE(tc.active, 0),
        s.previous_active + COALESCE(tc.previous_active, 0),
        s.new_users + COALESCE(tn.n, 0),
        s.logins + COALESCE(tc.logins, 0)
      FROM org_sealed s LEFT JOIN org_tail_counts tc ON tc.org_id = s.org_id LEFT JOIN org_tail_new tn ON tn.org_id = s.org_id
    )`;
}

/**
 * Exact live distinct identities with a login in `range` (a kept length) per organization
 * of `orgs`: a CTE `name(org_id, active)` — the window deltas, plus the tail's identities
 * with no sealed login in the range. Needs `orgsTailCtes`.
 */
export function orgActiveCte(name: string, range: DayRange, orgs: SQL): SQL {
  return sql`${sql.identifier(name)}(org_id, active) AS (
      SELECT b.org_id, ${sealedActive(range.end - range.start + 1, range.end)} + COALESCE(t.n, 0)
      FROM (${orgBounds(orgs)}) b LEFT JOIN (${tailOnlyActivePerOrg(range, sql`n`)}) t ON t.org_id = b.org_id
    )`;
}
