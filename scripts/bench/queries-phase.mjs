// Query cost through the D1 shim: ours (the real query functions) vs the reference shapes,
// same SQLite engine, same data, interleaved so machine noise hits both alike.
import { firstDifference } from "./endpoints.mjs";
import { median } from "./stats.mjs";

const now = () => performance.now();

/**
 * Measures every endpoint. With `reference` the reference shapes are timed too and their
 * normalized answers returned; otherwise ours are compared with `expected` (answers of an
 * earlier run over the same events). `keepAnswers` returns ours (normalized) as `oursAnswer`.
 */
export async function measureQueries({ q, qdb, shim, sqlite, ctx, endpoints, budgetMs, oursMaxReps = 15, refReps, reference, expected, keepAnswers = false, capture, log }) {
  const run = async (sql, params) => (await shim.prepare(sql).bind(...params).all()).results;
  const out = [];
  for (const ep of endpoints) {
    // warm-up + capture of the statements ours runs (for round trips and the slowest statement)
    const tripsBefore = shim.stats.roundTrips;
    capture.length = 0;
    const first = await ep.ours(q, qdb, ctx);
    const roundTrips = shim.stats.roundTrips - tripsBefore;
    const statements = capture.splice(0);
    const slowest = statements.reduce((a, b) => (b.ms > a.ms ? b : a), statements[0]);
    const oursAnswer = ep.normOurs(first, ctx);

    const oursSamples = [];
    const refSamples = [];
    let refAnswer;
    const oursRound = async (n) => {
      for (let i = 0; i < n; i++) {
        const t = now();
        await ep.ours(q, qdb, ctx);
        oursSamples.push(now() - t);
      }
    };
    if (reference) {
      const perRound = Math.max(1, Math.ceil(oursMaxReps / refReps));
      let refSpent = 0;
      for (let r = 0; r < refReps; r++) {
        // the reference is slow: stop once it has used the budget (it always runs at least once)
        if (r > 0 && refSpent + refSpent / r > Math.max(budgetMs, 1)) break;
        const t = now();
        const answer = await ep.ref(run, ctx);
        const ms = now() - t;
        refSpent += ms;
        refSamples.push(ms);
        refAnswer ??= ep.normRef(answer, ctx);
        await oursRound(perRound);
      }
    }
    const oursStart = now();
    while (oursSamples.length < oursMaxReps && (oursSamples.length < Math.min(3, oursMaxReps) || now() - oursStart < budgetMs)) await oursRound(1);

    const against = reference ? refAnswer : expected?.[ep.name];
    const diff = against === undefined ? "no reference answer" : firstDifference(oursAnswer, against);
    const row = {
      name: ep.name,
      seed: !!ep.seed,
      platform: !!ep.platform,
      rawByDesign: !!ep.rawByDesign,
      oursMs: median(oursSamples),
      oursSamples: oursSamples.length,
      roundTrips,
      statements: statements.length,
      slowest: slowest && { ms: slowest.ms, sql: slowest.sql, params: slowest.params, plan: explain(sqlite, slowest) },
      refMs: reference ? median(refSamples) : undefined,
      refSamples: refSamples.length,
      equal: diff === null,
      diff,
      refAnswer,
      ...(keepAnswers ? { oursAnswer } : {}),
    };
    out.push(row);
    log?.(
      `  ${ep.name.padEnd(26)} ours ${row.oursMs.toFixed(2).padStart(9)} ms` +
        (reference ? `   reference ${row.refMs.toFixed(1).padStart(9)} ms   ${(row.refMs / row.oursMs).toFixed(1).padStart(7)}x` : "") +
        `   ${row.equal ? "answers equal" : against === undefined && keepAnswers ? "answer kept" : `DIFFERENT: ${diff}`}`,
    );
  }
  return out;
}

function explain(sqlite, stmt) {
  try {
    return sqlite
      .prepare(`EXPLAIN QUERY PLAN ${stmt.sql}`)
      .all(...stmt.params)
      .map((r) => `${r.id}/${r.parent} ${r.detail}`)
      .join("\n");
  } catch (err) {
    return `(EXPLAIN failed: ${err.message})`;
  }
}
