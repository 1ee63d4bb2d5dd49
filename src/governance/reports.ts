import { sql } from "drizzle-orm";
import { namedBatch } from "../db/client";
import { organizations, orgHealth, reports, webhookAttempts, webhookDeliveries } from "../db/schema";
import type { Db } from "../env";
import { type Databases, everyDatabase } from "../db/shards";
import { dayToDate, formatTimestamp } from "../lib/dates";
import { compareSql } from "../lib/order";
import { type DormancyRow, dormancyCtes, dormancyRowBody, pageSql, servicesSql, summarySql } from "./dormancy";
import { type HealthCountsRow, HEALTH_LABELS, healthCountsSql, labelHealth, recordHealthSql } from "./health";
import { type ReactivationRow, reactivationBody, reactivationsSql } from "./reactivations";
import { type IdentityType, type OrgSettings, parseSettings, reportTypes, settingsSql } from "./settings";

/**
 * Scheduled reports: one per organization per day and one for the platform owner, stored
 * (history kept) and made idempotently — the unique (scope, org, day) key means a second
 * run on the same day makes no second report, and a delivery is created with its report.
 */

/** Entries per list in a report; a longer list is cut and named in `truncated`. */
export const REPORT_LIST_CAP = 1000;

export type Scope = "org" | "platform";

const cap = <T>(rows: T[], name: string, truncated: string[]) => {
  if (rows.length > REPORT_LIST_CAP) truncated.push(name);
  return rows.slice(0, REPORT_LIST_CAP);
};

/**
 * The organization's report for day `day` (as of that day), from the sealed tables and the
 * unsealed tail like every read:
 *
 *   summary          dormant counts per threshold and type, never-seen per type, list sizes
 *   newly_dormant    dormant at the type's first threshold, and not yet at the previous report's day
 *   overdue_machines machines silent past their cadence
 *   reactivations    logins ending a long silence, on the days since the previous report (up to yesterday)
 *   never_seen       inventory identities that never logged in
 *   dormant_services services without a login for the threshold
 *   health           the organization's label, with its inputs
 *
 * restricted to the identity types the settings choose. Two D1 round trips: the settings and
 * the previous report, then every list in one batch.
 */
export async function composeOrgReport(db: Db, orgSlug: string, day: number, now: number) {
  const { settings, previous } = await namedBatch(db, {
    settings: settingsSql(orgSlug),
    previous: sql`SELECT MAX(day) AS day FROM ${reports}
      WHERE scope = 'org' AND org_id = (SELECT id FROM ${organizations} WHERE slug = ${orgSlug}) AND day < ${day}`,
  });
  const row = settings.results[0];
  if (!row) return null;
  const s: OrgSettings = parseSettings(row as Parameters<typeof parseSettings>[0], now);
  const previousDay = (previous.results[0] as { day: number | null } | undefined)?.day ?? day - 1;
  const types = reportTypes(s);
  const only: IdentityType | undefined = types.length === 1 ? types[0] : undefined;
  const ctes = dormancyCtes(orgSlug, day, undefined);
  const period = { start: previousDay, end: day - 1 };
  const lists = await namedBatch(db, {
    summary: sql`WITH ${ctes} ${summarySql(day)}`,
    newlyDormant: sql`WITH ${ctes} ${pageSql({ asOf: day, identityType: only, status: "dormant", newlyWithin: day - previousDay, limit: REPORT_LIST_CAP })}`,
    overdue: sql`WITH ${dormancyCtes(orgSlug, day, undefined, { machines: true })} ${pageSql({ asOf: day, identityType: only, status: "overdue", limit: REPORT_LIST_CAP })}`,
    neverSeen: sql`WITH ${ctes} ${pageSql({ asOf: day, identityType: only, status: "never_seen", limit: REPORT_LIST_CAP })}`,
    services: sql`WITH ${ctes} ${servicesSql(day)}`,
    reactivations: reactivationsSql(orgSlug, period, { identityType: only, limit: REPORT_LIST_CAP, withoutDeprovisioned: true }),
    health: healthCountsSql(day, orgSlug),
  });
  const truncated: string[] = [];
  const summary = { dormant: {} as Record<string, { days: number; count: number }[]>, never_seen: {} as Record<string, number> };
  for (const t of types) {
    summary.dormant[t] = [];
    summary.never_seen[t] = 0;
  }
  for (const r of lists.summary.results as { identity_type: IdentityType; days: number | null; count: number }[]) {
    if (!types.includes(r.identity_type)) continue;
    if (r.days === null) summary.never_seen[r.identity_type] = r.count;
    else summary.dormant[r.identity_type].push({ days: r.days, count: r.count });
  }
  for (const t of types) summary.dormant[t].sort((a, b) => a.days - b.days);
  const rows = (name: string, result: D1Result) => cap(result.results as unknown as DormancyRow[], name, truncated).map(dormancyRowBody);
  const newlyDormant = rows("newly_dormant", lists.newlyDormant);
  const overdue = rows("overdue_machines", lists.overdue);
  const neverSeen = rows("never_seen", lists.neverSeen);
  const reactivations = cap(lists.reactivations.results as unknown as ReactivationRow[], "reactivations", truncated).map(reactivationBody);
  const services = (lists.services.results as { service_id: string; service_name: string; last_login_day: number }[]).map((v) => ({
    service_id: v.service_id,
    service_name: v.service_name,
    last_login_date: dayToDate(v.last_login_day),
    days_dormant: day - v.last_login_day,
  }));
  const health = labelHealth(lists.health.results[0] as unknown as HealthCountsRow);
  return {
    orgId: s.orgId,
    settings: s,
    body: {
      type: "organization" as const,
      date: dayToDate(day),
      generated_at: formatTimestamp(now),
      identity_types: types,
      thresholds: Object.fromEntries(types.map((t) => [t, s.thresholds[t]])),
      period: { start_date: dayToDate(period.start), end_date: dayToDate(period.end) },
      summary: {
        ...summary,
        newly_dormant: newlyDormant.length,
        overdue_machines: overdue.length,
        reactivations: reactivations.length,
        dormant_services: services.length,
      },
      newly_dormant: newlyDormant,
      overdue_machines: overdue,
      reactivations,
      never_seen: neverSeen,
      dormant_services: services,
      health,
      truncated,
    },
  };
}

/**
 * Makes and stores the organization's report of `day` unless it exists, with a pending
 * delivery when a webhook is configured (and not disabled by a 410): one batch, idempotent
 * (a concurrent run's insert is ignored, and so is its delivery). Returns whether it was new.
 */
export async function makeOrgReport(db: Db, orgSlug: string, day: number, now: number): Promise<"created" | "exists" | "unknown-org"> {
  const report = await composeOrgReport(db, orgSlug, day, now);
  if (!report) return "unknown-org";
  const { webhook } = report.settings;
  const deliver = webhook.url !== null && webhook.secret !== null && webhook.disabledAt === null;
  const key = sql`scope = 'org' AND org_id = ${report.orgId} AND day = ${day}`;
  const { inserted } = await namedBatch(db, {
    inserted: sql`INSERT INTO ${reports} (scope, org_id, day, created_at, body) VALUES ('org', ${report.orgId}, ${day}, ${now}, ${JSON.stringify(report.body)})
      ON CONFLICT (scope, org_id, day) DO NOTHING`,
    ...(deliver
      ? {
          delivery: sql`INSERT INTO ${webhookDeliveries} (report_id, org_id, state, attempts, next_attempt_at, updated_at)
            SELECT id, org_id, 'pending', 0, ${now}, ${now} FROM ${reports} WHERE ${key}
            ON CONFLICT (report_id) DO NOTHING`,
        }
      : {}),
  } as Record<string, ReturnType<typeof sql>>);
  return inserted.meta.changes === 1 ? "created" : "exists";
}

/** Records every organization's health label for `day` (first assessment of a day kept). Two round trips. */
export async function recordHealth(db: Db, day: number, now: number) {
  const { counts } = await namedBatch(db, { counts: healthCountsSql(day) });
  const rows = (counts.results as unknown as HealthCountsRow[]).map((r) => ({ orgId: r.org_id, health: labelHealth(r) }));
  const insert = recordHealthSql(day, rows, now);
  if (insert) await namedBatch(db, { insert });
  return rows.length;
}

/**
 * The platform owner's report of `day`: organizations per label (as recorded that day), how
 * many carry signup_without_return, and the organizations whose label changed since their
 * previous recorded day. Idempotent like the organizations' reports.
 */
/**
 * The platform report of `day`, from every database's recorded health labels (organizations
 * live in exactly one), stored in the primary database.
 */
export async function makePlatformReport(dbs: Databases, day: number, now: number): Promise<"created" | "exists"> {
  const perShard = await everyDatabase(dbs, async (db) => {
    const { labels } = await namedBatch(db, {
      labels: sql`SELECT o.slug, h.label, h.signup_without_return,
            (SELECT p.label FROM ${orgHealth} p WHERE p.org_id = h.org_id AND p.day < ${day} ORDER BY p.day DESC LIMIT 1) AS previous
          FROM ${orgHealth} h JOIN ${organizations} o ON o.id = h.org_id WHERE h.day = ${day}`,
    });
    return labels.results as { slug: string; label: (typeof HEALTH_LABELS)[number]; signup_without_return: number; previous: string | null }[];
  });
  const rows = perShard.flat().sort((a, b) => compareSql(a.slug, b.slug));
  const body = {
    type: "platform" as const,
    date: dayToDate(day),
    generated_at: formatTimestamp(now),
    organizations: rows.length,
    per_label: Object.fromEntries(HEALTH_LABELS.map((l) => [l, rows.filter((r) => r.label === l).length])),
    signup_without_return: rows.filter((r) => r.signup_without_return === 1).map((r) => r.slug),
    changed: rows.filter((r) => r.previous !== null && r.previous !== r.label).map((r) => ({ org: r.slug, from: r.previous, to: r.label })),
  };
  const { inserted } = await namedBatch(dbs.primary, {
    inserted: sql`INSERT INTO ${reports} (scope, org_id, day, created_at, body) VALUES ('platform', 0, ${day}, ${now}, ${JSON.stringify(body)})
      ON CONFLICT (scope, org_id, day) DO NOTHING`,
  });
  return inserted.meta.changes === 1 ? "created" : "exists";
}

export async function orgsWithoutReport(db: Db, day: number, limit: number): Promise<string[]> {
  const { rows } = await namedBatch(db, {
    rows: sql`SELECT o.slug FROM ${organizations} o
      WHERE NOT EXISTS (SELECT 1 FROM ${reports} r WHERE r.scope = 'org' AND r.org_id = o.id AND r.day = ${day})
      ORDER BY o.slug LIMIT ${limit}`,
  });
  return (rows.results as { slug: string }[]).map((r) => r.slug);
}

/** Whether reports of `day` are missing: some organization's, the platform's. One statement. */
/** Whether `day` still lacks reports: organizations' (in this database), and the platform's (kept in the primary). */
export async function pendingReports(db: Db, day: number): Promise<{ orgs: boolean; platform: boolean }> {
  const { pending } = await namedBatch(db, {
    pending: sql`SELECT
      EXISTS (SELECT 1 FROM ${organizations} o WHERE NOT EXISTS (
        SELECT 1 FROM ${reports} r WHERE r.scope = 'org' AND r.org_id = o.id AND r.day = ${day})) AS orgs,
      NOT EXISTS (SELECT 1 FROM ${reports} WHERE scope = 'platform' AND org_id = 0 AND day = ${day}) AS platform`,
  });
  const row = pending.results[0] as { orgs: number; platform: number };
  return { orgs: row.orgs === 1, platform: row.platform === 1 };
}

// ---- reading reports ---------------------------------------------------------------------------

export interface ReportListRow {
  day: number;
  created_at: number;
  state: string | null;
  attempts: number | null;
}

const scopeKey = (scope: Scope, orgSlug?: string) =>
  scope === "org" ? sql`r.scope = 'org' AND r.org_id = (SELECT id FROM ${organizations} WHERE slug = ${orgSlug!})` : sql`r.scope = 'platform' AND r.org_id = 0`;

/** Reports newest first (with their delivery state), and the total; null when the organization does not exist. One batch. */
export async function listReports(db: Db, scope: Scope, orgSlug: string | undefined, page: { limit: number; offset: number }) {
  const { org, rows, total } = await namedBatch(db, {
    org: scope === "org" ? sql`SELECT id FROM ${organizations} WHERE slug = ${orgSlug!}` : sql`SELECT 0 AS id`,
    rows: sql`SELECT r.day, r.created_at, d.state, d.attempts FROM ${reports} r LEFT JOIN ${webhookDeliveries} d ON d.report_id = r.id
      WHERE ${scopeKey(scope, orgSlug)} ORDER BY r.day DESC LIMIT ${page.limit} OFFSET ${page.offset}`,
    total: sql`SELECT COUNT(*) AS n FROM ${reports} r WHERE ${scopeKey(scope, orgSlug)}`,
  });
  if (org.results.length === 0) return null;
  return { rows: rows.results as unknown as ReportListRow[], total: (total.results as { n: number }[])[0].n };
}

export interface DeliveryLog {
  state: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
  log: { attempt: number; attempted_at: number; status: number | null; error: string | null; duration_ms: number }[];
}

/** One report with its delivery log; undefined when there is none that day; null when the organization does not exist. One batch. */
export async function readReport(db: Db, scope: Scope, orgSlug: string | undefined, day: number) {
  const key = sql`${scopeKey(scope, orgSlug)} AND r.day = ${day}`;
  const { org, report, delivery, attempts } = await namedBatch(db, {
    org: scope === "org" ? sql`SELECT id FROM ${organizations} WHERE slug = ${orgSlug!}` : sql`SELECT 0 AS id`,
    report: sql`SELECT r.day, r.created_at, r.body FROM ${reports} r WHERE ${key}`,
    delivery: sql`SELECT d.state, d.attempts, d.last_status, d.last_error, d.next_attempt_at FROM ${webhookDeliveries} d
      WHERE d.report_id = (SELECT r.id FROM ${reports} r WHERE ${key})`,
    attempts: sql`SELECT a.attempt, a.attempted_at, a.status, a.error, a.duration_ms FROM ${webhookAttempts} a
      WHERE a.report_id = (SELECT r.id FROM ${reports} r WHERE ${key}) ORDER BY a.attempt`,
  });
  if (org.results.length === 0) return null;
  const r = report.results[0] as { day: number; created_at: number; body: string } | undefined;
  if (!r) return undefined;
  const d = delivery.results[0] as Omit<DeliveryLog, "log"> | undefined;
  return {
    day: r.day,
    createdAt: r.created_at,
    body: JSON.parse(r.body) as Record<string, unknown>,
    delivery: d ? ({ ...d, log: attempts.results } as DeliveryLog) : null,
  };
}
