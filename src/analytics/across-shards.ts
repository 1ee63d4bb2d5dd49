import { type Databases, everyDatabase } from "../db/shards";
import {
  type OrgEngagementRow,
  type OrgSort,
  type PlatformOverview,
  organizationsEngagement,
  platformLoginActivity,
  platformOverview,
} from "./platform-queries";
import type { DayRange } from "./range";
import { compareSql } from "../lib/order";

/**
 * Platform reads over organizations sharded across databases (src/db/shards.ts): each
 * database answers for its own organizations with the single-database query, all in
 * parallel (one round trip each), and the answers merge exactly — every platform figure is
 * a sum over organizations, and an organization (with its identities) lives in exactly one
 * database. With one database these are the single-database queries themselves.
 */

export async function loginActivityAcross(dbs: Databases, range: DayRange) {
  const parts = await everyDatabase(dbs, (db) => platformLoginActivity(db, range));
  if (parts.length === 1) return parts[0];
  const byDay = new Map<number, number>();
  for (const row of parts.flat()) byDay.set(row.day, (byDay.get(row.day) ?? 0) + row.count);
  return [...byDay].sort(([a], [b]) => a - b).map(([day, count]) => ({ day, count }));
}

export async function overviewAcross(dbs: Databases, range: DayRange): Promise<PlatformOverview> {
  const parts = (await everyDatabase(dbs, (db) => platformOverview(db, range))).map((p) => p!);
  return parts.reduce((sum, p) => ({
    organizations: sum.organizations + p.organizations,
    identities: sum.identities + p.identities,
    active_identities: sum.active_identities + p.active_identities,
    logins: sum.logins + p.logins,
  }));
}

type Page = { sort: OrgSort; order: "asc" | "desc"; limit: number; offset: number };

const SORT_VALUE: Record<OrgSort, (r: OrgEngagementRow) => number | string | null> = {
  active_users: (r) => r.active_users,
  active_users_change_pct: (r) => r.active_users_change,
  new_users: (r) => r.new_users,
  logins: (r) => r.logins,
  last_activity_at: (r) => r.last_activity_at,
  slug: (r) => r.slug,
};

/** The order `organizationsEngagement` sorts by: the key in `order`, ties by slug ascending. */
export function compareOrgRows(page: Pick<Page, "sort" | "order">) {
  const value = SORT_VALUE[page.sort];
  const sign = page.order === "asc" ? 1 : -1;
  return (a: OrgEngagementRow, b: OrgEngagementRow) => sign * compareSql(value(a), value(b)) || compareSql(a.slug, b.slug);
}

/**
 * The organizations table over every database: each returns its first offset + limit rows
 * in the table's order (with their health counts), the rows merge in that order and the page
 * is cut from the merge; total is the sum.
 */
export async function organizationsAcross(dbs: Databases, current: DayRange, page: Page) {
  const shards = dbs.all();
  if (shards.length === 1) return organizationsEngagement(shards[0].db, current, page);
  const parts = await everyDatabase(dbs, (db) => organizationsEngagement(db, current, { ...page, offset: 0, limit: page.offset + page.limit }));
  const rows = parts
    .flatMap((p) => p.rows)
    .sort(compareOrgRows(page))
    .slice(page.offset, page.offset + page.limit);
  return { rows, total: parts.reduce((n, p) => n + p.total, 0) };
}
