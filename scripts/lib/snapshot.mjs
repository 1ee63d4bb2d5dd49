// A frozen copy of the worker's sources for one bench run. Others may be editing src/ while
// the bench runs (minutes, or half an hour at 10M events): the query phase bundles from this
// copy and `wrangler dev --config <snapshot>/wrangler.toml` serves it, so every phase measures
// the same code, and wrangler's file watcher cannot reload the worker mid-measurement.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { join, relative } from "node:path";

const COPIED_FILES = ["wrangler.toml", "tsconfig.json", "package.json"];
const COPIED_DIRS = ["src", "migrations"];

function listFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out;
}

/** sha256 over the relative paths and contents of the given files. */
export function hashFiles(base, files) {
  const h = createHash("sha256");
  for (const f of files) {
    h.update(relative(base, f));
    h.update("\0");
    h.update(readFileSync(f));
    h.update("\0");
  }
  return h.digest("hex");
}

function git(root, args) {
  const r = spawnSync("git", args, { cwd: root, encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

export function snapshotSources(root, dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "scripts", "bench"), { recursive: true });
  for (const d of COPIED_DIRS) cpSync(join(root, d), join(dir, d), { recursive: true });
  for (const f of COPIED_FILES) if (existsSync(join(root, f))) copyFileSync(join(root, f), join(dir, f));
  // wrangler.toml's [assets] directory: the built front end when there is one (npm run build:web), else empty
  const assets = join(root, "dist", "web");
  if (existsSync(assets)) cpSync(assets, join(dir, "dist", "web"), { recursive: true });
  else mkdirSync(join(dir, "dist", "web"), { recursive: true });
  copyFileSync(join(root, "scripts", "bench", "queries.ts"), join(dir, "scripts", "bench", "queries.ts"));
  // module resolution from the copy (esbuild for the bench, wrangler's bundler) finds the project's packages
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
  const srcFiles = listFiles(join(dir, "src"));
  return {
    dir,
    config: join(dir, "wrangler.toml"),
    queriesEntry: join(dir, "scripts", "bench", "queries.ts"),
    srcHash: hashFiles(dir, srcFiles).slice(0, 16),
    /** what the rolled-up data depends on: schema, migrations, rollup */
    dataHash: hashFiles(dir, [...listFiles(join(dir, "migrations")), ...listFiles(join(dir, "src", "rollup")), join(dir, "src", "db", "schema.ts")]).slice(0, 16),
    gitHead: git(root, ["rev-parse", "--short", "HEAD"]),
    gitDirtySrc: (git(root, ["status", "--porcelain", "--", "src", "migrations", "wrangler.toml"]) ?? "") !== "",
  };
}

/** True when the live sources differ from the snapshot (someone edited them during the run). */
export function sourcesChanged(root, snapshot) {
  return hashFiles(root, listFiles(join(root, "src"))).slice(0, 16) !== snapshot.srcHash;
}
