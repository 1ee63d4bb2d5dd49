import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { importJWK, SignJWT, type JWTPayload } from "jose";
import { createDb } from "../src/db/client";
import type { Bindings } from "../src/env";
import worker from "../src/index";
import { runRollup, type RollupOptions, type RollupResult } from "../src/rollup/rollup";
import { everyDatabase, jobDatabases, placeByHash, shardsOf } from "../src/db/shards";
import { allD1, applicationTables } from "./db-state";

export const ISSUER = "https://auth.test";
export const AUDIENCE = "loginpulse";
export const DAY_MS = 86_400_000;

interface TestKey {
  alg: "RS256" | "ES256" | "EdDSA";
  kid: string;
  privateJwk: Record<string, unknown>;
  publicJwk: Record<string, unknown>;
}
const signing = JSON.parse(env.TEST_SIGNING_KEYS) as { keys: TestKey[]; stranger: TestKey };
export const testKeys = signing.keys;
export const strangerKey = signing.stranger;

export interface TokenOptions {
  claims?: JWTPayload & Record<string, unknown>;
  key?: TestKey;
  /** Overrides the protected header (kid/alg) after signing with `key`. */
  header?: Record<string, unknown>;
  expiresIn?: string | number;
  issuer?: string | null;
  audience?: string | null;
  notBefore?: string | number;
}

export async function token(opts: TokenOptions = {}): Promise<string> {
  const key = opts.key ?? testKeys[0];
  const jwt = new SignJWT({ sub: "user_test", ...opts.claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...opts.header })
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? "10m");
  if (opts.issuer !== null) jwt.setIssuer(opts.issuer ?? ISSUER);
  if (opts.audience !== null) jwt.setAudience(opts.audience ?? AUDIENCE);
  if (opts.notBefore !== undefined) jwt.setNotBefore(opts.notBefore);
  return jwt.sign(await importJWK(key.privateJwk, key.alg));
}

export const orgToken = (org: string, claims: Record<string, unknown> = {}) => token({ claims: { org, ...claims } });
export const platformToken = () => token({ claims: { is_platform_owner: true } });
export const ingestToken = (org?: string) => token({ claims: { scope: "events:write", ...(org ? { org } : {}) } });

export function request(path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("authorization", `Bearer ${init.token}`);
  return exports.default.fetch(new Request(`https://loginpulse.test${path}`, { ...init, headers }));
}

/**
 * The same request through the worker's default export, with some bindings replaced:
 * a failing D1, a strict rate limiter, a remote JWKS_URL, allowed CORS origins.
 */
export async function requestWith(overrides: Partial<Bindings & Cloudflare.Env>, path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("authorization", `Bearer ${init.token}`);
  const ctx = createExecutionContext();
  try {
    return await worker.fetch(new Request(`https://loginpulse.test${path}`, { ...init, headers }), { ...env, ...overrides }, ctx);
  } finally {
    await waitOnExecutionContext(ctx);
  }
}

export async function getJson<T = unknown>(path: string, tok: string, overrides?: Partial<Bindings & Cloudflare.Env>): Promise<{ status: number; body: T; res: Response }> {
  const res = overrides ? await requestWith(overrides, path, { token: tok }) : await request(path, { token: tok });
  return { status: res.status, body: (await res.json()) as T, res };
}

export interface EventInput {
  id: string;
  org: string;
  user_id: string;
  service_id: string;
  provider: string;
  created_at?: string;
  identity_type?: "human" | "machine";
  outcome?: "success" | "failure";
  service_name?: string;
  ip_address?: string;
  user_agent?: string;
  country?: string;
}

let writer: string | undefined;
/** POSTs events in batches of up to 1000 through the worker; asserts they were accepted. */
export async function ingest(events: EventInput[]): Promise<{ accepted: number; duplicates: number }> {
  writer ??= await ingestToken();
  const total = { accepted: 0, duplicates: 0 };
  for (let i = 0; i < events.length; i += 1000) {
    const res = await request("/api/events", {
      method: "POST",
      token: writer,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ events: events.slice(i, i + 1000) }),
    });
    const body = (await res.json()) as { accepted: number; duplicates: number };
    if (res.status !== 202) throw new Error(`ingest failed: ${res.status} ${JSON.stringify(body)}`);
    total.accepted += body.accepted;
    total.duplicates += body.duplicates;
  }
  return total;
}

/**
 * The test's databases (src/db/shards.ts): `DB`, plus `DB_SHARD_1` when the file runs in
 * the sharded project (vitest.config.ts). Tests that look inside storage go through
 * these, so every test holds with organizations spread over two databases as with one.
 */
export const testDatabases = () => jobDatabases(env as Bindings);
/** Every database's binding. */
export { allD1 };
/** The primary database (`DB`): the directory, dead letters and platform reports live there. */
export const testDb = () => createDb(env.DB);
/** The database holding an organization (`DB` for one it does not know). */
export const orgDb = (org: string) => testDatabases().forOrg(org);
export const orgD1 = async (org: string) => (await orgDb(org)).$client;
/**
 * The binding name of an organization's database (`DB`, or `DB_SHARD_1` when sharded): its
 * directory entry, or where its first event will place it (src/db/shards.ts).
 */
export async function orgShard(org: string): Promise<string> {
  const names = shardsOf(env as Bindings).map((s) => s.name);
  if (names.length === 1) return names[0];
  const row = await env.DB.prepare("SELECT shard FROM org_directory WHERE slug = ?").bind(org).first<{ shard: string }>();
  return row?.shard ?? placeByHash(org, names);
}
/** Whether the file runs with two databases (the sharded project, vitest.config.ts). */
export const SHARDED = shardsOf(env as Bindings).length > 1;

/**
 * Organization slugs placed like `reference` (src/db/shards.ts places a new organization by
 * the hash of its slug): the first `make(k)`, k = 0, 1, …, whose i-th slug lands in the same
 * database as the i-th reference slug. Fault tests replay a run's calls on new organizations,
 * which must live where the reference's did. With one database, `make(0)`.
 */
export function placedLike(make: (k: number) => string[], reference: string[]): string[] {
  const names = shardsOf(env as Bindings).map((s) => s.name);
  const want = reference.map((slug) => placeByHash(slug, names)).join();
  for (let k = 0; k < 10_000; k++) {
    const slugs = make(k);
    if (slugs.map((slug) => placeByHash(slug, names)).join() === want) return slugs;
  }
  throw new Error(`no slugs placed like ${reference.join(", ")}`);
}

/** A D1 binding that is down: every call fails as D1 does when it is unavailable. */
export function unavailableD1(): D1Database {
  const fail = { prepare: () => { throw new Error("D1_ERROR: Network connection lost."); }, batch: () => Promise.reject(new Error("D1_ERROR: Network connection lost.")), getBookmark: () => null };
  return { ...fail, withSession: () => fail } as unknown as D1Database;
}

/** Rows of one query run in every database, concatenated. */
export async function rowsEverywhere<T>(query: string, ...params: unknown[]): Promise<T[]> {
  const parts = await Promise.all(allD1().map((d1) => d1.prepare(query).bind(...params).all<T>()));
  return parts.flatMap((p) => p.results);
}

/** A `SELECT COUNT(*) AS n …` summed over every database. */
export async function countEverywhere(query: string, ...params: unknown[]): Promise<number> {
  return (await rowsEverywhere<{ n: number }>(query, ...params)).reduce((sum, r) => sum + r.n, 0);
}

/** Dirty (org, day) pairs the rollup still owes, in every database: days up to today (later ones wait until they come). */
export const dueDirtyDays = (now = Date.now()) => countEverywhere("SELECT COUNT(*) AS n FROM dirty_days WHERE day <= ?1", Math.floor(now / DAY_MS));

/** The rollup in every database, as the cron runs it; counts summed, complete when all are. */
export async function rollup(options?: RollupOptions): Promise<RollupResult> {
  const parts = await everyDatabase(testDatabases(), (db) => runRollup(db, options));
  return parts.reduce((sum, p) => ({
    foldedEvents: sum.foldedEvents + p.foldedEvents,
    recomputedDays: sum.recomputedDays + p.recomputedDays,
    batches: sum.batches + p.batches,
    complete: sum.complete && p.complete,
    watermark: Math.max(sum.watermark, p.watermark),
  }));
}

export const iso = (date: string, time = "12:00:00") => `${date}T${time}Z`;
export const todayDate = () => new Date().toISOString().slice(0, 10);
export const addDays = (date: string, n: number) => new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);

/**
 * Events dated relative to today for one organization: `at(daysAgo, time)` is an RFC 3339
 * time that many UTC days ago, `login(user, daysAgo, extra)` an event with id `<prefix>-<n>`.
 */
export function relativeLogins(org: string, idPrefix: string) {
  const today = Math.floor(Date.now() / DAY_MS);
  let seq = 0;
  const at = (daysAgo: number, time = "12:00:00") => `${new Date((today - daysAgo) * DAY_MS).toISOString().slice(0, 10)}T${time}Z`;
  const login = (user: string, daysAgo: number, extra: Partial<EventInput> = {}): EventInput => ({
    id: `${idPrefix}-${++seq}`,
    org,
    user_id: user,
    service_id: "web",
    provider: "github",
    created_at: at(daysAgo),
    ...extra,
  });
  return { today, at, login };
}

/** Empties every table of every database, and of `extra` ones (the migrations stay applied). */
export async function resetDatabases(extra: D1Database[] = []) {
  for (const d1 of [...allD1(), ...extra]) {
    // foreign keys are checked at commit, when every table is empty
    // and AUTOINCREMENT starts again from 1 (login_events.seq, as in a new database)
    await d1.batch([
      d1.prepare("PRAGMA defer_foreign_keys = ON"),
      ...(await applicationTables(d1)).map((t) => d1.prepare(`DELETE FROM "${t}"`)),
      d1.prepare("DELETE FROM sqlite_sequence"),
    ]);
  }
}
