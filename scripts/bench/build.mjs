// Bundles scripts/bench/queries.ts (which re-exports the real query builders from src/) into an
// ES module the bench can import under plain Node. `entry` is the copy inside the run's source
// snapshot (scripts/lib/snapshot.mjs), so it bundles the snapshot's src/.
import { build } from "esbuild";
import { pathToFileURL } from "node:url";

export async function buildQueries(entry, outfile) {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    outfile,
    external: ["cloudflare:*"],
    logLevel: "warning",
    // some dependencies are CommonJS; give them a require() inside the ESM bundle
    banner: { js: "import { createRequire as __benchRequire } from 'node:module'; const require = __benchRequire(import.meta.url);" },
  });
  return import(`${pathToFileURL(outfile).href}?t=${Date.now()}`);
}
