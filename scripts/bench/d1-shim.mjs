// A D1Database look-alike over node:sqlite (DatabaseSync), enough for drizzle's D1 driver and
// src/db/client.ts: prepare(sql).bind(...).all()/first()/run()/raw(), batch() as one
// transaction, D1Result-shaped results ({ results, success, meta: { changes, ... } }).
//
// Binding follows D1: JS numbers bind as REAL (node:sqlite binds every JS number as a
// double, which is what D1 does too), booleans as 1/0, undefined is an error.
//
// `onStatement(sql, params, ms)` is called after every statement, so the bench can find the
// slow statement inside a batch and EXPLAIN it. `roundTrips` counts the calls that would each
// be one D1 round trip (a batch, or one statement's all/first/run/raw).

function toBindable(value, index) {
  if (value === undefined) throw new TypeError(`D1_TYPE_ERROR: Type 'undefined' not supported for value at index ${index}`);
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return value;
}

export function createD1Shim(db, { onStatement } = {}) {
  const cache = new Map();
  const totalChanges = db.prepare("SELECT total_changes() AS n");
  const lastRowId = db.prepare("SELECT last_insert_rowid() AS id");

  function compiled(sql) {
    let entry = cache.get(sql);
    if (!entry) {
      const stmt = db.prepare(sql);
      entry = { stmt, returnsRows: stmt.columns().length > 0 };
      cache.set(sql, entry);
    }
    return entry;
  }

  /** Executes one statement; returns { rows, changes, lastRowId, ms }. */
  function execute(sql, params, { arrays = false } = {}) {
    const { stmt, returnsRows } = compiled(sql);
    const started = performance.now();
    let rows = [];
    let changes = 0;
    let lastId = 0;
    if (returnsRows) {
      const before = totalChanges.get().n;
      stmt.setReturnArrays(arrays);
      try {
        rows = stmt.all(...params);
      } finally {
        stmt.setReturnArrays(false);
      }
      changes = totalChanges.get().n - before;
      if (changes > 0) lastId = lastRowId.get().id;
    } else {
      const r = stmt.run(...params);
      changes = Number(r.changes);
      lastId = Number(r.lastInsertRowid);
    }
    const ms = performance.now() - started;
    onStatement?.(sql, params, ms);
    return { rows, changes, lastId, ms };
  }

  const result = (r) => ({
    results: r.rows,
    success: true,
    meta: {
      duration: r.ms,
      changes: r.changes,
      last_row_id: r.lastId,
      changed_db: r.changes > 0,
      rows_read: 0,
      rows_written: r.changes,
      size_after: 0,
      served_by: "bench-shim",
    },
  });

  const stats = { roundTrips: 0 };

  class PreparedStatement {
    constructor(sql, params = []) {
      this.sql = sql;
      this.params = params;
    }
    bind(...values) {
      return new PreparedStatement(this.sql, values.map(toBindable));
    }
    async all() {
      stats.roundTrips++;
      return result(execute(this.sql, this.params));
    }
    async run() {
      stats.roundTrips++;
      return result(execute(this.sql, this.params));
    }
    async first(column) {
      stats.roundTrips++;
      const row = execute(this.sql, this.params).rows[0];
      if (row === undefined) return null;
      if (column === undefined) return row;
      if (!(column in row)) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`);
      return row[column];
    }
    async raw(options = {}) {
      stats.roundTrips++;
      const r = execute(this.sql, this.params, { arrays: true });
      if (!options.columnNames) return r.rows;
      return [compiled(this.sql).stmt.columns().map((c) => c.name), ...r.rows];
    }
  }

  return {
    stats,
    prepare(sql) {
      return new PreparedStatement(sql);
    },
    /** D1 runs a batch as one transaction: all statements commit or none do. */
    async batch(statements) {
      stats.roundTrips++;
      db.exec("BEGIN");
      try {
        const out = statements.map((s) => result(execute(s.sql, s.params)));
        db.exec("COMMIT");
        return out;
      } catch (err) {
        db.exec("ROLLBACK");
        throw err;
      }
    },
    async exec(sql) {
      const started = performance.now();
      db.exec(sql);
      return { count: sql.split(";").filter((s) => s.trim()).length, duration: performance.now() - started };
    },
    withSession() {
      return this;
    },
    async dump() {
      throw new Error("dump() is not supported by the bench shim");
    },
  };
}
