import { sql, type SQL } from "drizzle-orm";
import { namedBatch } from "../db/client";
import { dailyActivity, identities, identityInventory, loginEvents, organizations, orgSettings, reactivations, services } from "../db/schema";
import type { Db } from "../env";
import { DAY_MS, formatTimestamp } from "../lib/dates";
import { DAY_MS_SQL, WATERMARK } from "../metrics/day-stats";
import { DEFAULT_THRESHOLDS, REACTIVATION_MIN_GAP_DAYS, type IdentityType } from "./settings";

/**
 * Reactivations: a login whose identity's previous login was at least N days earlier
 * (N = the organization's first threshold for the identity's type; `gap_days` = the
 * calendar days between the two logins). Only the first login of a day can be one.
 *
 * The rollup detects them as it folds events — the identity's known logins are at hand —
 * and stores every gap of at least REACTIVATION_MIN_GAP_DAYS (reads apply the threshold),
 * so a read never scans history. A fold of new logins X into an identity's login days S:
 *
 *   affected days  = the days of X, and for each, the next day of S after it (its gap is split)
 *   their previous = LAG over (X ∪ the neighbours in S of X's days): exactly their previous day in S ∪ X
 *   a row at d     exists iff d − previous ≥ the minimum gap: upserted, or deleted (a split gap)
 *
 * Everything a row holds is at hand without scanning history: the first login of a day is the
 * chunk's or the stored row's (a day of S has a row whenever it can still qualify, since
 * adding days only shortens gaps), or the identity's first login when the day was its first;
 * the last login of the previous day p is the chunk's, or the one stored on the row that
 * followed p (its gap was at least as long), or the identity's last login when p was its last
 * day. The same statements over the unsealed tail give live reads the rows the next fold will
 * write, so reads are exact at any moment.
 */

/**
 * The CTEs ending in `raffected(identity_id, org_id, day, prev)`: the days whose row the logins
 * selected by `chunk` (a condition on login_events `e`) change — each new login day and the
 * next sealed login day after it — with their previous login day once those logins are in.
 */
export function affectedDaysCtes(chunk: SQL): SQL {
  const a = dailyActivity;
  return sql`
  rc AS (
    SELECT e.identity_id, e.org_id, e.created_at, e.seq, e.created_at / ${DAY_MS_SQL} AS day
    FROM ${loginEvents} e WHERE ${chunk} AND e.outcome = 'success'),
  rcd AS (
    SELECT identity_id, org_id, day, MAX(CASE WHEN rn = 1 THEN created_at END) AS first_at, MAX(CASE WHEN rn = 1 THEN seq END) AS first_seq,
      MAX(created_at) AS last_at
    FROM (SELECT identity_id, org_id, day, created_at, seq, ROW_NUMBER() OVER (PARTITION BY identity_id, day ORDER BY created_at, seq) AS rn FROM rc)
    GROUP BY identity_id, org_id, day),
  -- a login after the identity's last sealed day L (the usual case) has L before it and nothing
  -- after: no index lookup; only a late login looks up its sealed neighbours
  rnear AS (
    SELECT rcd.identity_id, rcd.org_id, rcd.day,
      CASE WHEN i.last_login_at IS NULL THEN NULL
        WHEN rcd.day > i.last_login_at / ${DAY_MS_SQL} THEN i.last_login_at / ${DAY_MS_SQL}
        ELSE (SELECT MAX(s.day) FROM ${a} s WHERE s.identity_id = rcd.identity_id AND s.day < rcd.day AND s.logins > 0) END AS old_prev,
      CASE WHEN i.last_login_at IS NULL OR rcd.day >= i.last_login_at / ${DAY_MS_SQL} THEN NULL
        ELSE (SELECT MIN(s.day) FROM ${a} s WHERE s.identity_id = rcd.identity_id AND s.day > rcd.day AND s.logins > 0) END AS old_next
    FROM rcd JOIN ${identities} i ON i.id = rcd.identity_id),
  -- the new days and their sealed neighbours; affected: a new day, or the next sealed day after one
  ru(identity_id, org_id, day, affected) AS (
    SELECT identity_id, org_id, day, 1 FROM rnear
    UNION ALL SELECT identity_id, org_id, old_prev, 0 FROM rnear WHERE old_prev IS NOT NULL
    UNION ALL SELECT identity_id, org_id, old_next, 1 FROM rnear WHERE old_next IS NOT NULL),
  raffected AS (
    SELECT identity_id, org_id, day, prev FROM (
      SELECT identity_id, org_id, day, affected, LAG(day) OVER (PARTITION BY identity_id ORDER BY day) AS prev
      FROM (SELECT identity_id, org_id, day, MAX(affected) AS affected FROM ru GROUP BY identity_id, org_id, day))
    WHERE affected)`;
}

/**
 * The CTEs ending in `changes(identity_id, org_id, day, qualifies, previous_day, gap_days,
 * login_at, login_seq, previous_login_at, service_id, provider, ip_address, country)`: the
 * rows of the affected days once the logins selected by `chunk` (a condition on
 * login_events `e`) join the identity's sealed ones. Reads the sealed state —
 * daily_activity, identities, reactivations — as it was before those logins were folded.
 */
export function reactivationChangesCtes(chunk: SQL): SQL {
  const old = sql`${reactivations}`;
  return sql`${affectedDaysCtes(chunk)},
  rsealed AS (
    SELECT f.*,
      -- the first sealed login of the day: the stored row's, or the identity's first login on its first day
      COALESCE(r.login_at, CASE WHEN i.first_day = f.day THEN i.first_login_at END) AS sealed_at,
      CASE WHEN r.login_at IS NULL AND i.first_day = f.day THEN (
        SELECT e.seq FROM ${loginEvents} e
        WHERE e.org_id = i.org_id AND e.outcome = 'success' AND e.created_at = i.first_login_at AND e.identity_id = i.id
        ORDER BY e.seq LIMIT 1) END AS sealed_seq,
      r.service_id AS r_service, r.provider AS r_provider, r.ip_address AS r_ip, r.country AS r_country, r.login_at AS r_at,
      c.first_at, c.first_seq,
      -- the last login of the previous day: the chunk's and the sealed one
      (SELECT p.last_at FROM rcd p WHERE p.identity_id = f.identity_id AND p.day = f.prev) AS chunk_prev_at,
      COALESCE(
        (SELECT q.previous_login_at FROM ${old} q WHERE q.identity_id = f.identity_id AND q.previous_day = f.prev),
        CASE WHEN i.last_login_at / ${DAY_MS_SQL} = f.prev THEN i.last_login_at END) AS sealed_prev_at
    FROM raffected f
    JOIN ${identities} i ON i.id = f.identity_id
    LEFT JOIN ${old} r ON r.identity_id = f.identity_id AND r.day = f.day
    LEFT JOIN rcd c ON c.identity_id = f.identity_id AND c.day = f.day),
  changes AS (
    SELECT s.identity_id, s.org_id, s.day, s.prev AS previous_day, s.day - s.prev AS gap_days,
      (s.prev IS NOT NULL AND s.day - s.prev >= ${REACTIVATION_MIN_GAP_DAYS}) AS qualifies,
      CASE WHEN s.sealed_at IS NOT NULL AND (s.first_at IS NULL OR s.sealed_at <= s.first_at) THEN s.sealed_at ELSE s.first_at END AS login_at,
      CASE WHEN s.sealed_at IS NOT NULL AND (s.first_at IS NULL OR s.sealed_at <= s.first_at) THEN NULL ELSE s.first_seq END AS login_seq,
      MAX(COALESCE(s.chunk_prev_at, s.sealed_prev_at), COALESCE(s.sealed_prev_at, s.chunk_prev_at)) AS previous_login_at,
      s.sealed_at IS NOT NULL AND (s.first_at IS NULL OR s.sealed_at <= s.first_at) AS from_sealed,
      s.r_at, s.r_service, s.r_provider, s.r_ip, s.r_country, s.sealed_seq
    FROM rsealed s),
  rchanges AS (
    -- the login's service, provider, address and country: from the stored row, or its raw event
    SELECT c.identity_id, c.org_id, c.day, c.qualifies, c.previous_day, c.gap_days, c.login_at, c.previous_login_at,
      CASE WHEN c.from_sealed AND c.r_at IS NOT NULL THEN c.r_service ELSE e.service_id END AS service_id,
      CASE WHEN c.from_sealed AND c.r_at IS NOT NULL THEN c.r_provider ELSE e.provider END AS provider,
      CASE WHEN c.from_sealed AND c.r_at IS NOT NULL THEN c.r_ip ELSE e.ip_address END AS ip_address,
      CASE WHEN c.from_sealed AND c.r_at IS NOT NULL THEN c.r_country ELSE e.country END AS country
    FROM changes c
    LEFT JOIN ${loginEvents} e ON e.seq = CASE WHEN c.from_sealed THEN c.sealed_seq ELSE c.login_seq END)`;
}

/**
 * The fold's two statements for the events with seq in (from, to], to run in the fold's
 * batch before identities and daily_activity take the chunk in, guarded like every fold
 * statement: upsert the affected days that qualify, then delete those that no longer do
 * (a late login split their gap). The delete decides from daily_activity and the chunk
 * only (the affected days and their new previous day), so the upsert before it cannot change
 * its answer.
 */
export function foldReactivations(from: number, to: number, guard: SQL) {
  const chunkOf = sql`e.seq > ${from} AND e.seq <= ${to}`;
  const ctes = reactivationChangesCtes(chunkOf);
  return {
    reactivations: sql`INSERT INTO ${reactivations}
        (identity_id, day, org_id, previous_day, gap_days, login_at, previous_login_at, service_id, provider, ip_address, country)
      WITH ${ctes}
      SELECT identity_id, day, org_id, previous_day, gap_days, login_at, previous_login_at, service_id, provider, ip_address, country
      FROM rchanges WHERE qualifies AND login_at IS NOT NULL AND previous_login_at IS NOT NULL AND ${guard}
      ON CONFLICT (identity_id, day) DO UPDATE SET
        previous_day = excluded.previous_day, gap_days = excluded.gap_days, login_at = excluded.login_at,
        previous_login_at = excluded.previous_login_at, service_id = excluded.service_id, provider = excluded.provider,
        ip_address = excluded.ip_address, country = excluded.country`,
    splitReactivations: sql`DELETE FROM ${reactivations} WHERE (identity_id, day) IN (
        WITH ${affectedDaysCtes(chunkOf)} SELECT identity_id, day FROM raffected
        WHERE prev IS NULL OR day - prev < ${REACTIVATION_MIN_GAP_DAYS}) AND ${guard}`,
  };
}

export interface ReactivationRow {
  user_id: string;
  identity_type: IdentityType;
  gap_days: number;
  previous_login_at: number;
  login_at: number;
  service_id: string | null;
  provider: string | null;
  ip_address: string | null;
  country: string | null;
}

export interface ReactivationsCursor {
  loginAt: number;
  userId: string;
  identityType: IdentityType;
}

/** The threshold of each type: the organization's first (needs `org`). */
const thresholdOf = (type: IdentityType) =>
  sql`(SELECT COALESCE(json_extract(s.${sql.raw(`${type}_thresholds`)}, '$[0]'), ${DEFAULT_THRESHOLDS[0]}) FROM org LEFT JOIN ${orgSettings} s ON s.org_id = org.id)`;

/**
 * Reactivations of one organization with a login day in [start, end], newest first (then
 * user_id, type), at most `limit` + 1 after the cursor (undefined: all): the stored rows,
 * except those the unsealed tail changes, plus the tail's own. Needs nothing else; one
 * statement.
 *
 * The two parts are a compound SELECT under one ORDER BY … LIMIT, which SQLite merges from
 * each part in order: the stored part walks `reactivations (org_id, login_at)` from the newest
 * login (a row's login is its day's first, so the day range is a login_at range), sorting only
 * ties by user and type, and a page stops after `limit` + 1 rows instead of sorting the range.
 */
export function reactivationsSql(
  orgSlug: string,
  range: { start: number; end: number },
  q: { identityType?: IdentityType; cursor?: ReactivationsCursor; limit?: number; withoutDeprovisioned?: boolean },
): SQL {
  const tail = sql`e.seq > ${WATERMARK} AND +e.org_id = (SELECT id FROM org)`;
  const filters: SQL[] = [];
  if (q.identityType) filters.push(sql`i.identity_type = ${q.identityType}`);
  // reports leave deprovisioned identities out; the reactivations read keeps their history
  if (q.withoutDeprovisioned) filters.push(sql`NOT EXISTS (SELECT 1 FROM ${identityInventory} v WHERE v.identity_id = i.id AND v.deprovisioned_at IS NOT NULL)`);
  if (q.cursor) {
    const { loginAt, userId, identityType } = q.cursor;
    filters.push(sql`(x.login_at < ${loginAt} OR (x.login_at = ${loginAt} AND (i.user_id > ${userId} OR (i.user_id = ${userId} AND i.identity_type > ${identityType}))))`);
  }
  filters.push(sql`x.gap_days >= CASE i.identity_type WHEN 'human' THEN ${thresholdOf("human")} ELSE ${thresholdOf("machine")} END`);
  const part = (from: SQL, where: SQL) => sql`SELECT i.user_id, i.identity_type, x.gap_days, x.previous_login_at, x.login_at, s.external_id AS service_id,
      x.provider, x.ip_address, x.country
    FROM ${from} JOIN ${identities} i ON i.id = x.identity_id LEFT JOIN ${services} s ON s.id = x.service_id
    WHERE ${where} AND ${sql.join(filters, sql` AND `)}`;
  const firstMs = range.start * DAY_MS;
  const lastMs = (range.end + 1) * DAY_MS - 1;
  return sql`WITH org(id) AS (SELECT id FROM ${organizations} WHERE slug = ${orgSlug}), ${reactivationChangesCtes(tail)}
    ${part(
      sql`${reactivations} x`,
      sql`x.org_id = (SELECT id FROM org) AND x.login_at BETWEEN ${firstMs} AND ${lastMs}
        AND NOT EXISTS (SELECT 1 FROM raffected c WHERE c.identity_id = x.identity_id AND c.day = x.day)`,
    )}
    UNION ALL
    ${part(sql`rchanges x`, sql`x.qualifies AND x.day BETWEEN ${range.start} AND ${range.end}`)}
    ORDER BY login_at DESC, user_id ASC, identity_type ASC
    ${q.limit === undefined ? sql`` : sql`LIMIT ${q.limit + 1}`}`;
}

/** The reactivations read in ONE batch: the organization, its thresholds, the rows. Null when the organization does not exist. */
export async function readReactivations(
  db: Db,
  orgSlug: string,
  range: { start: number; end: number },
  q: { identityType?: IdentityType; cursor?: ReactivationsCursor; limit?: number },
) {
  const { thresholds, rows } = await namedBatch(db, {
    thresholds: sql`WITH org(id) AS (SELECT id FROM ${organizations} WHERE slug = ${orgSlug})
      SELECT ${thresholdOf("human")} AS human, ${thresholdOf("machine")} AS machine FROM org`,
    rows: reactivationsSql(orgSlug, range, q),
  });
  const t = thresholds.results[0] as Record<IdentityType, number> | undefined;
  if (!t) return null;
  return { thresholds: t, rows: rows.results as unknown as ReactivationRow[] };
}

/** A reactivation as the API and the reports show it. */
export function reactivationBody(r: ReactivationRow) {
  return {
    user_id: r.user_id,
    identity_type: r.identity_type,
    gap_days: r.gap_days,
    previous_login_at: formatTimestamp(r.previous_login_at),
    login_at: formatTimestamp(r.login_at),
    service_id: r.service_id,
    provider: r.provider,
    ip_address: r.ip_address,
    country: r.country,
  };
}
