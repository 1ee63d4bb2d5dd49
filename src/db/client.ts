import type { SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import type { Db } from "../env";
import * as schema from "./schema";

export function createDb(d1: D1Database): Db {
  return drizzle(d1, { schema });
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
