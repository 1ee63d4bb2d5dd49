import { sql, type SQL } from "drizzle-orm";
import { ORG_WINDOW_DAYS } from "../analytics/range";
import { dailyActivity, identities, organizations, orgHealth } from "../db/schema";
import { orgActiveCte, orgFiguresCtes, orgsTailCtes } from "../metrics/org-windows";

/**
 * Organization health: every organization labelled from its last 28 days against the 28
 * before, with the numbers that decided the label. ALL the thresholds are here.
 */
export const HEALTH = {
  /** Days in the window (and in the previous window it is compared with): the organizations view's window. */
  windowDays: ORG_WINDOW_DAYS,
  /** expanding: active identities up at least this much vs the previous window (or new ≥ newShare of actives). */
  growth: 0.1,
  /** contracting: active identities down at least this much. */
  decline: 0.1,
  /** expanding: new identities at least this share of the window's actives. */
  newShare: 0.1,
  /** fragmenting: the top `topFraction` of active identities (at least one) make at least `topShare` of logins… */
  topFraction: 0.1,
  topShare: 0.8,
  /** …or more than this share of the known identities were inactive for the window, while the organization is active. */
  inactiveKnownShare: 0.5,
  /** signup_without_return: new ≥ this share of actives while the returning share is under `signupReturningShare`. */
  signupNewShare: 0.2,
  signupReturningShare: 0.2,
} as const;

export const HEALTH_LABELS = ["dormant", "expanding", "contracting", "stagnating", "fragmenting", "stable"] as const;
export type HealthLabel = (typeof HEALTH_LABELS)[number];

/** The numbers a label is decided from (as of the window's last day). */
export interface HealthInputs {
  /** Distinct identities with a login in the window / in the previous window. */
  active: number;
  previous_active: number;
  /** (active − previous) / previous × 100, 1 decimal; null when the previous window had none. */
  active_change_pct: number | null;
  /** Active identities whose first login ever is in the window; returning = the others. */
  new: number;
  returning: number;
  /** Active in the window, not in the previous one, first login before the window. */
  resurrecting: number;
  /** Active in the previous window, not in this one. */
  newly_dormant: number;
  /** (new + resurrecting) / newly_dormant, 4 decimals; null when none went dormant. Above 1 the organization is growing. */
  quick_ratio: number | null;
  logins: number;
  /** The top 10% of active identities (⌊active / 10⌋, none under 10 actives): how many, and their share of the window's logins (4 decimals). */
  top_identities: number;
  top_share: number | null;
  /** Identities with a first login on or before the window's end, and those of them without a login in the window. */
  known: number;
  inactive_known: number;
}

export interface Health {
  label: HealthLabel;
  signup_without_return: boolean;
  /** Which rule decided the label, in words, with its numbers. */
  reason: string;
  inputs: HealthInputs;
}

const round = (v: number, places: number) => Math.round(v * 10 ** places) / 10 ** places;
const pct = (v: number) => `${round(v * 100, 1)}%`;

/** The raw counts of one organization (what the SQL returns). */
export interface HealthCounts {
  active: number;
  previous_active: number;
  new: number;
  resurrecting: number;
  newly_dormant: number;
  logins: number;
  top_identities: number;
  top_logins: number;
  known: number;
}

/**
 * The label: the first rule that holds, in this order — dormant, expanding, contracting,
 * stagnating, fragmenting, stable — and the signup_without_return flag. Integer comparisons
 * (no rounding decides a label).
 */
export function labelHealth(c: HealthCounts): Health {
  const returning = c.active - c.new;
  const inactiveKnown = c.known - c.active;
  const inputs: HealthInputs = {
    active: c.active,
    previous_active: c.previous_active,
    active_change_pct: c.previous_active === 0 ? null : round(((c.active - c.previous_active) * 100) / c.previous_active, 1),
    new: c.new,
    returning,
    resurrecting: c.resurrecting,
    newly_dormant: c.newly_dormant,
    quick_ratio: c.newly_dormant === 0 ? null : round((c.new + c.resurrecting) / c.newly_dormant, 4),
    logins: c.logins,
    top_identities: c.top_identities,
    top_share: c.top_identities === 0 || c.logins === 0 ? null : round(c.top_logins / c.logins, 4),
    known: c.known,
    inactive_known: inactiveKnown,
  };
  const up = c.previous_active > 0 && c.active - c.previous_active >= HEALTH.growth * c.previous_active;
  const fromNothing = c.previous_active === 0 && c.active > 0;
  const manyNew = c.active > 0 && c.new >= HEALTH.newShare * c.active;
  const down = c.previous_active > 0 && c.previous_active - c.active >= HEALTH.decline * c.previous_active;
  const concentrated = c.top_identities > 0 && c.logins > 0 && c.top_logins >= HEALTH.topShare * c.logins;
  const mostlyInactive = c.active > 0 && inactiveKnown > HEALTH.inactiveKnownShare * c.known;
  const signupWithoutReturn = c.active > 0 && c.new >= HEALTH.signupNewShare * c.active && returning < HEALTH.signupReturningShare * c.active;

  let label: HealthLabel;
  let reason: string;
  if (c.active === 0) {
    label = "dormant";
    reason = `no logins in the last ${HEALTH.windowDays} days`;
  } else if (up || fromNothing || manyNew) {
    label = "expanding";
    reason = up
      ? `active identities up ${pct((c.active - c.previous_active) / c.previous_active)} (≥ ${pct(HEALTH.growth)})`
      : fromNothing
        ? `${c.active} active identities after none in the previous ${HEALTH.windowDays} days`
        : `${c.new} new identities are ${pct(c.new / c.active)} of ${c.active} active (≥ ${pct(HEALTH.newShare)})`;
  } else if (down) {
    label = "contracting";
    reason = `active identities down ${pct((c.previous_active - c.active) / c.previous_active)} (≥ ${pct(HEALTH.decline)})`;
  } else if (c.new === 0) {
    label = "stagnating";
    reason = `active identities within ±${pct(HEALTH.growth)} (${c.previous_active} → ${c.active}) and no new identities`;
  } else if (concentrated || mostlyInactive) {
    label = "fragmenting";
    reason = concentrated
      ? `the top ${c.top_identities} of ${c.active} active identities make ${pct(c.top_logins / c.logins)} of logins (≥ ${pct(HEALTH.topShare)})`
      : `${inactiveKnown} of ${c.known} known identities had no login in the last ${HEALTH.windowDays} days (> ${pct(HEALTH.inactiveKnownShare)})`;
  } else {
    label = "stable";
    reason = `active identities within ±${pct(HEALTH.growth)} (${c.previous_active} → ${c.active}), ${c.new} new, activity spread`;
  }
  return { label, signup_without_return: signupWithoutReturn, reason, inputs };
}

/**
 * A CTE `health_counts(org_id, active, previous_active, new, resurrecting, newly_dormant,
 * logins, top_identities, top_logins, known)` for the organizations of `figures` as of day
 * `end`: window W = [end − 27, end], previous window P = the 28 days before, sealed tables ∪
 * the unsealed tail. `figures` is a SELECT of (org_id, active, previous_active, new_users,
 * logins) over W — `org_figures` of `orgFiguresCtes`, or the organizations view's page, which
 * already holds them; needs `orgsTailCtes` (src/metrics/org-windows.ts). The rest, without a
 * pass over each identity's history:
 *
 *   |W ∪ P|        the 56-day distinct count (a kept window length)
 *   newly_dormant  in P, not in W: |W ∪ P| − active
 *   resurrecting   in W, not in P, first login before W: |W ∪ P| − previous − new
 *                  (a new identity's first login is in W, so it is never in P)
 *   known          first login on or before `end`: identities (org_id, first_day), plus tail
 *                  identities whose first login the tail brings to or before `end`
 *   top            each identity's logins in W (W's activity of these organizations and the
 *                  tail), the top ⌊active / 10⌋ of them, taken from a histogram of the counts
 */
export function healthCountsCtes(end: number, figures: SQL): SQL {
  const start = end - HEALTH.windowDays + 1;
  const orgs = sql`SELECT org_id FROM health_figures`;
  return sql`health_figures(org_id, active, previous_active, new_users, logins) AS MATERIALIZED (${figures}),
    ${orgActiveCte("health_union", { start: start - HEALTH.windowDays, end }, orgs)},
    health_tail_known(org_id, n) AS (
      -- CROSS JOIN fixes the order: the tail's first logins, then their identities (not every identity)
      SELECT i.org_id, COUNT(*) FROM tail_first f CROSS JOIN ${identities} i ON i.id = f.identity_id
      WHERE f.day <= ${end} AND (i.first_day IS NULL OR i.first_day > ${end}) GROUP BY i.org_id),
    health_logins(org_id, identity_id, logins) AS (
      SELECT org_id, identity_id, SUM(logins) FROM (
        -- CROSS JOIN fixes the order: each organization's days of W by its primary key
        SELECT a.org_id, a.identity_id, a.logins FROM (${orgs}) o
          CROSS JOIN ${dailyActivity} a ON a.org_id = o.org_id AND a.day BETWEEN ${start} AND ${end} WHERE a.logins > 0
        UNION ALL SELECT t.org_id, t.identity_id, 1 FROM tail t
          WHERE t.outcome = 'success' AND t.day BETWEEN ${start} AND ${end} AND t.org_id IN (${orgs}))
      GROUP BY org_id, identity_id),
    -- how many identities made each number of logins: the top ⌊n / 10⌋ are taken from the most
    -- logins down (the last bucket partly), without ranking every identity
    health_histogram(org_id, logins, identities) AS MATERIALIZED (
      SELECT org_id, logins, COUNT(*) FROM health_logins GROUP BY org_id, logins),
    health_top(org_id, top_identities, top_logins) AS (
      SELECT org_id, k, SUM(taken * logins) FROM (
        SELECT h.org_id, h.logins, c.k,
          MIN(h.identities, MAX(0, c.k - (SUM(h.identities) OVER (PARTITION BY h.org_id ORDER BY h.logins DESC) - h.identities))) AS taken
        FROM health_histogram h
        JOIN (SELECT org_id, SUM(identities) / 10 AS k FROM health_histogram GROUP BY org_id) c ON c.org_id = h.org_id)
      WHERE k > 0 GROUP BY org_id),
    health_counts AS (
      SELECT f.org_id, f.active, f.previous_active, f.new_users AS new,
        u.active - f.previous_active - f.new_users AS resurrecting,
        u.active - f.active AS newly_dormant,
        f.logins, COALESCE(t.top_identities, 0) AS top_identities, COALESCE(t.top_logins, 0) AS top_logins,
        (SELECT COUNT(*) FROM ${identities} WHERE org_id = f.org_id AND first_day <= ${end}) + COALESCE(k.n, 0) AS known
      FROM health_figures f
      JOIN health_union u ON u.org_id = f.org_id
      LEFT JOIN health_tail_known k ON k.org_id = f.org_id
      LEFT JOIN health_top t ON t.org_id = f.org_id)`;
}

/** Health counts of every organization (or one) as of day `end`, by slug: one statement; organizations without activity get zeros (dormant). */
export function healthCountsSql(end: number, orgSlug?: string): SQL {
  const window = { start: end - HEALTH.windowDays + 1, end };
  const orgs = sql`SELECT id AS org_id FROM ${organizations} ${orgSlug === undefined ? sql`` : sql`WHERE slug = ${orgSlug}`}`;
  return sql`WITH ${orgsTailCtes(orgSlug)},
    ${orgFiguresCtes(window, orgs)},
    ${healthCountsCtes(end, sql`SELECT * FROM org_figures`)}
    SELECT o.id AS org_id, o.slug, h.active, h.previous_active, h.new, h.resurrecting, h.newly_dormant, h.logins,
      h.top_identities, h.top_logins, h.known
    FROM ${organizations} o JOIN health_counts h ON h.org_id = o.id
    ORDER BY o.slug`;
}

export interface HealthCountsRow extends HealthCounts {
  org_id: number;
  slug: string;
}

/** Stored daily labels of one organization, oldest first (the history). */
export function healthHistorySql(orgSlug: string): SQL {
  return sql`SELECT h.day, h.label, h.signup_without_return, h.inputs FROM ${orgHealth} h
    WHERE h.org_id = (SELECT id FROM ${organizations} WHERE slug = ${orgSlug}) ORDER BY h.day`;
}

/** Stores the labels of `day` (one row per organization), keeping the first assessment of a day: idempotent. */
export function recordHealthSql(day: number, rows: { orgId: number; health: Health }[], now: number): SQL | undefined {
  if (rows.length === 0) return undefined;
  const json = JSON.stringify(rows.map((r) => [r.orgId, r.health.label, r.health.signup_without_return ? 1 : 0, JSON.stringify({ reason: r.health.reason, ...r.health.inputs })]));
  return sql`INSERT INTO ${orgHealth} (org_id, day, label, signup_without_return, inputs, recorded_at)
    SELECT j.value ->> 0, ${day}, j.value ->> 1, j.value ->> 2, j.value ->> 3, ${now} FROM json_each(${json}) j WHERE true
    ON CONFLICT (org_id, day) DO NOTHING`;
}
