import { sql, type SQL } from "drizzle-orm";
import { activeWindowDeltas, dailyActivity, identities, loginEvents } from "../db/schema";
import { DAY_MS_SQL } from "./day-stats";

/**
 * Range lengths (days) whose distinct active identities are kept precomputed: the
 * dashboard presets (7, 30, 90, 365), the default range (31: today − 30 .. today), 14 and
 * 28 (the lifecycle and organization windows) and 56 (organization health: its window and the
 * one before, together). Other lengths are counted from activity.
 */
export const ACTIVE_WINDOW_LENGTHS = [7, 14, 28, 30, 31, 56, 90, 365] as const;

/**
 * The deltas are also kept for the whole platform under this organization key (no
 * organization has id 0): identities belong to one organization, so the platform's
 * distinct count is the sum of the organizations'.
 */
export const PLATFORM_ORG_ID = 0;

const lengthsCte = sql.raw(`lengths(l) AS (VALUES ${ACTIVE_WINDOW_LENGTHS.map((l) => `(${l})`).join(", ")})`);

/**
 * The fold's statement for window deltas of the events with seq in (from, to]: run in the
 * fold's batch BEFORE the chunk is added to daily_activity (which is then the identity's
 * login days before the chunk, S), guarded like every fold statement.
 *
 * X = the chunk's new (identity, day) logins (not in S). A day y's span ends before
 * min(y + L, next login). Each new day adds +1 at itself and −1 at min(x + L, next in S ∪ X);
 * each old predecessor p (the last day of S before a new day) moves its −1 from
 * min(p + L, next in S) to min(p + L, next in S ∪ X).
 */
export function foldWindowDeltas(from: number, to: number, guard: SQL): SQL {
  const a = dailyActivity;
  return sql`INSERT INTO ${activeWindowDeltas} (org_id, identity_type, window_days, day, delta)
    WITH
    x AS (
      SELECT DISTINCT e.org_id, e.identity_id, i.identity_type, e.created_at / ${DAY_MS_SQL} AS day
      FROM ${loginEvents} e JOIN ${identities} i ON i.id = e.identity_id
      WHERE e.seq > ${from} AND e.seq <= ${to} AND e.outcome = 'success'
        AND NOT EXISTS (SELECT 1 FROM ${a} s WHERE s.identity_id = e.identity_id AND s.day = e.created_at / ${DAY_MS_SQL} AND s.logins > 0)
    ),
    xp AS (
      SELECT x.*,
        (SELECT MAX(s.day) FROM ${a} s WHERE s.identity_id = x.identity_id AND s.day < x.day AND s.logins > 0) AS prev,
        LEAD(x.day) OVER (PARTITION BY x.identity_id ORDER BY x.day) AS x_next
      FROM x
    ),
    -- the new days, and each old predecessor with the first new day after it
    ys AS (
      SELECT org_id, identity_id, identity_type, day, 1 AS is_new, x_next FROM xp
      UNION ALL
      SELECT org_id, identity_id, identity_type, prev, 0, MIN(day) FROM xp WHERE prev IS NOT NULL GROUP BY org_id, identity_id, identity_type, prev
    ),
    -- MATERIALIZED: computed once; inlined, the planner would repeat the lookups in every branch of entries
    nexts AS MATERIALIZED (
      SELECT ys.*,
        (SELECT MIN(s.day) FROM ${a} s WHERE s.identity_id = ys.identity_id AND s.day > ys.day AND s.logins > 0) AS old_next
      FROM ys
    ),
    -- identical spans counted once (most of a chunk's new days have the same day and no next login):
    -- the entries below are generated per distinct span, times the lengths, not per identity
    spans AS MATERIALIZED (
      SELECT org_id, identity_type, day, is_new, old_next, new_next, COUNT(*) AS n FROM (
        SELECT org_id, identity_type, day, is_new, old_next,
          MIN(COALESCE(old_next, x_next), COALESCE(x_next, old_next)) AS new_next
        FROM nexts)
      GROUP BY org_id, identity_type, day, is_new, old_next, new_next
    ),
    ${lengthsCte},
    entries(org_id, identity_type, l, at, d) AS (
      SELECT org_id, identity_type, l, day, n FROM spans, lengths WHERE is_new
      UNION ALL SELECT org_id, identity_type, l, MIN(day + l, COALESCE(new_next, day + l)), -n FROM spans, lengths WHERE is_new
      UNION ALL SELECT org_id, identity_type, l, MIN(day + l, COALESCE(old_next, day + l)), n FROM spans, lengths WHERE NOT is_new
      UNION ALL SELECT org_id, identity_type, l, MIN(day + l, COALESCE(new_next, day + l)), -n FROM spans, lengths WHERE NOT is_new
    ),
    -- per organization first; the platform's rows are the sum of the organizations' (fewer rows to sort than the entries)
    org_deltas AS MATERIALIZED (SELECT org_id, identity_type, l, at, SUM(d) AS d FROM entries GROUP BY org_id, identity_type, l, at)
    SELECT * FROM (
      SELECT org_id, identity_type, l, at, d FROM org_deltas WHERE d <> 0
      UNION ALL
      SELECT ${sql.raw(String(PLATFORM_ORG_ID))}, identity_type, l, at, SUM(d) FROM org_deltas GROUP BY identity_type, l, at HAVING SUM(d) <> 0
    )
    WHERE ${guard}
    ON CONFLICT (org_id, identity_type, window_days, day) DO UPDATE SET delta = delta + excluded.delta`;
}

/**
 * Identity `id` has no sealed successful login in days [start, end] (SQL expressions). Its sealed
 * last login (identities.last_login_at, which the fold keeps) settles it when it is before `start`
 * or within the range, with one lookup by id; only an identity whose last login is after `end` (a
 * range that ends in the past) needs a look into daily_activity.
 */
export function noSealedLoginIn(id: SQL, start: SQL, end: SQL): SQL {
  return sql`NOT EXISTS (SELECT 1 FROM ${identities} i WHERE i.id = ${id} AND i.last_login_at >= (${start}) * ${DAY_MS_SQL}
      AND (i.last_login_at < (${end} + 1) * ${DAY_MS_SQL}
        OR EXISTS (SELECT 1 FROM ${dailyActivity} s WHERE s.identity_id = ${id} AND s.day BETWEEN ${start} AND ${end} AND s.logins > 0)))`;
}

/** Tail identities with a login in the `length` days ending `end` (an SQL expression) and no sealed login in them. Needs a `tail` CTE. */
export function tailOnlyActive(length: number, end: SQL, identityType?: "human" | "machine"): SQL {
  const start = sql`${end} - ${sql.raw(String(length - 1))}`;
  return sql`(SELECT COUNT(DISTINCT t.identity_id) FROM tail t
    WHERE t.outcome = 'success' AND t.day BETWEEN ${start} AND ${end} ${identityType ? sql`AND t.identity_type = ${identityType}` : sql``}
      AND ${noSealedLoginIn(sql`t.identity_id`, start, end)})`;
}

/**
 * What the unsealed tail adds to the `length`-day distinct counts at many window ends, in one
 * pass: a CTE `name(day, v)` with a row for each day of `ends` (an SQL SELECT of days), v =
 * the tail's identities active in the window ending that day with no sealed login in it —
 * tailOnlyActive at every end, without a scan of the tail per end. For each identity with a
 * login in the tail, its coverage of window ends by all its login days (sealed ∪ tail) minus
 * its coverage by its sealed days alone, as spans like the fold's (+1 at a login day, −1 at
 * min(day + length, next login day)); days before the first end's window cannot cover an
 * end, so only [MIN(ends) − length + 1, MAX(ends)] is read. Nor can a day that far from every
 * tail day matter: the two coverages differ only at ends whose window holds a tail login, and
 * those windows lie in [first tail day − length + 1, last tail day + length − 1], so the read
 * is cut to that too (a tail of today's logins reads 2 × length − 1 days of each of its
 * identities, not the whole range's). Needs liveCtes (`tail`).
 */
export function tailWindowSeries(name: string, length: number, ends: SQL, identityType?: "human" | "machine"): SQL {
  const type = identityType ? sql`AND identity_type = ${identityType}` : sql``;
  const L = sql.raw(String(length));
  const before = sql.raw(String(length - 1));
  const tailDay = (agg: "MIN" | "MAX") => sql`(SELECT ${sql.raw(agg)}(day) FROM tail WHERE outcome = 'success' ${type})`;
  const lo = sql`MAX((SELECT MIN(day) FROM (${ends})) - ${before}, ${tailDay("MIN")} - ${before})`;
  const hi = sql`MIN((SELECT MAX(day) FROM (${ends})), ${tailDay("MAX")} + ${before})`;
  const days = sql.identifier(`${name}_days`);
  const spans = sql.identifier(`${name}_spans`);
  const spansOf = (sealedOnly: boolean) => sql`SELECT ${sql.raw(sealedOnly ? "-1" : "1")} AS sign, day,
      MIN(day + ${L}, COALESCE(LEAD(day) OVER (PARTITION BY identity_id ORDER BY day), day + ${L})) AS span_end
    FROM (SELECT identity_id, day FROM ${days} ${sealedOnly ? sql`WHERE sealed` : sql``} GROUP BY identity_id, day)`;
  return sql`${days}(identity_id, day, sealed) AS (
      SELECT identity_id, day, 0 FROM tail WHERE outcome = 'success' AND day BETWEEN ${lo} AND ${hi} ${type}
      UNION ALL
      -- CROSS JOIN fixes the order: each tail identity's days by (identity_id, day), not every organization's days of the range
      SELECT s.identity_id, s.day, 1 FROM (SELECT DISTINCT identity_id FROM tail WHERE outcome = 'success' ${type}) ti
        CROSS JOIN ${dailyActivity} s ON s.identity_id = ti.identity_id AND s.day BETWEEN ${lo} AND ${hi} AND s.logins > 0
    ),
    ${spans}(sign, day, span_end) AS (${spansOf(false)} UNION ALL ${spansOf(true)}),
    ${sql.identifier(name)}(day, v) AS (
      SELECT day, v FROM (
        SELECT day, is_end, SUM(d) OVER (ORDER BY day, is_end ROWS UNBOUNDED PRECEDING) AS v FROM (
          SELECT day, sign AS d, 0 AS is_end FROM ${spans}
          UNION ALL SELECT span_end, -sign, 0 FROM ${spans}
          UNION ALL SELECT day, 0, 1 FROM (${ends})
        )
      ) WHERE is_end = 1
    )`;
}

/** Whether window deltas are kept for ranges of `length` days. */
export const isKept = (length: number) => (ACTIVE_WINDOW_LENGTHS as readonly number[]).includes(length);

/**
 * Distinct identities (of `identityType`, or both) of the read's organization with a login
 * in [start, end], when end − start + 1 is a kept length: the sealed count from the deltas,
 * plus tail identities with a login in the range and none sealed in it. Needs liveCtes
 * (`org`, `tail`). Undefined for other lengths.
 */
export function windowedActiveCount(start: number, end: number, identityType?: "human" | "machine"): SQL | undefined {
  const length = end - start + 1;
  if (!isKept(length)) return undefined;
  const type = identityType ? sql`AND identity_type = ${identityType}` : sql``;
  return sql`(
    (SELECT COALESCE(SUM(delta), 0) FROM ${activeWindowDeltas}
      WHERE org_id = (SELECT id FROM org) AND window_days = ${length} AND day <= ${end} ${type})
    + ${tailOnlyActive(length, sql`${end}`, identityType)})`;
}

/**
 * Sealed counts of one kept length at many window ends in one pass: a CTE `name(day, v)`
 * with a row for each day of `ends` (an SQL SELECT of days), v = the running sum of the
 * deltas up to that day. Add `tailOnlyActive` for the tail. Needs liveCtes (`org`).
 */
export function activeWindowSeries(name: string, length: (typeof ACTIVE_WINDOW_LENGTHS)[number], ends: SQL, identityType?: "human" | "machine"): SQL {
  return sql`${sql.identifier(name)}(day, v) AS (
    SELECT day, v FROM (
      SELECT day, is_end, SUM(d) OVER (ORDER BY day, is_end ROWS UNBOUNDED PRECEDING) AS v FROM (
        SELECT day, delta AS d, 0 AS is_end FROM ${activeWindowDeltas}
        WHERE org_id = (SELECT id FROM org) AND window_days = ${length} AND day <= (SELECT MAX(day) FROM (${ends}))
          ${identityType ? sql`AND identity_type = ${identityType}` : sql``}
        UNION ALL SELECT day, 0, 1 FROM (${ends})
      )
    ) WHERE is_end = 1)`;
}

/**
 * The platform's distinct identities with a login in [start, end] for a kept length: the
 * platform deltas plus tail identities with a login in the range and none sealed in it.
 * Needs the platform tail CTE (`tail` with identity_id, day, outcome). Undefined otherwise.
 */
export function platformWindowedActiveCount(start: number, end: number): SQL | undefined {
  const length = end - start + 1;
  if (!isKept(length)) return undefined;
  return sql`(
    (SELECT COALESCE(SUM(delta), 0) FROM ${activeWindowDeltas}
      WHERE org_id = ${sql.raw(String(PLATFORM_ORG_ID))} AND window_days = ${length} AND day <= ${end})
    + ${tailOnlyActive(length, sql`${end}`)})`;
}
