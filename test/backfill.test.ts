import { env } from "cloudflare:test";
import fc from "fast-check";
import { loginEventArb } from "./arbitraries";
import { describe, expect, it } from "vitest";
import { addDays, allD1, DAY_MS, ingest, resetDatabases, rollup, todayDate } from "./helpers";

/**
 * The migrations that add a maintained table backfill it from what was already folded
 * (0003 the window deltas, 0006 the retention cells and organization logins, 0007 the 56-day
 * window, 0010 the count of identities with a first login), and from then on the fold keeps
 * it. Both must give the same rows, or a database
 * migrated with data would answer differently from one that folded the same events: for
 * random streams with late events, folded in small chunks, each table is rebuilt by its
 * migrations' INSERTs and compared with what the fold left.
 */

const BACKFILLED: { table: string; columns: string; rows?: string }[] = [
  { table: "active_window_deltas", columns: "org_id, identity_type, window_days, day, delta" },
  { table: "weekly_cohort_activity", columns: "org_id, identity_type, cohort_week, week, active" },
  { table: "daily_org_logins", columns: "org_id, day, logins" },
  { table: "rollup_state", columns: "key, value", rows: "key = 'identities_with_login'" },
];

/** The migration statements that insert into `table`, in migration order. */
function backfillStatements(table: string): string[] {
  const statements = env.TEST_MIGRATIONS.flatMap((m) => m.queries).filter((q) => q.includes(`INSERT INTO \`${table}\``));
  expect(statements.length, `backfills of ${table}`).toBeGreaterThan(0);
  return statements;
}

const base = Math.floor(Date.parse(`${addDays(todayDate(), -120)}T00:00:00Z`) / DAY_MS);

const eventArb = loginEventArb({ orgs: ["org-a", "org-b"], ids: 301, users: 10, firstDay: base, days: 120 });

describe("backfill migrations", () => {
  it("rebuild exactly the rows the fold maintains", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(eventArb, { minLength: 1, maxLength: 60 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 40 }), async (batches, eventChunk) => {
        await resetDatabases();
        // each batch folded before the next arrives: later batches bring late events into folded days
        for (const batch of batches) {
          await ingest(batch);
          expect((await rollup({ eventChunk })).complete).toBe(true);
        }
        for (const d1 of allD1()) {
          for (const { table, columns, rows = "true" } of BACKFILLED) {
            const query = `SELECT ${columns} FROM ${table} WHERE ${rows} ORDER BY ${columns}`;
            const folded = (await d1.prepare(query).all()).results;
            await d1.prepare(`DELETE FROM ${table} WHERE ${rows}`).run();
            for (const statement of backfillStatements(table)) await d1.prepare(statement).run();
            expect((await d1.prepare(query).all()).results, table).toEqual(folded);
          }
        }
      }),
      { numRuns: 15 },
    );
  }, 120_000);
});
