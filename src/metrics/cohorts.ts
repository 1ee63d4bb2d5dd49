import { sql, type SQL } from "drizzle-orm";
import { dailyActivity, identities, loginEvents, weeklyCohortActivity } from "../db/schema";
import { DAY_MS_SQL, effectiveFirstDay, IDENTITY_ALIAS, TAIL_FIRST_ALIAS } from "./day-stats";

/** The Monday (day number) of a day's ISO week, as SQL. Days are ≥ 0 (after 1970-01-01, a Thursday). */
export const isoWeekSql = (day: SQL): SQL => sql`(${day} - (${day} + 3) % 7)`;

/**
 * The fold's statement for retention cells of the events with seq in (from, to]: run in the
 * fold's batch BEFORE `identities` takes the chunk's first logins and BEFORE the chunk joins
 * daily_activity (both are then the state before the chunk), guarded like every fold statement.
 *
 * For each identity with a login in the chunk: old cohort = the week of its known first login
 * (NULL if none), new cohort = the week of min(known, the chunk's first). Each week the chunk
 * makes newly active (no sealed login that week) adds +1 at (new cohort, week); an identity
 * whose cohort moves (a late event before its first login, in an earlier week) moves each of
 * its sealed weeks from the old cohort to the new one. Cells that reach zero are deleted by
 * `deleteZeroCohortCells`, so the table does not depend on chunking.
 */
export function foldCohortWeeks(from: number, to: number, guard: SQL): SQL {
  const a = dailyActivity;
  const w = weeklyCohortActivity;
  return sql`INSERT INTO ${w} (org_id, identity_type, cohort_week, week, active)
    WITH
    chunk_days AS MATERIALIZED (
      SELECT DISTINCT identity_id, created_at / ${DAY_MS_SQL} AS day FROM ${loginEvents}
      WHERE seq > ${from} AND seq <= ${to} AND outcome = 'success'
    ),
    touched AS MATERIALIZED (
      SELECT i.id AS identity_id, i.org_id, i.identity_type,
        ${isoWeekSql(sql`i.first_day`)} AS old_cohort,
        ${isoWeekSql(sql`MIN(COALESCE(i.first_day, c.first), c.first)`)} AS new_cohort
      FROM (SELECT identity_id, MIN(day) AS first FROM chunk_days GROUP BY identity_id) c
      JOIN ${identities} i ON i.id = c.identity_id
    ),
    new_weeks AS (
      SELECT DISTINCT c.identity_id, ${isoWeekSql(sql`c.day`)} AS week FROM chunk_days c
      WHERE NOT EXISTS (SELECT 1 FROM ${a} s WHERE s.identity_id = c.identity_id AND s.logins > 0
        AND s.day BETWEEN ${isoWeekSql(sql`c.day`)} AND ${isoWeekSql(sql`c.day`)} + 6)
    ),
    moved AS (
      SELECT DISTINCT t.org_id, t.identity_type, t.identity_id, t.old_cohort, t.new_cohort, ${isoWeekSql(sql`s.day`)} AS week
      FROM touched t JOIN ${a} s ON s.identity_id = t.identity_id
      WHERE t.old_cohort <> t.new_cohort AND s.logins > 0
    ),
    entries(org_id, identity_type, cohort_week, week, d) AS (
      SELECT t.org_id, t.identity_type, t.new_cohort, n.week, 1 FROM new_weeks n JOIN touched t ON t.identity_id = n.identity_id
      UNION ALL SELECT org_id, identity_type, old_cohort, week, -1 FROM moved
      UNION ALL SELECT org_id, identity_type, new_cohort, week, 1 FROM moved
    )
    SELECT org_id, identity_type, cohort_week, week, SUM(d) FROM entries
    WHERE ${guard}
    GROUP BY org_id, identity_type, cohort_week, week HAVING SUM(d) <> 0
    ON CONFLICT (org_id, identity_type, cohort_week, week) DO UPDATE SET active = active + excluded.active`;
}

/** Cells emptied by a cohort move: deleted so the table holds only non-zero cells. */
export const deleteZeroCohortCells = sql`DELETE FROM ${weeklyCohortActivity} WHERE active = 0`;

/**
 * A CTE `cells(cohort_week, week, active)`: for the read's organization, cohorts (ISO weeks,
 * Mondays) in [firstWeek, lastWeek] and their active counts in weeks up to lastWeek, exact
 * with the unsealed tail. Sealed cells come from weekly_cohort_activity; each identity with a
 * login in the tail has its sealed contribution (its sealed weeks under its sealed cohort)
 * taken out and its whole contribution (sealed ∪ tail weeks under its effective cohort) put
 * in — work bounded by the tail's identities, and for one whose cohort does not move (the
 * usual case) by the weeks of its tail logins. Needs liveCtes (`org`, `tail`, `tail_first`).
 */
export function cohortCellsCtes(firstWeek: number, lastWeek: number, identityType?: "human" | "machine"): SQL {
  const type = (column: SQL) => (identityType ? sql`AND ${column} = ${identityType}` : sql``);
  const lastDay = lastWeek + 6;
  return sql`touched AS MATERIALIZED (
      SELECT ${IDENTITY_ALIAS}.id AS identity_id,
        ${isoWeekSql(sql`${IDENTITY_ALIAS}.first_day`)} AS old_cohort,
        ${isoWeekSql(effectiveFirstDay(IDENTITY_ALIAS, TAIL_FIRST_ALIAS))} AS new_cohort,
        ${isoWeekSql(sql`${TAIL_FIRST_ALIAS}.day`)} AS tail_from, ${isoWeekSql(sql`last.day`)} + 6 AS tail_to
      FROM tail_first ${TAIL_FIRST_ALIAS} JOIN ${identities} ${IDENTITY_ALIAS} ON ${IDENTITY_ALIAS}.id = ${TAIL_FIRST_ALIAS}.identity_id
      JOIN (SELECT identity_id, MAX(day) AS day FROM tail WHERE outcome = 'success' GROUP BY identity_id) last
        ON last.identity_id = ${TAIL_FIRST_ALIAS}.identity_id
      WHERE 1 ${type(sql`${IDENTITY_ALIAS}.identity_type`)}
    ),
    touched_weeks(identity_id, week, sealed) AS (
      SELECT identity_id, ${isoWeekSql(sql`day`)}, MAX(sealed) FROM (
        -- CROSS JOIN fixes the order: the touched identities' days, not every organization's days of the range.
        -- An identity whose cohort stays has its sealed weeks taken out and put back under the same cohort,
        -- which cancels except in the weeks of its tail logins: only those weeks of it are read.
        SELECT s.identity_id, s.day, 1 AS sealed FROM touched t CROSS JOIN ${dailyActivity} s
          ON s.identity_id = t.identity_id AND s.logins > 0
          AND s.day BETWEEN (CASE WHEN t.old_cohort = t.new_cohort THEN MAX(${firstWeek}, t.tail_from) ELSE ${firstWeek} END)
            AND (CASE WHEN t.old_cohort = t.new_cohort THEN MIN(${lastDay}, t.tail_to) ELSE ${lastDay} END)
        UNION ALL
        SELECT identity_id, day, 0 FROM tail
          WHERE outcome = 'success' AND day BETWEEN ${firstWeek} AND ${lastDay} AND identity_id IN (SELECT identity_id FROM touched)
      ) GROUP BY identity_id, ${isoWeekSql(sql`day`)}
    ),
    cells(cohort_week, week, active) AS (
      SELECT cohort_week, week, SUM(n) FROM (
        SELECT cohort_week, week, active AS n FROM ${weeklyCohortActivity}
          WHERE org_id = (SELECT id FROM org) ${type(sql`identity_type`)} AND cohort_week BETWEEN ${firstWeek} AND ${lastWeek} AND week <= ${lastWeek}
        UNION ALL
        SELECT t.old_cohort, w.week, -1 FROM touched_weeks w JOIN touched t ON t.identity_id = w.identity_id
          WHERE w.sealed AND t.old_cohort BETWEEN ${firstWeek} AND ${lastWeek}
        UNION ALL
        SELECT t.new_cohort, w.week, 1 FROM touched_weeks w JOIN touched t ON t.identity_id = w.identity_id
          WHERE t.new_cohort BETWEEN ${firstWeek} AND ${lastWeek}
      ) GROUP BY cohort_week, week HAVING SUM(n) <> 0
    )`;
}
