import { sql } from "drizzle-orm";
import { type Bindings, type Db, loadConfig } from "../env";
import { ApiError } from "../errors";
import { createDb, isBookmark, namedBatch, sessionFor } from "./client";
import { orgDirectory, organizations } from "./schema";

/**
 * Organizations sharded across D1 databases (README, "Scaling out").
 *
 * The databases are the worker's D1 bindings `DB` (the primary, always present) and any
 * `DB_SHARD_1`, `DB_SHARD_2`, … (all with the same migrations). Each organization lives in
 * exactly one of them, named by the directory table `org_directory` in `DB`:
 *
 *   - an organization with no directory row lives in `DB` (so one database needs no
 *     directory at all, and every organization created before sharding stays put);
 *   - a new organization is placed when its first event (or inventory) arrives: by an FNV-1a
 *     hash of its slug over the shards open to new organizations (`SHARDS_FOR_NEW_ORGS`,
 *     default every bound database), recorded with INSERT … ON CONFLICT DO NOTHING and read
 *     back, so concurrent first writes agree on one shard;
 *   - a row never changes, so the worker caches it for the isolate's lifetime: an
 *     organization's reads and writes cost their one round trip to their shard, plus one
 *     directory lookup the first time an isolate meets the organization.
 *
 * With only `DB` bound, nothing here runs: no directory read or write, no extra round trip.
 */

export const PRIMARY = "DB";
const SHARD_BINDING = /^DB_SHARD_([1-9][0-9]{0,3})$/;

export interface Shard {
  name: string;
  d1: D1Database;
}

/** `DB` first, then `DB_SHARD_n` in numeric order. */
export function shardsOf(env: Bindings): Shard[] {
  const extra = Object.keys(env)
    .map((name) => ({ name, m: SHARD_BINDING.exec(name) }))
    .filter((s): s is { name: string; m: RegExpExecArray } => s.m !== null && isD1(env[s.name as keyof Bindings]))
    .sort((a, b) => Number(a.m[1]) - Number(b.m[1]))
    .map(({ name }) => ({ name, d1: env[name as keyof Bindings] as unknown as D1Database }));
  return [{ name: PRIMARY, d1: env.DB }, ...extra];
}

const isD1 = (v: unknown) => typeof v === "object" && v !== null && typeof (v as D1Database).prepare === "function" && typeof (v as D1Database).batch === "function";

/** 32-bit FNV-1a over the slug's UTF-8 bytes (slugs are ASCII). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The placement policy for a new organization: its slug's hash over the open shards. */
export function placeByHash(slug: string, open: string[]): string {
  return open[fnv1a(slug) % open.length];
}

/** Directory rows seen by this isolate (they never change). Keyed by slug. */
const directoryCache = new Map<string, string>();

/**
 * A bookmark per database from `x-d1-bookmark`: `NAME=bookmark` entries, comma-separated (a
 * bare bookmark is `DB`'s, as with one database). Malformed entries are ignored.
 */
export function parseBookmarks(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? "").split(",")) {
    const entry = part.trim();
    if (!entry) continue;
    const eq = entry.indexOf("=");
    const [name, bookmark] = eq < 0 ? [PRIMARY, entry] : [entry.slice(0, eq), entry.slice(eq + 1)];
    if (isBookmark(bookmark)) out.set(name, bookmark);
  }
  return out;
}

/**
 * The databases one request (or one job) uses. Requests run each database they touch in
 * one D1 session (reads may come from a replica no older than the client's bookmark for
 * that database; writes start on the primary), and `bookmarkHeader()` returns every
 * database's latest bookmark for the client's next request. Jobs use the bindings directly.
 */
export class Databases {
  readonly shards: Shard[];
  private readonly sessions = new Map<string, { db: Db; session?: D1DatabaseSession }>();
  private readonly bookmarks: Map<string, string>;

  constructor(
    env: Bindings,
    private readonly mode: "read" | "write" | "job",
    bookmarkHeader?: string,
    /** SHARDS_FOR_NEW_ORGS: where new organizations may go (empty: every bound database). */
    private readonly openToNew: string[] = [],
  ) {
    this.shards = shardsOf(env);
    this.bookmarks = parseBookmarks(bookmarkHeader);
  }

  get sharded(): boolean {
    return this.shards.length > 1;
  }

  /** The database bound as `name`, opened once per request. */
  db(name: string): Db {
    let open = this.sessions.get(name);
    if (!open) {
      const shard = this.shards.find((s) => s.name === name);
      if (!shard) throw new ApiError("DATABASE_UNAVAILABLE", `Database ${name} is named by the organization directory but not bound to this worker`);
      if (this.mode === "job") open = { db: createDb(shard.d1) };
      else {
        const session = sessionFor(shard.d1, this.mode, this.bookmarks.get(name));
        open = { db: createDb(session), session };
      }
      this.sessions.set(name, open);
    }
    return open.db;
  }

  get primary(): Db {
    return this.db(PRIMARY);
  }

  /** Every database, `DB` first. */
  all(): { name: string; db: Db }[] {
    return this.shards.map((s) => ({ name: s.name, db: this.db(s.name) }));
  }

  /** The database holding an organization (for reads: an unknown organization is `DB`'s to answer 404). */
  async forOrg(slug: string): Promise<Db> {
    return this.db(await this.shardOf(slug));
  }

  /** The binding name of the database holding an organization (`DB` when the directory has no row). */
  async shardOf(slug: string): Promise<string> {
    if (!this.sharded) return PRIMARY;
    const cached = directoryCache.get(slug);
    if (cached !== undefined) return cached;
    const { row } = await namedBatch(this.primary, { row: sql`SELECT ${orgDirectory.shard} AS shard FROM ${orgDirectory} WHERE ${orgDirectory.slug} = ${slug}` });
    const shard = (row.results[0] as { shard: string } | undefined)?.shard;
    if (shard === undefined) return PRIMARY;
    directoryCache.set(slug, shard);
    return shard;
  }

  /**
   * The database of each organization, placing the new ones (for writes): one batch in `DB`
   * for the organizations this isolate has not met, nothing for the others.
   */
  async placeOrgs(slugs: Iterable<string>): Promise<Map<string, string>> {
    const placed = new Map<string, string>();
    if (!this.sharded) {
      for (const slug of slugs) placed.set(slug, PRIMARY);
      return placed;
    }
    const unknown: string[] = [];
    for (const slug of new Set(slugs)) {
      const shard = directoryCache.get(slug);
      if (shard === undefined) unknown.push(slug);
      else placed.set(slug, shard);
    }
    if (unknown.length > 0) {
      const bound = this.shards.map((s) => s.name);
      const closed = this.openToNew.filter((name) => !bound.includes(name));
      if (closed.length > 0) throw new ApiError("DATABASE_UNAVAILABLE", `SHARDS_FOR_NEW_ORGS names ${closed.join(", ")}, which this worker does not bind`);
      const open = this.openToNew.length > 0 ? this.openToNew : bound;
      const proposals = JSON.stringify(unknown.map((slug) => [slug, placeByHash(slug, open)]));
      const { rows } = await namedBatch(this.primary, {
        // An organization already in DB (created before sharding) stays there.
        place: sql`INSERT INTO ${orgDirectory} (slug, shard, placed_at)
          SELECT p.value ->> 0,
            CASE WHEN EXISTS (SELECT 1 FROM ${organizations} o WHERE o.slug = p.value ->> 0) THEN ${PRIMARY} ELSE p.value ->> 1 END,
            ${Date.now()}
          FROM json_each(${proposals}) p WHERE true
          ON CONFLICT (slug) DO NOTHING`,
        rows: sql`SELECT slug, shard FROM ${orgDirectory} WHERE slug IN (SELECT p.value ->> 0 FROM json_each(${proposals}) p)`,
      });
      for (const { slug, shard } of rows.results as { slug: string; shard: string }[]) {
        directoryCache.set(slug, shard);
        placed.set(slug, shard);
      }
    }
    return placed;
  }

  /** Every database's latest bookmark (a bare bookmark with one database, as the header always was). */
  bookmarkHeader(): string | undefined {
    if (!this.sharded) return this.sessions.get(PRIMARY)?.session?.getBookmark() ?? undefined;
    for (const [name, open] of this.sessions) {
      const bookmark = open.session?.getBookmark();
      if (bookmark) this.bookmarks.set(name, bookmark);
    }
    const names = this.shards.map((s) => s.name).filter((n) => this.bookmarks.has(n));
    return names.length > 0 ? names.map((n) => `${n}=${this.bookmarks.get(n)}`).join(",") : undefined;
  }
}

/** The databases of a scheduled or queue job: the bindings themselves, no sessions. */
export function jobDatabases(env: Bindings): Databases {
  return new Databases(env, "job", undefined, loadConfig(env).SHARDS_FOR_NEW_ORGS);
}

/**
 * `work` in every database, in parallel; every database's work runs to its end even when
 * another fails (a broken shard does not cut the others short), then the first failure is
 * thrown. The results come in `dbs.all()` order.
 */
export async function everyDatabase<T>(dbs: Databases, work: (db: Db, name: string) => Promise<T>): Promise<T[]> {
  const outcomes = await Promise.allSettled(dbs.all().map(({ name, db }) => work(db, name)));
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
  if (failed) throw failed.reason;
  return outcomes.map((o) => (o as PromiseFulfilledResult<T>).value);
}
