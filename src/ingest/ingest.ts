import { sql } from "drizzle-orm";
import { namedBatch } from "../db/client";
import { identities, loginEvents, organizations, services } from "../db/schema";
import type { Db } from "../env";
import { ApiError, invalidInput, type ErrorDetail } from "../errors";
import type { Databases } from "../db/shards";
import { assertCanWriteOrg } from "../auth/middleware";
import type { Principal } from "../auth/principal";
import { MAX_FUTURE_SKEW_MS, type IngestBody, type LoginEventInput } from "./event-schema";
import { enqueueEvents } from "./queue";

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
    throw invalidInput("event", problems as [ErrorDetail, ...ErrorDetail[]]);
  }
  return normalized;
}

/**
 * The batch is bound as JSON — one parameter per statement — and unpacked by `json_each`, so
 * a batch costs four statements whatever its size (D1 runs statements one at a time, and
 * binds at most 100 parameters each). Each statement gets only the fields it reads: an
 * event is a JSON array of them (cheaper for `json_each` and `->>` to take apart than the
 * whole event with its user agent). A 1 MiB body (the route's limit) stays well under D1's
 * 2 MB per bound string.
 */
const FIELDS = {
  org: (e: NormalizedEvent) => e.org,
  event_id: (e: NormalizedEvent) => e.id,
  user_id: (e: NormalizedEvent) => e.userId,
  identity_type: (e: NormalizedEvent) => e.identityType,
  service_id: (e: NormalizedEvent) => e.serviceId,
  service_name: (e: NormalizedEvent) => e.serviceName ?? null,
  provider: (e: NormalizedEvent) => e.provider,
  outcome: (e: NormalizedEvent) => e.outcome,
  created_at: (e: NormalizedEvent) => e.createdAt,
  ip_address: (e: NormalizedEvent) => e.ipAddress,
  user_agent: (e: NormalizedEvent) => e.userAgent,
  country: (e: NormalizedEvent) => e.country,
} as const;
type Field = keyof typeof FIELDS;

/** What the services and identities statements read of an event. */
const KEY_FIELDS = ["org", "event_id", "user_id", "identity_type", "service_id", "service_name", "created_at"] as const satisfies Field[];
const ALL_FIELDS = Object.keys(FIELDS) as Field[];

/** The events as one JSON array of `fields` tuples. */
const packEvents = (events: NormalizedEvent[], fields: readonly Field[]) => JSON.stringify(events.map((e) => fields.map((f) => FIELDS[f](e))));

/** The bound batch as rows with the named `fields`; `k` is the event's position in the request. */
const batchRows = (json: string, fields: readonly Field[]) => sql`batch_rows AS (
  SELECT j.key AS k, ${sql.raw(fields.map((f, i) => `j.value ->> ${i} AS ${f}`).join(", "))}
  FROM json_each(${json}) j)`;

/** The batch's events that are not stored yet, with their organization's key (the org exists by then). */
const freshRows = (json: string) => sql`${batchRows(json, KEY_FIELDS)},
  fresh AS (
    SELECT b.*, o.id AS org_id FROM batch_rows b JOIN ${organizations} o ON o.slug = b.org
    WHERE NOT EXISTS (SELECT 1 FROM ${loginEvents} e WHERE e.org_id = o.id AND e.event_id = b.event_id))`;

/** First occurrence of each (org, id) wins inside a batch; later copies are duplicates. */
function firstOccurrences(events: NormalizedEvent[]): NormalizedEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    const key = `${e.org}\u0000${e.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Stores a validated batch all-or-nothing in one D1 `batch()` (one transaction):
 * organizations, then services and identities, then the events. Duplicates — an id
 * already stored for its organization, or repeated within the batch — have no effect at
 * all: services and identities are written only for events actually inserted, so a
 * redelivery with different content neither renames a service nor leaves an identity
 * without events. Among the inserted events of a batch, the last one naming a service
 * (by created_at, then position) sets its name; events without a name keep the stored one.
 */
export async function storeEvents(db: Db, events: NormalizedEvent[], now: number): Promise<StoreResult> {
  const firsts = firstOccurrences(events);
  // Bound, not inlined: each request's statements then have the same text, which D1 (a Durable
  // Object's SQLite) keeps prepared in its statement cache instead of compiling four new ones
  // per request and pushing the dashboard reads' statements out of it. An integer-valued number
  // stored in an INTEGER column is stored as an integer.
  const receivedAt = Math.trunc(now);
  const orgs = JSON.stringify([...new Set(firsts.map((e) => e.org))]);
  const keys = packEvents(firsts, KEY_FIELDS);
  const json = packEvents(firsts, ALL_FIELDS);
  const { inserted } = await namedBatch(db, {
    organizations: sql`INSERT INTO ${organizations} (slug, created_at) SELECT j.value, ${receivedAt} FROM json_each(${orgs}) j WHERE true
      ON CONFLICT (slug) DO NOTHING`,
    services: sql`WITH ${freshRows(keys)}
      INSERT INTO ${services} (org_id, external_id, name)
      SELECT DISTINCT org_id, service_id,
        FIRST_VALUE(service_name) OVER (PARTITION BY org_id, service_id ORDER BY service_name IS NULL, created_at DESC, k DESC)
      FROM fresh WHERE true
      ON CONFLICT (org_id, external_id) DO UPDATE SET name = COALESCE(excluded.name, ${services.name})`,
    identities: sql`WITH ${freshRows(keys)}
      INSERT INTO ${identities} (org_id, user_id, identity_type) SELECT DISTINCT org_id, user_id, identity_type FROM fresh WHERE true
      ON CONFLICT (org_id, user_id, identity_type) DO NOTHING`,
    inserted: sql`WITH ${batchRows(json, ALL_FIELDS)}
      INSERT INTO ${loginEvents}
        (org_id, event_id, identity_id, service_id, provider, outcome, created_at, received_at, ip_address, user_agent, country)
      SELECT o.id, b.event_id, i.id, s.id, b.provider, b.outcome, b.created_at, ${receivedAt}, b.ip_address, b.user_agent, b.country
      FROM batch_rows b
      JOIN ${organizations} o ON o.slug = b.org
      JOIN ${identities} i ON i.org_id = o.id AND i.user_id = b.user_id AND i.identity_type = b.identity_type
      JOIN ${services} s ON s.org_id = o.id AND s.external_id = b.service_id
      WHERE true ORDER BY b.k
      ON CONFLICT (org_id, event_id) DO NOTHING`,
  });
  const accepted = inserted.meta.changes;
  return { accepted, duplicates: events.length - accepted };
}

export interface StoreResult {
  accepted: number;
  duplicates: number;
}

/**
 * Stores a batch in the databases of its organizations (src/db/shards.ts): one `storeEvents`
 * per database, in parallel, each all-or-nothing. With one database (or one organization)
 * that is exactly `storeEvents`. When some databases commit and others fail, the request
 * fails with 503 and `details` naming every event stored and every event not stored:
 * retrying the whole request is safe (ids make the stored ones duplicates).
 */
export async function storeSharded(dbs: Databases, events: NormalizedEvent[], now: number): Promise<StoreResult> {
  const placed = await dbs.placeOrgs(events.map((e) => e.org));
  const groups = new Map<string, { events: NormalizedEvent[]; positions: number[] }>();
  events.forEach((e, i) => {
    const name = placed.get(e.org)!;
    const group = groups.get(name) ?? groups.set(name, { events: [], positions: [] }).get(name)!;
    group.events.push(e);
    group.positions.push(i);
  });
  const parts = [...groups];
  if (parts.length === 1) return storeEvents(dbs.db(parts[0][0]), events, now);
  const outcomes = await Promise.allSettled(parts.map(([name, group]) => storeEvents(dbs.db(name), group.events, now)));
  const failed = outcomes.flatMap((o, i) => (o.status === "rejected" ? [{ name: parts[i][0], error: o.reason as Error }] : []));
  if (failed.length === outcomes.length) throw failed[0].error;
  if (failed.length > 0) {
    for (const f of failed) console.warn(`ingest: database ${f.name} failed: ${f.error?.message}`);
    const stored: string[] = new Array(events.length);
    parts.forEach(([name, group], i) => {
      for (const position of group.positions) stored[position] = outcomes[i].status === "fulfilled" ? "stored" : `not stored: database ${name} failed; retry the request`;
    });
    throw new ApiError(
      "DATABASE_UNAVAILABLE",
      `Stored the events of ${parts.length - failed.length} of ${parts.length} databases; retry the whole request (event ids make it safe)`,
      { details: stored.map((message, i) => ({ path: `events[${i}]`, message })) },
    );
  }
  return outcomes.reduce((sum, o) => {
    const r = (o as PromiseFulfilledResult<StoreResult>).value;
    return { accepted: sum.accepted + r.accepted, duplicates: sum.duplicates + r.duplicates };
  }, { accepted: 0, duplicates: 0 });
}

export type IngestResult = StoreResult | { accepted: number; duplicates: null; queued: true };

/**
 * Event acceptance, shared by every way events arrive: normalize (defaults, the
 * future-skew rule), check the token's organization binding against every event, then
 * store — or, with a queue, enqueue the request's events as one message for the queue
 * consumer to store through the same `storeSharded` (duplicates are then not known yet:
 * `duplicates: null`). A request too large for one message is stored directly.
 * The caller has already authenticated the token and checked its events:write scope.
 */
export async function acceptEvents(dbs: Databases, principal: Principal, body: IngestBody, ctx: IngestContext, queue?: Queue): Promise<IngestResult> {
  const events = normalizeEvents(body.events, ctx, body.batch);
  assertCanWriteOrg(principal, new Set(events.map((e) => e.org)));
  if (queue && (await enqueueEvents(queue, events, ctx.now))) return { accepted: events.length, duplicates: null, queued: true };
  return storeSharded(dbs, events, ctx.now);
}
