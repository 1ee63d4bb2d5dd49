import { env } from "cloudflare:test";
import { shardsOf } from "../src/db/shards";
import type { Bindings } from "../src/env";

/**
 * A D1Database that counts its calls and can fail one of them, for fault-injection tests.
 *
 * A "call" is one round trip: each `batch()`, each `exec()`, and each execution of a
 * prepared statement (`first`, `all`, `run`, `raw`). Call number `fault.call` (1-based)
 * then fails in one of three ways:
 *
 *   before  throws a D1-unavailable error without executing anything;
 *   after   executes for real, then throws: the commit happened but the answer was lost;
 *   midway  (batches only) executes the real batch with a statement that really fails
 *           (a NOT NULL violation) inserted in the middle, so D1 itself rolls the
 *           transaction back, then throws a D1-unavailable error.
 */

export type FaultMode = "before" | "after" | "midway";
export const FAULT_MODES: readonly FaultMode[] = ["before", "after", "midway"];

export type CallKind = "batch" | "exec" | "first" | "all" | "run" | "raw";

export type Fault = {
  mode: FaultMode;
  /** What the failing call throws; default: one of the D1-unavailable messages below. */
  error?: Error;
} & (
  | {
      /** 1-based index of the call to fail, counted in `database`'s calls. */
      call: number;
      /** The database (binding name) whose call fails: `DB` unless the suite runs sharded. */
      database?: string;
    }
  | {
      /** Or: the first call, in any database, that this picks. */
      when: (call: { kind: CallKind; sql: string }) => boolean;
    }
);

/** Messages D1 really gives when it is unavailable (overload, network, storage reset). */
export const D1_UNAVAILABLE_MESSAGES = [
  "D1_ERROR: Network connection lost.",
  "D1 DB is overloaded. Requests queued for too long.",
  "D1_ERROR: Internal error in D1 DB storage caused object to be reset.",
] as const;
export const D1_UNAVAILABLE = /Network connection lost|D1 DB is overloaded|caused object to be reset/;

/** A statement that fails at execution time inside the transaction, never at prepare time. */
const POISON_SQL = "INSERT INTO organizations (slug, created_at) VALUES (NULL, 0)";

export class FaultyD1 implements D1Database {
  /** This database's calls so far, in order: calls[k - 1] is its call number k. */
  readonly calls: { kind: CallKind; sql: string }[] = [];
  /** Whether the fault was injected here (this database reached call number fault.call). */
  private injected = false;
  /**
   * The worker's database bindings with every database wrapped: this one as `DB`, and each
   * other bound database (`DB_SHARD_n` when the suite runs sharded) by a sibling with the
   * same fault plan. Calls are numbered per database: a database's calls come in a fixed
   * order, while requests and jobs interleave databases' calls as their answers arrive.
   */
  readonly bindings: Record<string, D1Database>;

  constructor(
    readonly real: D1Database,
    private readonly fault?: Fault,
    readonly database = "DB",
    private readonly root?: FaultyD1,
  ) {
    this.bindings = root
      ? {}
      : Object.fromEntries(
          shardsOf({ ...env, [database]: real } as Bindings).map((s) => [s.name, s.name === database ? this : new FaultyD1(s.d1, fault, s.name, this)]),
        );
  }

  private get family(): FaultyD1[] {
    return Object.values(this.bindings) as FaultyD1[];
  }

  /** Whether the fault was injected in any database. */
  get fired(): boolean {
    return this.family.some((d) => d.injected);
  }

  /** Every database's calls, each with its database and its number there. */
  get everyCall(): { database: string; call: number; kind: CallKind; sql: string }[] {
    return this.family.flatMap((d) => d.calls.map((c, i) => ({ database: d.database, call: i + 1, ...c })));
  }

  /** One database's calls (by binding name). */
  callsOf(database = "DB"): { kind: CallKind; sql: string }[] {
    return (this.family.find((d) => d.database === database) ?? this).calls;
  }

  prepare(query: string): D1PreparedStatement {
    return new FaultyStatement(this, this.real.prepare(query), query);
  }

  batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
    const real = statements.map(unwrap);
    const middle = Math.max(1, Math.floor(real.length / 2));
    const poisoned = () => this.real.batch([...real.slice(0, middle), this.real.prepare(POISON_SQL), ...real.slice(middle)]);
    return this.intercept("batch", statements.map((s) => (s instanceof FaultyStatement ? s.sql : "?")).join(";\n"), () => this.real.batch<T>(real), poisoned);
  }

  exec(query: string): Promise<D1ExecResult> {
    return this.intercept("exec", query, () => this.real.exec(query));
  }

  /** The app runs each request in a session: the session's calls go through this same fault plan. */
  withSession(): D1DatabaseSession {
    return { prepare: (query) => this.prepare(query), batch: (statements) => this.batch(statements), getBookmark: () => null } as D1DatabaseSession;
  }

  dump(): Promise<ArrayBuffer> {
    return this.real.dump();
  }

  /** Counts one call and applies the fault if it is this one. */
  async intercept<T>(kind: CallKind, sql: string, execute: () => Promise<T>, poisoned?: () => Promise<unknown>): Promise<T> {
    const n = this.calls.push({ kind, sql });
    const fault = this.fault;
    const hit =
      fault !== undefined &&
      ("when" in fault ? !(this.root ?? this).fired && fault.when({ kind, sql }) : fault.call === n && (fault.database ?? "DB") === this.database);
    if (!hit) return execute();
    this.injected = true;
    const error = fault.error ?? new Error(D1_UNAVAILABLE_MESSAGES[n % D1_UNAVAILABLE_MESSAGES.length]);
    switch (fault.mode) {
      case "before":
        throw error;
      case "after":
        await execute();
        throw error;
      case "midway": {
        if (!poisoned) throw new Error(`FaultyD1: "midway" applies to batches; call ${n} is ${kind}`);
        let failed = false;
        try {
          await poisoned();
        } catch (err) {
          if (!/NOT NULL constraint failed/.test((err as Error).message)) throw err;
          failed = true;
        }
        if (!failed) throw new Error("FaultyD1: the poisoned batch did not fail");
        throw error;
      }
    }
  }
}

class FaultyStatement implements D1PreparedStatement {
  constructor(
    private readonly db: FaultyD1,
    readonly real: D1PreparedStatement,
    readonly sql: string,
  ) {}

  bind(...values: unknown[]): D1PreparedStatement {
    return new FaultyStatement(this.db, this.real.bind(...values), this.sql);
  }

  first<T = unknown>(colName: string): Promise<T | null>;
  first<T = Record<string, unknown>>(): Promise<T | null>;
  first<T>(colName?: string): Promise<T | null> {
    return this.db.intercept("first", this.sql, () => (colName === undefined ? this.real.first<T>() : this.real.first<T>(colName)));
  }

  run<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    return this.db.intercept("run", this.sql, () => this.real.run<T>());
  }

  all<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    return this.db.intercept("all", this.sql, () => this.real.all<T>());
  }

  raw<T = unknown[]>(options: { columnNames: true }): Promise<[string[], ...T[]]>;
  raw<T = unknown[]>(options?: { columnNames?: false }): Promise<T[]>;
  raw<T = unknown[]>(options?: { columnNames?: boolean }): Promise<T[] | [string[], ...T[]]> {
    return this.db.intercept<T[] | [string[], ...T[]]>("raw", this.sql, () =>
      options?.columnNames ? this.real.raw<T>({ columnNames: true }) : this.real.raw<T>({ columnNames: false }),
    );
  }
}

/** The real statement behind one prepared through the wrapper (the real batch() accepts only its own). */
function unwrap(statement: D1PreparedStatement): D1PreparedStatement {
  return statement instanceof FaultyStatement ? statement.real : statement;
}
