import type { SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import type { Db } from "../env";
import * as schema from "./schema";

/** A database or a Sessions API session (`DB.withSession(...)`): both prepare and batch. */
export type D1Handle = D1Database | D1DatabaseSession;

export function createDb(d1: D1Handle): Db {
  // drizzle's D1 driver only calls prepare() and batch(), which a session has too.
  return drizzle(d1 as D1Database, { schema });
}

/** Response/request header carrying a D1 Sessions API bookmark (read-your-writes across requests). */
export const BOOKMARK_HEADER = "x-d1-bookmark";

/** D1 bookmarks look like `0000003a-00000010-00004f4e-9f3c…` (hex groups); anything else is ignored. */
const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;
export const isBookmark = (text: string | undefined): text is string => text !== undefined && BOOKMARK.test(text);

/**
 * The session a request runs in. Reads may be served by a read replica
 * ("first-unconstrained"), but never one older than the bookmark the client sends back;
 * writes start on the primary ("first-primary"). Without read replication every session
 * is the primary, so this changes nothing for a single-database deployment. A missing or
 * malformed bookmark falls back to the constraint: never an error.
 */
export function sessionFor(d1: D1Database, kind: "read" | "write", bookmark: string | undefined): D1DatabaseSession {
  if (kind === "write") return d1.withSession("first-primary");
  return d1.withSession(isBookmark(bookmark) ? bookmark : "first-unconstrained");
}

const dialect = new SQLiteAsyncDialect();

function prepare(db: Db, query: SQL): D1PreparedStatement {
  const { sql, params } = dialect.sqlToQuery(query);
  return db.$client.prepare(sql).bind(...params);
}

/**
 * Runs drizzle `sql` statements as ONE D1 batch: one round trip, one
 * transaction (all statements commit or none do). Written against D1 directly
 * because drizzle's batch() cannot bind parameters of raw `sql` queries.
 */
export function batch(db: Db, statements: SQL[]): Promise<D1Result[]> {
  return db.$client.batch(statements.map((s) => prepare(db, s)));
}

/**
 * `batch` with named statements (run in the object's key order): results are read by
 * name, so adding or reordering a statement cannot shift which result a caller reads.
 */
export async function namedBatch<K extends string>(db: Db, statements: Record<K, SQL>): Promise<Record<K, D1Result>> {
  const names = Object.keys(statements) as K[];
  const results = await batch(db, names.map((n) => statements[n]));
  return Object.fromEntries(names.map((n, i) => [n, results[i]])) as Record<K, D1Result>;
}

export async function all<T>(db: Db, query: SQL): Promise<T[]> {
  return (await prepare(db, query).all<T>()).results;
}

export async function first<T>(db: Db, query: SQL): Promise<T | undefined> {
  return (await prepare(db, query).first<T>()) ?? undefined;
}
