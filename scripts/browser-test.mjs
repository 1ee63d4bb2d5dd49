#!/usr/bin/env node
// `npm run test:browser`: the dashboard and the API reference in a real browser.
//
//   1. builds the front end (scripts/lib/web-build.mjs), freezes the sources (like the load
//      test), applies the migrations to a fresh D1 in a temp dir, and starts `wrangler dev`
//      on a free port as `npm run dev` configures it: ENVIRONMENT=development and a
//      DEV_DASHBOARD_TOKEN, both signed by a throwaway key
//   2. loads the demo data (scripts/lib/demo-data.mjs) and runs the */15 rollup
//   3. drives Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH) headless through
//      playwright-core, and checks every figure against the API, fetched here on its own:
//      - the page signs in with the development token by itself
//      - the organization view: each chart has as many points as the API returns, totals
//        and KPI figures equal the API's, ranked lists and the retention table have its rows
//      - range presets, a custom range and the identity filter change the requests and
//        the figures (to the API's values for the new parameters)
//      - recent logins page through the API's cursor without a repeat, and back
//      - keyboard: a range preset reached with Tab and pressed with Enter
//      - the platform view lists every demo organization; overview and activity as the API
//      - a phone-width viewport shows both views without horizontal scrolling
//      - an expired token shows the sign-in form saying so, and a pasted token works
//      - /docs renders an operation for every operation of /openapi.json
//      - no console error, no page error and no CSP violation anywhere (the expired-token
//        scenario allows only the browser's own "401" resource message)
//   4. screenshots (desktop and phone) in test-results/; exit 1 on any failure.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { loadDemoEvents } from "./lib/demo-load.mjs";
import { throwawaySigner, writeSignerVars } from "./lib/keys.mjs";
import { freePort, runWrangler, startWrangler } from "./lib/runtime.mjs";
import { snapshotSources } from "./lib/snapshot.mjs";
import { buildWeb } from "./lib/web-build.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const RESULTS = join(ROOT, "test-results");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"];
const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };
const DAY_MS = 86_400_000;

const started = performance.now();
const log = (msg) => console.log(`[browser ${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}`);

let passed = 0;
const failures = [];
function check(ok, what) {
  if (ok) passed++;
  else {
    failures.push(what);
    console.error(`  FAIL ${what}`);
  }
}
const same = (got, want, what) => check(JSON.stringify(got) === JSON.stringify(want), `${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);

const today = () => new Date().toISOString().slice(0, 10);
const addDays = (date, n) => new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
const intl = new Intl.NumberFormat("en-US");

if (!existsSync(CHROMIUM)) {
  console.error(`browser-test: no Chromium at ${CHROMIUM}; install Debian's with \`apt-get install -y chromium\` (or set CHROMIUM_PATH)`);
  process.exit(1);
}

const tmp = mkdtempSync(join(tmpdir(), "loginpulse-browser-"));
let server = null;
let browser = null;
async function cleanup() {
  await browser?.close().catch(() => {});
  browser = null;
  if (server) await server.stop().catch(() => {});
  server = null;
  rmSync(tmp, { recursive: true, force: true });
}
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => cleanup().finally(() => process.exit(130)));

/** The API as an independent client sees it: JSON body and the next-page link. */
async function apiGet(base, token, path) {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.json();
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${JSON.stringify(body)}`);
  const link = res.headers.get("link");
  return { body, next: link ? /<([^>]+)>/.exec(link)[1] : null };
}

/** Collects console errors, page errors and CSP violations of a page. */
function watch(page, label) {
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`${label}: console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on("crash", () => problems.push(`${label}: page crashed`));
  return problems;
}
const CSP_PROBE = () => {
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
};
async function cspViolations(page) {
  return page.evaluate(() => window.__csp ?? ["probe missing"]);
}

/** Waits until no panel is loading. */
async function settled(page) {
  await page.waitForFunction(() => document.querySelectorAll(".panel").length > 0 && document.querySelectorAll('.panel[data-state="loading"]').length === 0, null, { timeout: 30_000 });
}
const attr = (page, selector, name) => page.$eval(selector, (el, n) => el.getAttribute(n), name);
const allAttrs = (page, selector, name) => page.$$eval(selector, (els, n) => els.map((el) => el.getAttribute(n)), name);

/** Every figure of the organization view against the API for `range` and `type`. */
async function checkOrgView(page, { base, token, org, start, end, type, label }) {
  const q = `start_date=${start}&end_date=${end}`;
  const qt = type === "all" ? q : `${q}&identity_type=${type}`;
  const A = `/api/organizations/${org}/analytics`;
  const [trends, active, growth, lifecycle, retention, services, providers, summary] = await Promise.all(
    [`login-trends?${q}`, `active-users?${qt}`, `user-growth?${qt}`, `lifecycle?${qt}`, `retention?${qt}`, `logins-by-service?${q}`, `logins-by-provider?${q}`, `summary?${qt}`].map((p) => apiGet(base, token, `${A}/${p}`).then((r) => r.body)),
  );
  same(await attr(page, "#range-text", "data-start"), start, `${label}: range start shown`);
  same(await attr(page, "#range-text", "data-end"), end, `${label}: range end shown`);
  const points = async (panel) => Number(await attr(page, `[data-panel="${panel}"] figure.chart`, "data-points"));
  if (trends.length > 0) {
    same(await points("login-trends"), trends.length, `${label}: login-trends chart points = API rows`);
    const total = trends.reduce((a, r) => a + r.count, 0);
    same(Number(await attr(page, '[data-panel="login-trends"] [data-total]', "data-total")), total, `${label}: login total = sum of the API's daily counts`);
    same(await page.$eval('[data-panel="login-trends"] [data-total]', (el) => el.textContent), intl.format(total), `${label}: login total formatted`);
  } else same(await attr(page, '[data-panel="login-trends"]', "data-state"), "empty", `${label}: login-trends empty state`);
  same(await points("active-users"), active.days.length, `${label}: active-users chart points = API days`);
  same(Number(await attr(page, '[data-panel="active-users"] [data-total]', "data-total")), active.summary.active_users, `${label}: distinct active identities`);
  same(await points("user-growth"), growth.days.length, `${label}: user-growth chart points = API days`);
  same(await points("lifecycle"), lifecycle.weeks.length, `${label}: lifecycle chart points = API weeks`);
  same(await allAttrs(page, '[data-panel="retention"] tr[data-cohort]', "data-cohort"), retention.cohorts.map((c) => c.cohort), `${label}: retention rows = API cohorts`);
  same(await allAttrs(page, '[data-panel="logins-by-service"] tr[data-key]', "data-key"), services.map((s) => s.service_id), `${label}: services rows = API`);
  same((await allAttrs(page, '[data-panel="logins-by-service"] tr[data-key]', "data-count")).map(Number), services.map((s) => s.count), `${label}: services counts = API`);
  same(await allAttrs(page, '[data-panel="logins-by-provider"] tr[data-key]', "data-key"), providers.map((p) => p.provider), `${label}: providers rows = API`);
  same((await allAttrs(page, '[data-panel="logins-by-provider"] tr[data-key]', "data-count")).map(Number), providers.map((p) => p.count), `${label}: providers counts = API`);
  for (const key of ["logins", "active_users", "new_users", "returning_users", "failed_logins", "machine_identities_active"]) {
    same(Number(await attr(page, `[data-figure="${key}"]`, "data-value")), summary.metrics[key].current, `${label}: KPI ${key} = API summary`);
  }
  if (type === "all") {
    same(Number(await attr(page, '[data-figure="logins"]', "data-value")), trends.reduce((a, r) => a + r.count, 0), `${label}: KPI logins = sum of login-trends`);
    same(Number(await attr(page, '[data-figure="active_users"]', "data-value")), active.summary.active_users, `${label}: KPI active identities = active-users summary`);
  }
  same(await attr(page, '[data-figure="average_stickiness"]', "data-value"), active.summary.average_stickiness === null ? "" : String(active.summary.average_stickiness), `${label}: stickiness = API`);
  return { summary, trends };
}

try {
  // 1. build, fresh D1, wrangler dev as `npm run dev` configures it
  mkdirSync(RESULTS, { recursive: true });
  const built = await buildWeb(ROOT);
  log(`front end built (${Object.keys(built.files).length} files)`);
  const persistTo = join(tmp, "state");
  const varsFile = join(tmp, "browser.vars");
  const snapshot = snapshotSources(ROOT, join(tmp, "snapshot"));
  const signer = await throwawaySigner("browser", "2h");
  const devToken = await signer.mint({ sub: "browser-dev-dashboard", is_platform_owner: true });
  writeSignerVars(varsFile, signer, "scripts/browser-test.mjs", { ENVIRONMENT: "development", DEV_DASHBOARD_TOKEN: devToken });
  runWrangler(WRANGLER, snapshot.dir, ["d1", "migrations", "apply", "DB", "--local", "--config", snapshot.config, "--persist-to", persistTo]);
  server = await startWrangler({ node: process.execPath, wrangler: WRANGLER, cwd: snapshot.dir, config: snapshot.config, persistTo, varsFile, port: await freePort(), log, extraArgs: ["--test-scheduled"] });
  const base = server.base;

  // 2. demo data, rolled up as the cron would
  const { summary: demo, accepted } = await loadDemoEvents(base, await signer.mint({ sub: "browser-ingest", scope: "events:write" }));
  for (let run = 0; run < 3; run++) await fetch(`${base}/__scheduled?cron=*/15+*+*+*+*`).then((r) => r.arrayBuffer());
  log(`demo data: ${accepted} events in ${demo.length} organizations, rollup run`);
  const owner = await signer.mint({ sub: "browser-owner", is_platform_owner: true });
  const demoOrgs = demo.map((d) => d.org).sort();

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const problems = [];
  const newPage = async (viewport, label, init) => {
    const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    await context.addInitScript(CSP_PROBE);
    if (init) await context.addInitScript(init.fn, init.arg);
    const page = await context.newPage();
    const found = watch(page, label);
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    return { page, context, found, requests };
  };

  // 3a. sign-in with the development token, organization view, desktop
  const end = today();
  const s30 = addDays(end, -29);
  {
    const { page, context, found, requests } = await newPage(DESKTOP, "org desktop");
    await page.goto(`${base}/`);
    await settled(page);
    same(await page.evaluate(() => sessionStorage.getItem("loginpulse.token")), devToken, "the page signed in with the development token by itself");
    check(requests.some((u) => u.endsWith("/api/dev/token")), "the development token came from /api/dev/token");
    same(await page.$eval("#org-select", (el) => el.value), demoOrgs[0], "first organization selected");
    const org = demoOrgs[0];
    const first = await checkOrgView(page, { base, token: owner, org, start: s30, end, type: "all", label: "30 days" });
    check(requests.some((u) => u.includes(`/login-trends?start_date=${s30}&end_date=${end}`)), "30 days: the requests carry the range");
    check(!requests.some((u) => /[?&](token|access_token)=/.test(u)), "no token in any URL");
    await page.screenshot({ path: join(RESULTS, "dashboard-org-desktop.png"), fullPage: true });

    // range preset
    const before = requests.length;
    await page.click('[data-days="7"]');
    await settled(page);
    const s7 = addDays(end, -6);
    check(requests.slice(before).some((u) => u.includes(`/summary?start_date=${s7}&end_date=${end}`)), "7 days: new requests for the new range");
    const seven = await checkOrgView(page, { base, token: owner, org, start: s7, end, type: "all", label: "7 days" });
    check(seven.summary.metrics.logins.current !== first.summary.metrics.logins.current, "7 days: the logins figure changed");

    // custom range
    const cs = addDays(end, -59);
    const ce = addDays(end, -40);
    await page.fill("#range-start", cs);
    await page.fill("#range-end", ce);
    await page.click('.custom-range button[type="submit"]');
    await settled(page);
    await checkOrgView(page, { base, token: owner, org, start: cs, end: ce, type: "all", label: "custom range" });

    // identity filter
    await page.click('[data-days="30"]');
    await settled(page);
    const mark = requests.length;
    await page.selectOption("#identity-select", "machine");
    await settled(page);
    check(requests.slice(mark).some((u) => u.includes("/active-users?") && u.includes("identity_type=machine")), "machines: the engagement requests carry identity_type=machine");
    const machines = await checkOrgView(page, { base, token: owner, org, start: s30, end, type: "machine", label: "machines" });
    check(machines.summary.metrics.active_users.current !== first.summary.metrics.active_users.current, "machines: the active identities figure changed");
    await page.selectOption("#identity-select", "all");
    await settled(page);

    // recent logins: pages through the cursor, as the API pages
    const pagesSeen = [];
    let path = `/api/organizations/${org}/analytics/recent-logins?limit=25`;
    for (let n = 1; n <= 4; n++) {
      const ids = await allAttrs(page, '[data-panel="recent-logins"] tr[data-id]', "data-id");
      const api = await apiGet(base, owner, path);
      same(ids, api.body.map((r) => r.id), `recent logins page ${n} = API page ${n}`);
      pagesSeen.push(ids);
      path = api.next;
      if (n < 4) {
        await page.click('[data-panel="recent-logins"] [data-action="older"]');
        await settled(page);
      }
    }
    const flat = pagesSeen.flat();
    same(new Set(flat).size, flat.length, "recent logins: no login repeated across 4 pages");
    same(flat.length, 100, "recent logins: 4 full pages");
    await page.click('[data-panel="recent-logins"] [data-action="newer"]');
    await settled(page);
    same(await allAttrs(page, '[data-panel="recent-logins"] tr[data-id]', "data-id"), pagesSeen[2], "recent logins: Newer goes back one page");

    // keyboard: Tab to the 90-day preset, Enter
    await page.focus("body");
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate(() => document.activeElement?.getAttribute("data-days") === "90");
    }
    check(reached, "keyboard: the 90-day preset is reachable with Tab");
    await page.keyboard.press("Enter");
    await settled(page);
    same(await attr(page, "#range-text", "data-start"), addDays(end, -89), "keyboard: Enter on the preset applies it");

    // platform view
    await page.click('[data-view="platform"]');
    await settled(page);
    const [overview, activity, orgs] = await Promise.all([
      apiGet(base, owner, `/api/platform/analytics/overview?start_date=${addDays(end, -89)}&end_date=${end}`),
      apiGet(base, owner, `/api/platform/analytics/login-activity?start_date=${addDays(end, -89)}&end_date=${end}`),
      apiGet(base, owner, `/api/platform/analytics/organizations?end_date=${end}&sort=active_users&order=desc&limit=20&offset=0`),
    ]);
    same((await allAttrs(page, '[data-panel="organizations"] tr[data-org]', "data-org")).sort(), demoOrgs, "platform: every demo organization listed");
    same(await allAttrs(page, '[data-panel="organizations"] tr[data-org]', "data-org"), orgs.body.organizations.map((o) => o.org), "platform: organizations in the API's order");
    for (const key of ["organizations", "identities", "active_identities", "logins"]) same(Number(await attr(page, `[data-figure="${key}"]`, "data-value")), overview.body[key], `platform: ${key} = API overview`);
    same(Number(await attr(page, '[data-panel="login-activity"] figure.chart', "data-points")), activity.body.length, "platform: activity chart points = API rows");
    same(Number(await attr(page, '[data-panel="login-activity"] [data-total]', "data-total")), activity.body.reduce((a, r) => a + r.count, 0), "platform: activity total = API sum");
    await page.click('[data-sort="slug"]');
    await settled(page);
    same(await allAttrs(page, '[data-panel="organizations"] tr[data-org]', "data-org"), demoOrgs, "platform: sorting by organization (ascending)");
    await page.click('[data-days="30"]');
    await settled(page);
    await page.screenshot({ path: join(RESULTS, "dashboard-platform-desktop.png"), fullPage: true });
    await page.click(`[data-panel="organizations"] button[data-org="${demoOrgs[1]}"]`);
    await settled(page);
    same(await page.$eval("#org-select", (el) => el.value), demoOrgs[1], "platform: an organization's name opens its view");

    same(await cspViolations(page), [], "org/platform desktop: no CSP violation");
    problems.push(...found);
    await context.close();
  }

  // 3b. phone width
  {
    const { page, context, found } = await newPage(PHONE, "phone");
    await page.goto(`${base}/#view=org&org=${demoOrgs[0]}&days=30`);
    await settled(page);
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    same(await overflow(), 0, "phone: the organization view fits the width (tables scroll inside their panels)");
    await page.screenshot({ path: join(RESULTS, "dashboard-org-phone.png"), fullPage: true });
    await page.screenshot({ path: join(RESULTS, "dashboard-org-phone-top.png") });
    await page.click('[data-view="platform"]');
    await settled(page);
    same(await overflow(), 0, "phone: the platform view fits the width");
    await page.screenshot({ path: join(RESULTS, "dashboard-platform-phone.png"), fullPage: true });
    same(await cspViolations(page), [], "phone: no CSP violation");
    problems.push(...found);
    await context.close();
  }

  // 3c. an expired token
  {
    const expired = await signer.mint({ sub: "browser-expired", org: demoOrgs[0], exp: Math.floor(Date.now() / 1000) - 3600 });
    const { page, context, found } = await newPage(DESKTOP, "expired token", {
      fn: (t) => sessionStorage.setItem("loginpulse.token", t),
      arg: expired,
    });
    await page.goto(`${base}/`);
    await page.waitForSelector('.gate[data-state="error"]', { timeout: 30_000 });
    check((await page.textContent(".gate .notice")).includes("expired"), "expired token: the page says the token expired");
    same(await page.evaluate(() => sessionStorage.getItem("loginpulse.token")), null, "expired token: forgotten");
    await page.screenshot({ path: join(RESULTS, "dashboard-expired-token.png"), fullPage: true });
    const reader = await signer.mint({ sub: "browser-reader", org: demoOrgs[2] });
    await page.fill("#token-input", reader);
    await page.click('.gate-form button[type="submit"]');
    await settled(page);
    same(await page.$$eval("[data-view]", (els) => els.map((e) => e.getAttribute("data-view"))), ["org"], "pasted org token: organization view only");
    same(await page.$eval(".org-name", (el) => el.textContent), demoOrgs[2], "pasted org token: its organization");
    same(await cspViolations(page), [], "expired token: no CSP violation");
    problems.push(...found.filter((p) => !/Failed to load resource: the server responded with a status of 401/.test(p)));
    await context.close();
  }

  // 3d. the API reference
  {
    const { page, context, found } = await newPage(DESKTOP, "docs");
    const doc = (await (await fetch(`${base}/openapi.json`)).json());
    const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).filter((m) => ["get", "post", "put", "delete", "patch"].includes(m)).length, 0);
    await page.goto(`${base}/docs`);
    await page.waitForFunction((n) => document.querySelectorAll(".opblock").length === n, operations, { timeout: 30_000 });
    same(await page.$$eval(".opblock", (els) => els.length), operations, "docs: one entry per operation of /openapi.json");
    await page.click(".opblock-summary");
    await page.waitForSelector(".opblock-body", { timeout: 10_000 });
    await page.screenshot({ path: join(RESULTS, "docs-desktop.png") });
    same(await cspViolations(page), [], "docs: no CSP violation");
    problems.push(...found);
    await context.close();
  }

  same(problems, [], "no console errors or page errors");
} catch (err) {
  failures.push(`crashed: ${err?.stack ?? err}`);
  console.error(`\nFAIL: ${err?.stack ?? err}`);
  if (server) console.error(`--- wrangler output (tail) ---\n${server.output().slice(-3000)}`);
} finally {
  await cleanup();
}
log(`screenshots in ${RESULTS}`);
console.log(`browser: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length > 0 ? 1 : 0);
