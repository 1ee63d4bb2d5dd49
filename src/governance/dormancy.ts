import { sql, type SQL } from "drizzle-orm";
import { namedBatch } from "../db/client";
import { dailyActivity, dailyServiceStats, dirtyDays, identities, identityInventory, loginEvents, organizations, orgSettings, services } from "../db/schema";
import type { Db } from "../env";
import { formatTimestamp } from "../lib/dates";
import { DAY_MS_SQL, WATERMARK } from "../metrics/day-stats";
import { DEFAULT_THRESHOLDS, type IdentityType, type OrgSettings, parseSettings, settingsSql } from "./settings";

/**
 * Dormancy, exact at any moment: an identity's last login is the later of the one the
 * rollup sealed into `identities` and any in the unsealed tail. Only successful logins
 * count: a failed attempt on a dormant account is not activity.
 *
 *   dormant as of day T, threshold N   last login day < T − N   (days_dormant = T − last login day > N)
 *   never_seen                         in the inventory, no login ever (age_days = T − its created_at day)
 *   overdue (machines)                 ≥ 5 logins, ≥ 2 login days, silence T − last login day > max(3 × median gap, 1)
 *
 * Deprovisioned identities are in none of them. Rows sort by days_dormant descending
 * (never-seen rows by their age, overdue rows by their silence), then user_id and type.
 */

export const OVERDUE_MIN_LOGINS = 5;
export const OVERDUE_GAP_FACTOR = 3;
export const OVERDUE_MIN_SILENCE_DAYS = 1;

export type DormancyStatus = "dormant" | "never_seen" | "overdue";

export interface DormancyRow {
  status: DormancyStatus;
  user_id: string;
  identity_type: IdentityType;
  display_name: string | null;
  owner: string | null;
  last_login_at: number | null;
  days_dormant: number | null;
  age_days: number | null;
  last_service_id: string | null;
  last_provider: string | null;
  logins: number;
  median_gap_days: number | null;
  overdue_after_days: number | null;
  sort_key: number;
}

export interface DormantService {
  service_id: string;
  service_name: string;
  last_login_day: number;
}

/** Where a page starts: after the row with this sort key, user_id and type. */
export interface DormancyCursor {
  sortKey: number;
  userId: string;
  identityType: IdentityType;
}

export interface DormancyQuery {
  /** The as-of day (today). */
  asOf: number;
  /** Threshold for both types; default each type's first threshold. */
  days?: number;
  identityType?: IdentityType;
  /** dormant and never_seen rows when absent. */
  status?: DormancyStatus;
  cursor?: DormancyCursor;
  /** Only identities that crossed their threshold within this many days (days_dormant − N ≤ it): the newly dormant. */
  newlyWithin?: number;
  /** Rows to return (one more is fetched to tell whether a next page exists); undefined: all. */
  limit?: number;
}

export interface DormancySummary {
  /** Per type: [threshold days, dormant identities] for each of the organization's thresholds. */
  dormant: Record<IdentityType, { days: number; count: number }[]>;
  never_seen: Record<IdentityType, number>;
}

/**
 * The CTEs of every dormancy statement, for organization `orgSlug` as of day `asOf`:
 *
 *   org(id)          the organization
 *   n(human, machine, service)  the thresholds applied: `days`, else each type's first
 *                    threshold from the settings (default 30); services: the smaller
 *   gtail            the org's unsealed successful logins
 *   gtail_last       per identity: its latest unsealed login (by created_at, then seq) and how many
 *   state            per identity that can matter (sealed last login before asOf − the smaller
 *                    applied threshold, a login in the tail, or in the inventory), not deprovisioned:
 *                    last login (sealed ∪ tail), last service and provider, logins, inventory fields
 */
export function dormancyCtes(orgSlug: string, asOf: number, days: number | undefined, { machines = false } = {}): SQL {
  const first = (column: SQL) => sql`COALESCE(${days ?? null}, json_extract(${column}, '$[0]'), ${DEFAULT_THRESHOLDS[0]})`;
  return sql`org(id) AS (SELECT id FROM ${organizations} WHERE slug = ${orgSlug}),
  n(human, machine) AS (
    SELECT ${first(sql`s.human_thresholds`)}, ${first(sql`s.machine_thresholds`)}
    FROM org LEFT JOIN ${orgSettings} s ON s.org_id = org.id),
  gtail AS (
    SELECT e.identity_id, e.created_at, e.seq, e.service_id, e.provider FROM ${loginEvents} e
    -- unary + keeps the planner on the rowid range (the tail is small), as the analytics reads do
    WHERE e.seq > ${WATERMARK} AND +e.org_id = (SELECT id FROM org) AND e.outcome = 'success'),
  gtail_last AS (
    SELECT identity_id, created_at AS last_at, service_id, provider, n FROM (
      SELECT identity_id, created_at, service_id, provider, COUNT(*) OVER (PARTITION BY identity_id) AS n,
        ROW_NUMBER() OVER (PARTITION BY identity_id ORDER BY created_at DESC, seq DESC) AS rn
      FROM gtail)
    WHERE rn = 1),
  ${machines ? sql`${machinesCte(asOf)},` : sql``}
  candidates(id) AS (
    -- a dormant row's last login is before asOf − its type's applied threshold, so its sealed one is
    -- too (or it has none: then it is in the tail or the inventory)
    SELECT id FROM ${identities} WHERE org_id = (SELECT id FROM org) AND last_login_at < (${asOf} - (SELECT MIN(human, machine) FROM n)) * ${DAY_MS_SQL}
    UNION SELECT identity_id FROM gtail_last
    UNION SELECT identity_id FROM ${identityInventory} WHERE org_id = (SELECT id FROM org)
    ${machines ? sql`UNION SELECT id FROM machines` : sql``}),
  state AS MATERIALIZED (
    SELECT i.id, i.user_id, i.identity_type,
      CASE WHEN ${LAST_IS_TAILS} THEN t.last_at ELSE i.last_login_at END AS last_at,
      CASE WHEN ${LAST_IS_TAILS} THEN t.service_id ELSE i.last_service_id END AS last_service,
      CASE WHEN ${LAST_IS_TAILS} THEN t.provider ELSE i.last_provider END AS last_provider,
      i.login_count + COALESCE(t.n, 0) AS logins,
      v.display_name, v.owner, v.created_at AS registered_at, v.identity_id IS NOT NULL AS in_inventory
    FROM candidates c
    JOIN ${identities} i ON i.id = c.id
    LEFT JOIN gtail_last t ON t.identity_id = i.id
    LEFT JOIN ${identityInventory} v ON v.identity_id = i.id
    WHERE v.deprovisioned_at IS NULL)`;
}

/**
 * The tail's latest login (gtail_last `t`) is identity `i`'s last when it is not older: its seq
 * is higher than every sealed one.
 */
const LAST_IS_TAILS = sql`(t.last_at IS NOT NULL AND (i.last_login_at IS NULL OR t.last_at >= i.last_login_at))`;

/** Day number of a millisecond time column (times are never before 1970, so division truncates to the day). */
const dayOf = (ms: SQL) => sql`(${ms} / ${DAY_MS_SQL})`;

/** The threshold of a row's type (needs `n`). */
const typeThreshold = (type: SQL) => sql`(CASE ${type} WHEN 'human' THEN (SELECT human FROM n) ELSE (SELECT machine FROM n) END)`;

const ROW_COLUMNS = sql`status, user_id, identity_type, display_name, owner, last_login_at, days_dormant, age_days,
  (SELECT external_id FROM ${services} WHERE id = last_service) AS last_service_id, last_provider, logins,
  median_gap_days, overdue_after_days, sort_key`;

/** dormant and never_seen rows (needs dormancyCtes). */
function dormantRowsSql(asOf: number): SQL {
  return sql`SELECT 'dormant' AS status, user_id, identity_type, display_name, owner, last_at AS last_login_at,
      ${asOf} - ${dayOf(sql`last_at`)} AS days_dormant, NULL AS age_days, last_service, last_provider, logins,
      NULL AS median_gap_days, NULL AS overdue_after_days, ${asOf} - ${dayOf(sql`last_at`)} AS sort_key
    FROM state WHERE last_at IS NOT NULL AND ${dayOf(sql`last_at`)} < ${asOf} - ${typeThreshold(sql`identity_type`)}
    UNION ALL
    SELECT 'never_seen', user_id, identity_type, display_name, owner, NULL, NULL, MAX(0, ${asOf} - ${dayOf(sql`registered_at`)}),
      NULL, NULL, logins, NULL, NULL, MAX(0, ${asOf} - ${dayOf(sql`registered_at`)})
    FROM state WHERE last_at IS NULL AND in_inventory`;
}

/**
 * Overdue machine identities (needs dormancyCtes): each machine's distinct login days
 * (sealed activity through the (identity_id, day) index, plus the tail), the gaps between
 * consecutive ones, their median g (the mean of the two middle gaps when their number is
 * even), and the silence asOf − last login day, which must exceed max(3g, 1).
 */
function overdueRowsSql(asOf: number): SQL {
  const silence = sql`(${asOf} - ${dayOf(sql`s.last_at`)})`;
  const threshold = sql`MAX(${OVERDUE_GAP_FACTOR} * med.g, ${OVERDUE_MIN_SILENCE_DAYS})`;
  return sql`SELECT 'overdue' AS status, s.user_id, s.identity_type, s.display_name, s.owner, s.last_at AS last_login_at,
      ${silence} AS days_dormant, NULL AS age_days, s.last_service, s.last_provider, s.logins,
      med.g AS median_gap_days, ${threshold} AS overdue_after_days, ${silence} AS sort_key
    FROM state s
    JOIN (
      SELECT id, AVG(gap) AS g FROM (
        SELECT id, gap, ROW_NUMBER() OVER (PARTITION BY id ORDER BY gap) AS rn, COUNT(*) OVER (PARTITION BY id) AS k
        FROM (
          SELECT id, day - LAG(day) OVER (PARTITION BY id ORDER BY day) AS gap
          FROM (
            SELECT mc.id AS id, a.day AS day FROM machines mc JOIN ${dailyActivity} a ON a.identity_id = mc.id WHERE a.logins > 0
            UNION
            SELECT mc.id, ${dayOf(sql`t.created_at`)} FROM machines mc JOIN gtail t ON t.identity_id = mc.id
          ) login_days
        ) gaps
        WHERE gap IS NOT NULL
      ) ranked
      WHERE rn IN ((k + 1) / 2, (k + 2) / 2)
      GROUP BY id
    ) med ON med.id = s.id
    WHERE ${silence} > ${threshold}`;
}

/**
 * The machines whose cadence can make them overdue: at least OVERDUE_MIN_LOGINS logins,
 * silent since before today. Not limited to the dormancy candidates: a machine that logs
 * in daily is overdue after a few silent days, long before any threshold.
 */
function machinesCte(asOf: number): SQL {
  return sql`machines(id) AS (
    SELECT i.id FROM ${identities} i LEFT JOIN gtail_last t ON t.identity_id = i.id
    LEFT JOIN ${identityInventory} v ON v.identity_id = i.id
    WHERE i.org_id = (SELECT id FROM org) AND i.identity_type = 'machine' AND v.deprovisioned_at IS NULL
      AND i.login_count + COALESCE(t.n, 0) >= ${OVERDUE_MIN_LOGINS}
      AND ${dayOf(sql`MAX(COALESCE(i.last_login_at, 0), COALESCE(t.last_at, 0))`)} < ${asOf})`;
}

/** The rows of a status (or dormant ∪ never_seen), filtered, ordered, after the cursor, limited. */
export function pageSql(q: DormancyQuery): SQL {
  const rows = q.status === "overdue" ? overdueRowsSql(q.asOf) : dormantRowsSql(q.asOf);
  const filters: SQL[] = [sql`1`];
  if (q.identityType) filters.push(sql`identity_type = ${q.identityType}`);
  if (q.status && q.status !== "overdue") filters.push(sql`status = ${q.status}`);
  if (q.newlyWithin !== undefined) filters.push(sql`status = 'dormant' AND days_dormant - ${typeThreshold(sql`identity_type`)} <= ${q.newlyWithin}`);
  if (q.cursor) {
    const { sortKey, userId, identityType } = q.cursor;
    filters.push(sql`(sort_key < ${sortKey} OR (sort_key = ${sortKey} AND (user_id > ${userId} OR (user_id = ${userId} AND identity_type > ${identityType}))))`);
  }
  const limit = q.limit === undefined ? sql`` : sql`LIMIT ${q.limit + 1}`;
  return sql`SELECT ${ROW_COLUMNS} FROM (${rows}) WHERE ${sql.join(filters, sql` AND `)}
    ORDER BY sort_key DESC, user_id ASC, identity_type ASC ${limit}`;
}

/**
 * Counts per threshold and type, and never-seen per type (needs dormancyCtes, not `state`).
 * A threshold's count is the identities whose sealed last login is before it — one range of
 * the covering `identities (org_id, last_login_at, identity_type)` index, not a row per
 * dormant identity — corrected by the few identities whose answer is not their sealed one
 * (`exceptions`): those with a login in the tail (their last login may be newer, or their only
 * one) count as their whole history says, and deprovisioned ones do not count. Never-seen
 * identities are inventory entries with no login at all.
 */
export function summarySql(asOf: number): SQL {
  const list = (type: IdentityType) =>
    sql`SELECT ${type} AS identity_type, CAST(t.value AS INTEGER) AS days
      FROM org LEFT JOIN ${orgSettings} s ON s.org_id = org.id, json_each(COALESCE(s.${sql.raw(`${type}_thresholds`)}, ${JSON.stringify(DEFAULT_THRESHOLDS)})) t`;
  const cut = sql`(${asOf} - th.days) * ${DAY_MS_SQL}`;
  return sql`, exceptions AS MATERIALIZED (
      SELECT i.identity_type, i.last_login_at AS sealed_at, CASE WHEN ${LAST_IS_TAILS} THEN t.last_at ELSE i.last_login_at END AS last_at,
        v.deprovisioned_at IS NOT NULL AS deprovisioned
      FROM (SELECT identity_id AS id FROM gtail_last
            UNION SELECT identity_id FROM ${identityInventory} WHERE org_id = (SELECT id FROM org) AND deprovisioned_at IS NOT NULL) x
      JOIN ${identities} i ON i.id = x.id
      LEFT JOIN gtail_last t ON t.identity_id = i.id
      LEFT JOIN ${identityInventory} v ON v.identity_id = i.id)
    SELECT identity_type, days,
      (SELECT COUNT(*) FROM ${identities} s
        WHERE s.org_id = (SELECT id FROM org) AND s.last_login_at < ${cut} AND s.identity_type = th.identity_type)
      + (SELECT COALESCE(SUM(CASE WHEN e.deprovisioned THEN 0 ELSE COALESCE(e.last_at < ${cut}, 0) END - COALESCE(e.sealed_at < ${cut}, 0)), 0)
        FROM exceptions e WHERE e.identity_type = th.identity_type) AS count
    FROM (${list("human")} UNION ALL ${list("machine")}) th
    UNION ALL
    SELECT i.identity_type, NULL, COUNT(*) FROM ${identityInventory} v JOIN ${identities} i ON i.id = v.identity_id
    WHERE v.org_id = (SELECT id FROM org) AND v.deprovisioned_at IS NULL AND i.last_login_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM gtail_last t WHERE t.identity_id = i.id)
    GROUP BY i.identity_type`;
}

/**
 * Services without a login for the service threshold (`days`, else the smaller of the two
 * types' first thresholds): each service's last login day from the sealed daily table, the
 * days folded but not recomputed yet, and the tail (needs dormancyCtes).
 */
export function servicesSql(asOf: number): SQL {
  return sql`SELECT s.external_id AS service_id, COALESCE(s.name, s.external_id) AS service_name, l.day AS last_login_day
    FROM (
      SELECT service_id, MAX(day) AS day FROM (
        SELECT service_id, day FROM ${dailyServiceStats} WHERE org_id = (SELECT id FROM org) AND logins > 0
        UNION ALL
        -- CROSS JOIN fixes the order: the organization's (few) dirty days, then their activity; the other
        -- way round the planner walked all of the organization's daily_activity probing dirty_days
        SELECT a.service_id, a.day FROM ${dirtyDays} d CROSS JOIN ${dailyActivity} a ON a.org_id = d.org_id AND a.day = d.day
          WHERE d.org_id = (SELECT id FROM org) AND a.logins > 0
        UNION ALL
        SELECT service_id, ${dayOf(sql`created_at`)} FROM gtail)
      GROUP BY service_id) l
    JOIN ${services} s ON s.id = l.service_id
    WHERE l.day < ${asOf} - MIN((SELECT human FROM n), (SELECT machine FROM n))
    ORDER BY l.day ASC, s.external_id ASC`;
}

export interface DormancyResult {
  settings: OrgSettings;
  /** Thresholds applied to the rows. */
  applied: Record<IdentityType, number>;
  summary: DormancySummary;
  rows: DormancyRow[];
  services: DormantService[];
}

/**
 * The dormancy answer for one organization in ONE D1 batch (settings, summary, rows,
 * dormant services), or null when the organization does not exist.
 */
export async function dormancy(db: Db, orgSlug: string, q: DormancyQuery, now: number): Promise<DormancyResult | null> {
  const base = dormancyCtes(orgSlug, q.asOf, q.days);
  const result = await namedBatch(db, {
    settings: settingsSql(orgSlug),
    applied: sql`WITH ${base} SELECT human, machine FROM n`,
    summary: sql`WITH ${base} ${summarySql(q.asOf)}`,
    rows: sql`WITH ${dormancyCtes(orgSlug, q.asOf, q.days, { machines: q.status === "overdue" })} ${pageSql(q)}`,
    services: sql`WITH ${base} ${servicesSql(q.asOf)}`,
  });
  const settingsRow = result.settings.results[0];
  if (!settingsRow) return null;
  const settings = parseSettings(settingsRow as Parameters<typeof parseSettings>[0], now);
  const summary: DormancySummary = { dormant: { human: [], machine: [] }, never_seen: { human: 0, machine: 0 } };
  for (const r of result.summary.results as { identity_type: IdentityType; days: number | null; count: number }[]) {
    if (r.days === null) summary.never_seen[r.identity_type] = r.count;
    else summary.dormant[r.identity_type].push({ days: r.days, count: r.count });
  }
  for (const type of ["human", "machine"] as const) summary.dormant[type].sort((a, b) => a.days - b.days);
  const applied = result.applied.results[0] as Record<IdentityType, number>;
  return { settings, applied, summary, rows: result.rows.results as unknown as DormancyRow[], services: result.services.results as unknown as DormantService[] };
}

/** A row as the API and the reports show it. */
export function dormancyRowBody(r: DormancyRow) {
  return {
    status: r.status,
    user_id: r.user_id,
    identity_type: r.identity_type,
    display_name: r.display_name,
    owner: r.owner,
    last_login_at: r.last_login_at === null ? null : formatTimestamp(r.last_login_at),
    days_dormant: r.days_dormant,
    age_days: r.age_days,
    last_service_id: r.last_service_id,
    last_provider: r.last_provider,
    logins: r.logins,
    median_gap_days: r.median_gap_days,
    overdue_after_days: r.overdue_after_days,
  };
}

