import { sql, type SQL } from "drizzle-orm";
import { batch } from "../db/client";
import type { Db } from "../env";
import { ApiError, type ErrorDetail } from "../errors";
import { MAX_FUTURE_SKEW_MS, type LoginEventInput } from "./event-schema";

/** D1 binds at most 100 parameters per statement. */
export const MAX_BOUND_PARAMS = 100;

export interface IngestContext {
  /** Receive time, ms. */
  now: number;
  /** Country from the edge (request.cf.country), used when the event has none. */
  edgeCountry?: string;
}

export interface NormalizedEvent {
  id: string;
  org: string;
  userId: string;
  identityType: "human" | "machine";
  serviceId: string;
  serviceName?: string;
  provider: string;
  outcome: "success" | "failure";
  createdAt: number;
  ipAddress: string | null;
  userAgent: string | null;
  country: string | null;
}

/** Applies defaults and the future-skew rule; throws one 400 naming every bad event. */
export function normalizeEvents(events: LoginEventInput[], ctx: IngestContext, batch: boolean): NormalizedEvent[] {
  const problems: ErrorDetail[] = [];
  const normalized = events.map((e, i) => {
    const createdAt = e.created_at === undefined ? ctx.now : Date.parse(e.created_at);
    const path = batch ? `events[${i}].created_at` : "created_at";
    if (createdAt > ctx.now + MAX_FUTURE_SKEW_MS) {
      problems.push({ path, message: "is more than 5 minutes in the future" });
    } else if (!(createdAt >= 0)) {
      problems.push({ path, message: "must not be before 1970-01-01T00:00:00Z" });
    }
    return {
      id: e.id,
      org: e.org,
      userId: e.user_id,
      identityType: e.identity_type,
      serviceId: e.service_id,
      serviceName: e.service_name,
      provider: e.provider,
      outcome: e.outcome,
      createdAt,
      ipAddress: e.ip_address ?? null,
      userAgent: e.user_agent ?? null,
      country: e.country ?? ctx.edgeCountry ?? null,
    };
  });
  if (problems.length > 0) {
    throw new ApiError("BAD_REQUEST", `Invalid event at ${problems[0].path}: ${problems[0].message}`, problems);
  }
  return normalized;
}

/** Multi-row VALUES statements, each under D1's bound-parameter limit. */
function chunkedValues<T>(rows: T[], paramsPerRow: number, toTuple: (row: T) => unknown[]): SQL[] {
  const perStatement = Math.floor(MAX_BOUND_PARAMS / paramsPerRow);
  const out: SQL[] = [];
  for (let i = 0; i < rows.length; i += perStatement) {
    const tuples = rows.slice(i, i + perStatement).map((r) => sql`(${sql.join(toTuple(r).map((v) => sql`${v}`), sql`, `)})`);
    out.push(sql.join(tuples, sql`, `));
  }
  return out;
}

function uniqueBy<T>(rows: T[], key: (row: T) => string): T[] {
  const map = new Map<string, T>();
  for (const r of rows) map.set(key(r), r);
  return [...map.values()];
}

/**
 * Stores a validated batch all-or-nothing: organizations, services and
 * identities are upserted and the events inserted in one D1 `batch()`, which
 * D1 runs as a single transaction. Duplicate ids (within the batch or already
 * stored) are ignored by the unique (org, event_id) index and reported.
 */
export async function ingestEvents(db: Db, events: NormalizedEvent[], now: number) {
  const orgs = [...new Set(events.map((e) => e.org))];
  // The last name sent for a service in the batch wins; events without a name keep the stored one.
  const serviceMap = new Map<string, { org: string; serviceId: string; name: string | null }>();
  for (const e of events) {
    const key = `${e.org}\u0000${e.serviceId}`;
    serviceMap.set(key, { org: e.org, serviceId: e.serviceId, name: e.serviceName ?? serviceMap.get(key)?.name ?? null });
  }
  const services = [...serviceMap.values()];
  const idents = uniqueBy(events, (e) => `${e.org}\u0000${e.userId}\u0000${e.identityType}`);

  const statements: SQL[] = [
    ...chunkedValues(orgs, 2, (slug) => [slug, now]).map(
      (values) => sql`INSERT INTO organizations (slug, created_at) VALUES ${values} ON CONFLICT (slug) DO NOTHING`,
    ),
    ...chunkedValues(services, 3, (s) => [s.org, s.serviceId, s.name]).map(
      (values) => sql`INSERT INTO services (org_id, external_id, name)
        SELECT o.id, v.column2, v.column3 FROM (VALUES ${values}) v JOIN organizations o ON o.slug = v.column1 WHERE true
        ON CONFLICT (org_id, external_id) DO UPDATE SET name = COALESCE(excluded.name, services.name)`,
    ),
    ...chunkedValues(idents, 3, (e) => [e.org, e.userId, e.identityType]).map(
      (values) => sql`INSERT INTO identities (org_id, user_id, identity_type)
        SELECT o.id, v.column2, v.column3 FROM (VALUES ${values}) v JOIN organizations o ON o.slug = v.column1 WHERE true
        ON CONFLICT (org_id, user_id, identity_type) DO NOTHING`,
    ),
  ];
  const eventStatements = chunkedValues(events, 11, (e) => [
    e.org, e.id, e.userId, e.identityType, e.serviceId, e.provider, e.outcome, e.createdAt, e.ipAddress, e.userAgent, e.country,
  ]).map(
    // received_at is a server-generated integer, inlined to leave room for one more row per statement.
    (values) => sql`INSERT INTO login_events
        (org_id, event_id, identity_id, service_id, provider, outcome, created_at, received_at, ip_address, user_agent, country)
      SELECT o.id, v.column2, i.id, s.id, v.column6, v.column7, v.column8, ${sql.raw(String(Math.trunc(now)))}, v.column9, v.column10, v.column11
      FROM (VALUES ${values}) v
      JOIN organizations o ON o.slug = v.column1
      JOIN identities i ON i.org_id = o.id AND i.user_id = v.column3 AND i.identity_type = v.column4
      JOIN services s ON s.org_id = o.id AND s.external_id = v.column5
      WHERE true
      ON CONFLICT (org_id, event_id) DO NOTHING`,
  );
  const results = await batch(db, [...statements, ...eventStatements]);
  const accepted = results.slice(statements.length).reduce((sum, r) => sum + r.meta.changes, 0);
  return { accepted, duplicates: events.length - accepted };
}
