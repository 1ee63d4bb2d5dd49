#!/usr/bin/env node
// Runs shell commands at the same time (npm test: the two load tests and the browser test, each
// on its own wrangler dev, port and temp dir), each line of their output prefixed with the
// command's number; waits for all of them (a failing one does not stop the others, so each
// still stops its wrangler and removes its temp dir), then prints each one's exit status and
// time and exits 1 if any failed.
//
//   node scripts/concurrently.mjs "npm run test:load" "npm run test:browser"
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const commands = process.argv.slice(2);
if (commands.length === 0) {
  console.error("usage: node scripts/concurrently.mjs <command> [<command> …]");
  process.exit(2);
}

const t0 = performance.now();
const results = await Promise.all(
  commands.map(
    (command, i) =>
      new Promise((resolve) => {
        const tag = `[${i + 1}]`;
        console.log(`${tag} $ ${command}`);
        const started = performance.now();
        const child = spawn(command, { shell: true, stdio: ["ignore", "pipe", "pipe"] });
        for (const [stream, out] of [
          [child.stdout, process.stdout],
          [child.stderr, process.stderr],
        ]) {
          createInterface({ input: stream }).on("line", (line) => out.write(`${tag} ${line}\n`));
        }
        child.on("error", (err) => resolve({ command, tag, code: 1, signal: null, error: err, seconds: (performance.now() - started) / 1000 }));
        child.on("close", (code, signal) => resolve({ command, tag, code, signal, seconds: (performance.now() - started) / 1000 }));
      }),
  ),
);

console.log(`\nconcurrently: ${commands.length} commands in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
for (const r of results) {
  const status = r.error ? `could not start: ${r.error.message}` : r.signal ? `killed by ${r.signal}` : r.code === 0 ? "passed" : `failed (exit ${r.code})`;
  console.log(`  ${r.tag} ${status} in ${r.seconds.toFixed(1)} s: ${r.command}`);
}
process.exit(results.every((r) => !r.error && !r.signal && r.code === 0) ? 0 : 1);
