import { sql, type SQL } from "drizzle-orm";
import { batch } from "../db/client";
import { dailyOrgStats } from "../db/schema";
import type { Db } from "../env";
import { DAILY_TABLE, dayStatsSelect, ident, METRIC_COLUMNS, type Dimension } from "../metrics/day-stats";
import { activeWindowSeries, tailWindowSeries, windowedActiveCount } from "../metrics/active-windows";
import { cohortCellsCtes } from "../metrics/cohorts";
import { activeIdentitiesSql, identityTypeFilter as typeFilter, liveCtes } from "./live";
import type { DayRange } from "./range";

/**
 * Named read queries for one organization. Each runs as ONE D1 batch: the
 * organization lookup plus its data statements, so a dashboard read is one round
 * trip. Each returns null when the organization does not exist.
 */

export type IdentityType = "human" | "machine";

async function readOrg<T extends unknown[][]>(db: Db, orgSlug: string, queries: SQL[]): Promise<T | null> {
  const [org, ...rest] = await batch(db, [sql`SELECT id FROM organizations WHERE slug = ${orgSlug}`, ...queries]);
  return org.results.length > 0 ? (rest.map((r) => r.results) as T) : null;
}

/**
 * Daily rows (day, <dimension>, metrics…) for [start, end]: the daily table for
 * sealed days, recomputed live for the stale ones. Stale days are few (usually
 * today), so each gets its own window ("per-day"); same-day reads ("none") need
 * no window and only the `changed` days. Needs liveCtes.
 */
function dailyRows(dimension: Dimension, { start, end }: DayRange, windows: "per-day" | "none" = "per-day"): SQL {
  const { table, column: dim } = DAILY_TABLE[dimension];
  const days = windows === "none" ? "changed" : "target";
  return sql`SELECT day, ${dim}, ${METRIC_COLUMNS} FROM ${table}
      WHERE org_id = (SELECT id FROM org) AND day BETWEEN ${start} AND ${end} AND day NOT IN (SELECT day FROM ${ident(days)})
    UNION ALL
    SELECT day, ${dim}, ${METRIC_COLUMNS} FROM (${dayStatsSelect(dimension, { days, windows })})`;
}

/**
 * Logins per (day, <dimension>) for [start, end]. Logins are additive, so only
 * the `changed` days need live sums (no windows); the rest come from the daily
 * table. Needs liveCtes.
 */
function dailyLogins(dimension: Dimension, { start, end }: DayRange): SQL {
  const { table, column: dim } = DAILY_TABLE[dimension];
  return sql`SELECT day, ${dim}, logins FROM ${table}
      WHERE org_id = (SELECT id FROM org) AND day BETWEEN ${start} AND ${end} AND day NOT IN (SELECT day FROM changed)
    UNION ALL
    SELECT day, ${dim}, SUM(logins) FROM activity WHERE day IN (SELECT day FROM changed) GROUP BY day, ${dim}`;
}

// ---- the seed reference's four endpoints ------------------------------------------------

export async function loginTrends(db: Db, orgSlug: string, range: DayRange) {
  const result = await readOrg<[{ day: number; count: number }[]]>(db, orgSlug, [
    sql`WITH ${liveCtes(orgSlug, range.start, range.end)}
      SELECT day, SUM(logins) AS count FROM (${dailyLogins("identity_type", range)})
      GROUP BY day HAVING SUM(logins) > 0 ORDER BY day`,
  ]);
  return result?.[0] ?? null;
}

export async function loginsByService(db: Db, orgSlug: string, range: DayRange) {
  const result = await readOrg<[{ service_id: string; service_name: string; count: number }[]]>(db, orgSlug, [
    sql`WITH ${liveCtes(orgSlug, range.start, range.end)}
      SELECT s.external_id AS service_id, COALESCE(s.name, s.external_id) AS service_name, SUM(r.logins) AS count
      FROM (${dailyLogins("service_id", range)}) r JOIN services s ON s.id = r.service_id
      GROUP BY r.service_id HAVING SUM(r.logins) > 0
      ORDER BY count DESC, s.external_id ASC`,
  ]);
  return result?.[0] ?? null;
}

export async function loginsByProvider(db: Db, orgSlug: string, range: DayRange) {
  const result = await readOrg<[{ provider: string; count: number }[]]>(db, orgSlug, [
    sql`WITH ${liveCtes(orgSlug, range.start, range.end)}
      SELECT provider, SUM(logins) AS count FROM (${dailyLogins("provider", range)})
      GROUP BY provider HAVING SUM(logins) > 0
      ORDER BY count DESC, provider ASC`,
  ]);
  return result?.[0] ?? null;
}

export interface RecentLoginRow {
  id: string;
  user_id: string;
  service_id: string;
  provider: string;
  created_at: number;
  seq: number;
}

/** Position after which the next page starts: newest first, ties by ingest order. */
export interface RecentLoginsCursor {
  createdAt: number;
  seq: number;
}

/** Raw events, newest first; fetches limit + 1 so the caller knows whether there is a next page. */
export async function recentLogins(db: Db, orgSlug: string, limit: number, after?: RecentLoginsCursor) {
  const page = after
    ? sql`AND (e.created_at < ${after.createdAt} OR (e.created_at = ${after.createdAt} AND e.seq < ${after.seq}))`
    : sql``;
  const result = await readOrg<[RecentLoginRow[]]>(db, orgSlug, [
    sql`SELECT e.event_id AS id, i.user_id, s.external_id AS service_id, e.provider, e.created_at, e.seq
      FROM login_events e
      JOIN identities i ON i.id = e.identity_id
      JOIN services s ON s.id = e.service_id
      WHERE e.org_id = (SELECT id FROM organizations WHERE slug = ${orgSlug}) AND e.outcome = 'success' ${page}
      ORDER BY e.created_at DESC, e.seq DESC
      LIMIT ${limit + 1}`,
  ]);
  return result?.[0] ?? null;
}

// ---- engagement ----------------------------------------------------------------------------

export interface EngagementFilter {
  identityType?: IdentityType;
  /** The customer's service id; activity restricted to that service. */
  serviceId?: string;
}

/**
 * DAU/WAU/MAU per day of [start, end] without recomputing windows: sealed days from
 * daily_org_stats; each stale day's DAU from its own activity (same-day stats), and its WAU
 * and MAU — distinct identities in the 7 and 30 days ending it — from the window deltas
 * (`w7`, `w30`: activeWindowSeries over the target days, which the fold keeps exact) plus
 * the tail's identities with no sealed login in the window (`t7`, `t30`: tailWindowSeries).
 * So the live work per read is the stale days' own activity and one pass over the tail's
 * identities, not 30 days of activity per stale day (nor a recompute of days the rollup has
 * not reached). Needs liveCtes, w7, w30, t7 and t30.
 */
function activeUsersWindowCtes(identityType?: IdentityType): SQL {
  const ends = sql`SELECT day FROM target`;
  return sql`${activeWindowSeries("w7", 7, ends, identityType)}, ${activeWindowSeries("w30", 30, ends, identityType)},
    ${tailWindowSeries("t7", 7, ends, identityType)}, ${tailWindowSeries("t30", 30, ends, identityType)}`;
}

function activeUsersByWindows({ start, end }: DayRange, identityType?: IdentityType): SQL {
  const types = typeFilter(identityType);
  return sql`SELECT day, SUM(dau) AS dau, SUM(wau) AS wau, SUM(mau) AS mau FROM (
      SELECT day, dau, wau, mau FROM ${dailyOrgStats}
        WHERE org_id = (SELECT id FROM org) AND day BETWEEN ${start} AND ${end} AND day NOT IN (SELECT day FROM target) ${types}
      UNION ALL
      SELECT day, dau, 0, 0 FROM (${dayStatsSelect("identity_type", { days: "target", windows: "none" })}) WHERE 1 ${types}
      UNION ALL
      SELECT sd.day, 0, w7.v + t7.v, w30.v + t30.v
      FROM target sd JOIN w7 ON w7.day = sd.day JOIN w30 ON w30.day = sd.day JOIN t7 ON t7.day = sd.day JOIN t30 ON t30.day = sd.day
    ) GROUP BY day`;
}

export async function activeUsers(db: Db, orgSlug: string, range: DayRange, filter: EngagementFilter) {
  // per service, WAU/MAU of stale days are recomputed (no window deltas per service)
  const live = liveCtes(orgSlug, range.start, range.end, { windows: filter.serviceId ? "per-day" : "none" });
  const serviceRef = filter.serviceId
    ? sql`(SELECT id FROM services WHERE org_id = (SELECT id FROM org) AND external_id = ${filter.serviceId})`
    : undefined;
  const rows = serviceRef
    ? sql`SELECT day, SUM(dau) AS dau, SUM(wau) AS wau, SUM(mau) AS mau
        FROM (${dailyRows("service_id", range)}) WHERE service_id = ${serviceRef} GROUP BY day`
    : activeUsersByWindows(range, filter.identityType);
  const result = await readOrg<[{ day: number; dau: number; wau: number; mau: number }[], { n: number }[]]>(db, orgSlug, [
    sql`WITH ${live}${serviceRef ? sql`` : sql`, ${activeUsersWindowCtes(filter.identityType)}`} ${rows}`,
    serviceRef
      ? sql`WITH ${live} SELECT COUNT(*) AS n FROM (${activeIdentitiesSql(range.start, range.end, filter.identityType, serviceRef)})`
      : sql`WITH ${live} SELECT ${windowedActiveCount(range.start, range.end, filter.identityType) ?? sql`(SELECT COUNT(*) FROM (${activeIdentitiesSql(range.start, range.end, filter.identityType)}))`} AS n`,
  ]);
  if (!result) return null;
  return { days: result[0], activeUsers: result[1][0]?.n ?? 0 };
}

export async function userGrowth(db: Db, orgSlug: string, range: DayRange, identityType?: IdentityType) {
  const live = liveCtes(orgSlug, range.start, range.end);
  const iType = identityType ? sql`AND i.identity_type = ${identityType}` : sql``;
  const result = await readOrg<[{ day: number; new_users: number; returning_users: number }[], { n: number }[]]>(
    db,
    orgSlug,
    [
      sql`WITH ${live} SELECT day, SUM(new_users) AS new_users, SUM(returning_users) AS returning_users
        FROM (${dailyRows("identity_type", range, "none")}) WHERE 1 ${typeFilter(identityType)} GROUP BY day`,
      // Known identities before the range: sealed first logins, plus identities whose
      // first login is in the tail (none before, or earlier than the sealed one).
      sql`WITH ${live} SELECT
        (SELECT COUNT(*) FROM identities i WHERE i.org_id = (SELECT id FROM org) AND i.first_day < ${range.start} ${iType})
        + (SELECT COUNT(*) FROM tail_first f JOIN identities i ON i.id = f.identity_id
           WHERE f.day < ${range.start} AND (i.first_day IS NULL OR i.first_day >= ${range.start}) ${iType}) AS n`,
    ],
  );
  if (!result) return null;
  return { days: result[0], knownBefore: result[1][0]?.n ?? 0 };
}

export interface RangeTotals {
  logins: number;
  failed_logins: number;
  new_users: number;
  active_users: number;
  machine_active: number;
}

/** Totals for `range` and `previous` (which must end the day before `range` starts). */
export async function summaryTotals(db: Db, orgSlug: string, range: DayRange, previous: DayRange, identityType?: IdentityType) {
  const live = liveCtes(orgSlug, previous.start, range.end);
  const distinct = (r: DayRange, t?: IdentityType) =>
    windowedActiveCount(r.start, r.end, t) ?? sql`(SELECT COUNT(*) FROM (${activeIdentitiesSql(r.start, r.end, t)}))`;
  const machine = (r: DayRange) => (identityType === "human" ? sql`0` : distinct(r, "machine"));
  const totals = (part: 0 | 1, r: DayRange) => sql`SELECT ${sql.raw(String(part))} AS part,
      COALESCE(SUM(logins), 0) AS logins, COALESCE(SUM(failed_logins), 0) AS failed_logins, COALESCE(SUM(new_users), 0) AS new_users,
      ${distinct(r, identityType)} AS active_users, ${machine(r)} AS machine_active
    FROM (${dailyRows("identity_type", { start: previous.start, end: range.end }, "none")})
    WHERE day BETWEEN ${r.start} AND ${r.end} ${typeFilter(identityType)}`;
  // both ranges in one statement: the live tail is taken once
  const result = await readOrg<[(RangeTotals & { part: 0 | 1 })[]]>(db, orgSlug, [sql`WITH ${live} ${totals(0, range)} UNION ALL ${totals(1, previous)}`]);
  if (!result) return null;
  const totalsOf = (p: 0 | 1): RangeTotals => {
    const { part: _part, ...row } = result[0].find((r) => r.part === p)!;
    return row;
  };
  return { current: totalsOf(0), previous: totalsOf(1) };
}

export interface LifecycleRow {
  week: number;
  new_users: number;
  returning_users: number;
  resurrecting_users: number;
  dormant_users: number;
}

/**
 * `firstWeek`/`lastWeek` are Mondays (day numbers). Per ISO week W, from the kept window
 * counts: active(W) = active in the 7 days ending Sunday W, active(W−1) likewise, and
 * returning(W) = active(W) + active(W−1) − active in the 14 days ending Sunday W (the union);
 * new(W) = identities whose first login falls in W (the daily tables' new users); then
 * resurrecting = active(W) − returning − new and dormant = active(W−1) − returning.
 */
export async function lifecycle(db: Db, orgSlug: string, firstWeek: number, lastWeek: number, identityType?: IdentityType) {
  const end = lastWeek + 6;
  const weekEnds = sql`SELECT w + 6 AS day FROM weeks UNION SELECT w - 1 FROM weeks`;
  const result = await readOrg<[LifecycleRow[]]>(db, orgSlug, [
    sql`WITH ${liveCtes(orgSlug, firstWeek, end)},
      weeks(w) AS (SELECT ${firstWeek} UNION ALL SELECT w + 7 FROM weeks WHERE w < ${lastWeek}),
      ${activeWindowSeries("a7", 7, weekEnds, identityType)},
      ${activeWindowSeries("a14", 14, sql`SELECT w + 6 AS day FROM weeks`, identityType)},
      ${tailWindowSeries("t7", 7, weekEnds, identityType)},
      ${tailWindowSeries("t14", 14, sql`SELECT w + 6 AS day FROM weeks`, identityType)},
      new_weeks AS (
        SELECT day - (day + 3) % 7 AS w, SUM(new_users) AS n
        FROM (${dailyRows("identity_type", { start: firstWeek, end }, "none")}) WHERE 1 ${typeFilter(identityType)}
        GROUP BY 1
      ),
      counts AS (
        SELECT weeks.w,
          cur.v + tcur.v AS cur,
          prev.v + tprev.v AS prev,
          either.v + teither.v AS either,
          COALESCE(nw.n, 0) AS new_users
        FROM weeks
        JOIN a7 cur ON cur.day = weeks.w + 6
        JOIN a7 prev ON prev.day = weeks.w - 1
        JOIN a14 either ON either.day = weeks.w + 6
        JOIN t7 tcur ON tcur.day = weeks.w + 6
        JOIN t7 tprev ON tprev.day = weeks.w - 1
        JOIN t14 teither ON teither.day = weeks.w + 6
        LEFT JOIN new_weeks nw ON nw.w = weeks.w
      )
      SELECT w AS week, new_users,
        cur + prev - either AS returning_users,
        cur - (cur + prev - either) - new_users AS resurrecting_users,
        prev - (cur + prev - either) AS dormant_users
      FROM counts`,
  ]);
  return result?.[0] ?? null;
}

/**
 * Cohort sizes and their activity per later week, from the maintained retention cells
 * (src/metrics/cohorts.ts): a cohort's size is its cell for its own week (a first login is a
 * login), its activity the cells of later weeks.
 */
export async function retention(db: Db, orgSlug: string, firstWeek: number, lastWeek: number, identityType?: IdentityType) {
  const result = await readOrg<[{ cohort_week: number; week: number; active: number }[]]>(db, orgSlug, [
    sql`WITH ${liveCtes(orgSlug, firstWeek, lastWeek + 6)}, ${cohortCellsCtes(firstWeek, lastWeek, identityType)}
      SELECT cohort_week, week, active FROM cells ORDER BY cohort_week, week`,
  ]);
  if (!result) return null;
  const cells = result[0];
  return {
    cohorts: cells.filter((c) => c.week === c.cohort_week).map((c) => ({ week: c.cohort_week, size: c.active })),
    activity: cells.filter((c) => c.week > c.cohort_week).map((c) => ({ week: c.cohort_week, period: (c.week - c.cohort_week) / 7, active: c.active })),
  };
}

