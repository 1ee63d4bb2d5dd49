#!/usr/bin/env node
// Two versions of the read queries on the same data: each read's real query function from two
// bundles of src/ (the bench's `.bench*/queries.mjs` is the sources it ran; `node
// scripts/bench/compare.mjs --build <out.mjs>` bundles the working tree's), each on its own copy
// of a database (so the newer copy can carry newer migrations), through the bench's D1 shim.
// Prints the median of --reps runs per read and whether the two answers are equal.
//
//   cp .bench10m/cache/<key>.sqlite /tmp/old.sqlite && cp /tmp/old.sqlite /tmp/new.sqlite
//   (apply the newer migrations to /tmp/new.sqlite), then
//   node scripts/bench/compare.mjs --build /tmp/new-queries.mjs
//   node --no-warnings scripts/bench/compare.mjs /tmp/old.sqlite /tmp/new.sqlite .bench10m/queries.mjs /tmp/new-queries.mjs [read …]
//
// Options: --org <slug> (default the largest, bench-org-0000), --days <n> (365), --reps <n> (7),
// --statements (the newer version's statements with their times).
import { DatabaseSync } from "node:sqlite";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildQueries } from "./build.mjs";
import { createD1Shim } from "./d1-shim.mjs";
import { ENDPOINTS, readContext } from "./endpoints.mjs";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { build: { type: "string" }, org: { type: "string", default: "bench-org-0000" }, days: { type: "string", default: "365" }, reps: { type: "string", default: "7" }, statements: { type: "boolean", default: false } },
});
if (values.build) {
  await buildQueries(join(import.meta.dirname, "queries.ts"), resolve(values.build));
  process.exit(0);
}
const [oldFile, newFile, oldQ, newQ, ...names] = positionals;
if (!newQ) {
  console.error("usage: compare.mjs <old.sqlite> <new.sqlite> <old-queries.mjs> <new-queries.mjs> [read …]  (or --build <out.mjs>)");
  process.exit(2);
}
const versions = [
  { name: "old", q: await import(resolve(oldQ)), file: oldFile },
  { name: "new", q: await import(resolve(newQ)), file: newFile },
];
const statements = [];
for (const v of versions) {
  const shim = createD1Shim(new DatabaseSync(v.file), { onStatement: (sql, _params, ms) => v.name === "new" && statements.push({ sql, ms }) });
  v.db = v.q.createDb(shim);
}
const ctx = readContext(versions[1].q, values.org, Date.now(), Number(values.days));
const reps = Number(values.reps);
for (const ep of ENDPOINTS.filter((e) => names.length === 0 || names.includes(e.name))) {
  const out = {};
  for (const v of versions) {
    const c = { ...ctx, q: v.q };
    const times = [];
    let answer;
    statements.length = 0;
    for (let i = 0; i < reps; i++) {
      const t = performance.now();
      answer = await ep.ours(v.q, v.db, c);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    out[v.name] = { ms: times[Math.floor(times.length / 2)], answer: JSON.stringify(ep.normOurs(answer, c)) };
    if (v.name === "new" && values.statements) {
      for (const s of statements.slice(-statements.length / reps)) console.log(`    ${s.ms.toFixed(2).padStart(8)} ms  ${s.sql.replace(/\s+/g, " ").slice(0, 100)}`);
    }
  }
  const ratio = out.old.ms / out.new.ms;
  console.log(`${ep.name.padEnd(26)} old ${out.old.ms.toFixed(2).padStart(9)} ms   new ${out.new.ms.toFixed(2).padStart(9)} ms   ${ratio.toFixed(1)}x   ${out.old.answer === out.new.answer ? "equal" : "DIFFERENT"}`);
}
