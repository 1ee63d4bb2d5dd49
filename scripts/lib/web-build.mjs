// The front end's build: esbuild bundles web/dashboard and web/docs (TypeScript, uPlot,
// Swagger UI and their CSS) into dist/web/assets, and copies the HTML shells and the icon.
// The worker serves dist/web through the ASSETS binding (wrangler.toml [assets]).
// File names are stable (dashboard.js, not dashboard-3f2a.js) so the worker's routes and
// tests can name them; pages and assets are served with `Cache-Control: no-cache`, so a
// browser revalidates with the ETag and a deploy shows at once.
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as esbuild from "esbuild";

const STATIC_FILES = [
  ["web/index.html", "index.html"],
  ["web/docs/docs.html", "docs.html"],
  ["web/favicon.svg", "assets/favicon.svg"],
];

function options(root, outdir) {
  return {
    absWorkingDir: root,
    entryPoints: { dashboard: "web/dashboard/main.ts", docs: "web/docs/main.ts" },
    outdir: join(outdir, "assets"),
    entryNames: "[name]",
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    legalComments: "linked",
    logLevel: "warning",
    // Swagger UI's bundle checks process.env.NODE_ENV.
    define: { "process.env.NODE_ENV": '"production"' },
  };
}

function copyStatic(root, outdir) {
  mkdirSync(join(outdir, "assets"), { recursive: true });
  for (const [from, to] of STATIC_FILES) copyFileSync(join(root, from), join(outdir, to));
}

/** One build into `outdir` (default dist/web): { outdir, files: { name: bytes } }. */
export async function buildWeb(root, outdir = join(root, "dist", "web")) {
  rmSync(outdir, { recursive: true, force: true });
  copyStatic(root, outdir);
  const result = await esbuild.build({ ...options(root, outdir), metafile: true });
  const files = Object.fromEntries(Object.entries(result.metafile.outputs).map(([file, out]) => [file.replace(/^.*dist\/web\//, ""), out.bytes]));
  return { outdir, files };
}

/** Builds once, then rebuilds on every change under web/ (for `npm run dev`); returns stop(). */
export async function watchWeb(root, outdir = join(root, "dist", "web"), onRebuild = () => {}) {
  await buildWeb(root, outdir);
  const ctx = await esbuild.context({
    ...options(root, outdir),
    plugins: [
      {
        name: "copy-static",
        setup(build) {
          build.onEnd((result) => {
            if (result.errors.length === 0) {
              copyStatic(root, outdir);
              onRebuild();
            }
          });
        },
      },
    ],
  });
  await ctx.watch();
  return () => ctx.dispose();
}
