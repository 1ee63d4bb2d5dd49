#!/usr/bin/env node
// `npm run build:web`: bundles the dashboard and the API reference into dist/web
// (scripts/lib/web-build.mjs). `npm run dev`, `npm test` and `.ci/run` run it first.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWeb } from "./lib/web-build.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const started = performance.now();
const { files } = await buildWeb(ROOT);
const list = Object.entries(files)
  .filter(([name]) => !name.endsWith(".LEGAL.txt"))
  .map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(1)} KiB`)
  .join(", ");
console.log(`build:web: dist/web in ${Math.round(performance.now() - started)} ms (${list})`);
