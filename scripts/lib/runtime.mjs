// The local-runtime phase: `wrangler dev` serving the bench's D1 file (--persist-to), and
// sequential HTTP measurements against it.
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { percentile } from "../bench/stats.mjs";

/** Runs one wrangler command to completion (migrations, d1 execute); returns its stdout, throws on failure. */
export function runWrangler(wrangler, cwd, args) {
  const r = spawnSync(process.execPath, [wrangler, ...args], {
    cwd,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
  });
  if (r.status !== 0) throw new Error(`wrangler ${args.join(" ")} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts wrangler dev in its own process group; returns { base, stop(), output() }.
 * extraArgs (optional) are appended to the `wrangler dev` arguments, e.g. ["--test-scheduled"].
 */
export async function startWrangler({ node, wrangler, cwd, config, persistTo, varsFile, port, log, extraArgs = [] }) {
  const inspectorPort = await freePort();
  const args = [
    wrangler, "dev", "--config", config,
    "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
    "--persist-to", persistTo, "--env-file", varsFile,
    "--show-interactive-dev-session=false", "--log-level", "warn",
    ...extraArgs,
  ];
  const child = spawn(node, args, {
    cwd,
    detached: true, // own process group, so stop() ends wrangler and its workerd, and nothing else
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "true" },
  });
  let output = "";
  const keep = (chunk) => {
    output += chunk.toString("utf8");
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited = null;
  const exitPromise = new Promise((resolve) =>
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    }),
  );
  const killGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const onExit = () => killGroup("SIGKILL");
  process.on("exit", onExit);

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited) throw new Error(`wrangler dev exited (${exited.signal ?? `code ${exited.code}`}):\n${output.slice(-3000)}`);
    if (Date.now() > deadline) {
      killGroup("SIGKILL");
      throw new Error(`wrangler dev did not answer ${base}/health within 120 s:\n${output.slice(-3000)}`);
    }
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  log?.(`wrangler dev is up on ${base} (pid ${child.pid})`);
  return {
    base,
    output: () => output,
    async stop() {
      if (exited) return;
      killGroup("SIGINT");
      const timer = setTimeout(() => killGroup("SIGKILL"), 10_000);
      await exitPromise;
      clearTimeout(timer);
      // workerd may outlive wrangler for a moment; make sure the group is gone
      killGroup("SIGKILL");
      process.off("exit", onExit);
    },
  };
}

async function timedFetch(url, init) {
  const started = performance.now();
  const res = await fetch(url, init);
  const body = await res.text();
  return { ms: performance.now() - started, status: res.status, body };
}

/**
 * Sequential latency of /health and every endpoint, interleaved round-robin (each round: health,
 * then every endpoint still sampling), so machine noise hits all of them alike. An endpoint stops
 * after `requests` samples or `budgetMs` (but not before `minSamples`).
 */
export async function measureLatency({ base, endpoints, requests, budgetMs, minSamples = 20, warmup = 5, log }) {
  const targets = [{ name: "health", path: "/health", headers: {} }, ...endpoints];
  for (const t of targets) {
    for (let i = 0; i < warmup; i++) {
      const r = await timedFetch(base + t.path, { headers: t.headers });
      if (r.status !== 200) throw new Error(`GET ${t.path} answered ${r.status}: ${r.body.slice(0, 500)}`);
      t.bytes = r.body.length;
    }
  }
  const samples = new Map(targets.map((t) => [t.name, []]));
  const spent = new Map(targets.map((t) => [t.name, 0]));
  const active = new Set(endpoints.map((e) => e.name));
  let rounds = 0;
  while (active.size > 0 || samples.get("health").length < requests) {
    for (const t of targets) {
      if (t.name !== "health" && !active.has(t.name)) continue;
      const r = await timedFetch(base + t.path, { headers: t.headers });
      if (r.status !== 200) throw new Error(`GET ${t.path} answered ${r.status}: ${r.body.slice(0, 500)}`);
      samples.get(t.name).push(r.ms);
      spent.set(t.name, spent.get(t.name) + r.ms);
      if (t.name !== "health") {
        const n = samples.get(t.name).length;
        if (n >= requests || (n >= minSamples && spent.get(t.name) >= budgetMs)) active.delete(t.name);
      }
    }
    if (++rounds % 50 === 0) log?.(`  ${rounds} rounds, ${active.size} endpoint(s) still sampling`);
  }
  return targets.map((t) => {
    const s = samples.get(t.name);
    return { name: t.name, path: t.path, n: s.length, p50: percentile(s, 50), p95: percentile(s, 95), mean: s.reduce((a, b) => a + b, 0) / s.length, bytes: t.bytes };
  });
}

/** Sequential requests for `seconds`: requests/s over the summed request time. */
export async function measureRate({ seconds, request }) {
  const deadline = performance.now() + seconds * 1000;
  let busy = 0;
  let n = 0;
  let units = 0;
  const latencies = [];
  while (performance.now() < deadline) {
    const { ms, units: u } = await request(n);
    busy += ms;
    units += u;
    latencies.push(ms);
    n++;
  }
  return { requests: n, units, busySeconds: busy / 1000, requestsPerSecond: n / (busy / 1000), unitsPerSecond: units / (busy / 1000), p50: percentile(latencies, 50), p95: percentile(latencies, 95) };
}

export { timedFetch };
