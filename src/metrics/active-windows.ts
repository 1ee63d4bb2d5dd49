import { sql, type SQL } from "drizzle-orm";
import { activeWindowDeltas, dailyActivity, identities, loginEvents } from "../db/schema";
import { DAY_MS_SQL } from "./day-stats";

/**
 * Range lengths (days) whose distinct active identities are kept precomputed: the
 * dashboard presets (7, 30, 90, 365), the default range (31: today − 30 .. today), 14 and
 * 28 (the lifecycle and organization windows). Other lengths are counted from activity.
 */
export const ACTIVE_WINDOW_LENGTHS = [7, 14, 28, 30, 31, 90, 365] as const;

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
    ys AS (
      SELECT org_id, identity_id, identity_type, day, 1 AS is_new FROM x
      UNION
      SELECT org_id, identity_id, identity_type, prev, 0 FROM (
        SELECT x.org_id, x.identity_id, x.identity_type,
          (SELECT MAX(s.day) FROM ${a} s WHERE s.identity_id = x.identity_id AND s.day < x.day AND s.logins > 0) AS prev
        FROM x
      ) WHERE prev IS NOT NULL
    ),
    nexts AS (
      SELECT ys.*,
        (SELECT MIN(s.day) FROM ${a} s WHERE s.identity_id = ys.identity_id AND s.day > ys.day AND s.logins > 0) AS old_next,
        (SELECT MIN(x2.day) FROM x x2 WHERE x2.identity_id = ys.identity_id AND x2.day > ys.day) AS x_next
      FROM ys
    ),
    spans AS (
      SELECT org_id, identity_type, day, is_new, old_next,
        MIN(COALESCE(old_next, x_next), COALESCE(x_next, old_next)) AS new_next
      FROM nexts
    ),
    ${lengthsCte},
    entries(org_id, identity_type, l, at, d) AS (
      SELECT org_id, identity_type, l, day, 1 FROM spans, lengths WHERE is_new
      UNION ALL SELECT org_id, identity_type, l, MIN(day + l, COALESCE(new_next, day + l)), -1 FROM spans, lengths WHERE is_new
      UNION ALL SELECT org_id, identity_type, l, MIN(day + l, COALESCE(old_next, day + l)), 1 FROM spans, lengths WHERE NOT is_new
      UNION ALL SELECT org_id, identity_type, l, MIN(day + l, COALESCE(new_next, day + l)), -1 FROM spans, lengths WHERE NOT is_new
    )
    SELECT org_id, identity_type, l, at, SUM(d) FROM (
      SELECT * FROM entries UNION ALL SELECT ${sql.raw(String(PLATFORM_ORG_ID))}, identity_type, l, at, d FROM entries
    )
    WHERE ${guard}
    GROUP BY org_id, identity_type, l, at HAVING SUM(d) <> 0
    ON CONFLICT (org_id, identity_type, window_days, day) DO UPDATE SET delta = delta + excluded.delta`;
}

/** Tail identities with a login in the window of `length` days ending `end` and no sealed login in it. Needs liveCtes. */
function tailOnlyActive(length: number, end: SQL, identityType?: "human" | "machine"): SQL {
  const start = sql`${end} - ${sql.raw(String(length - 1))}`;
  return sql`(SELECT COUNT(DISTINCT t.identity_id) FROM tail t
    WHERE t.outcome = 'success' AND t.day BETWEEN ${start} AND ${end} ${identityType ? sql`AND t.identity_type = ${identityType}` : sql``}
      AND NOT EXISTS (SELECT 1 FROM ${dailyActivity} s WHERE s.identity_id = t.identity_id AND s.day BETWEEN ${start} AND ${end} AND s.logins > 0))`;
}

const isKept = (length: number) => (ACTIVE_WINDOW_LENGTHS as readonly number[]).includes(length);

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
 * For many window ends at once: a CTE `name(day, v)` of the sealed counts of one kept
 * length as running sums (one pass over the deltas up to `lastEnd`), and `activeAt` reading
 * the count at any end day (an SQL expression) with the tail added. Needs liveCtes.
 */
export function activeWindowSeries(name: string, length: (typeof ACTIVE_WINDOW_LENGTHS)[number], lastEnd: number, identityType?: "human" | "machine") {
  const cte = sql`${sql.identifier(name)}(day, v) AS (
    SELECT day, SUM(SUM(delta)) OVER (ORDER BY day) FROM ${activeWindowDeltas}
    WHERE org_id = (SELECT id FROM org) AND window_days = ${length} AND day <= ${lastEnd}
      ${identityType ? sql`AND identity_type = ${identityType}` : sql``}
    GROUP BY day)`;
  const activeAt = (end: SQL) =>
    sql`(COALESCE((SELECT v FROM ${sql.identifier(name)} WHERE day <= ${end} ORDER BY day DESC LIMIT 1), 0) + ${tailOnlyActive(length, end, identityType)})`;
  return { cte, activeAt };
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
