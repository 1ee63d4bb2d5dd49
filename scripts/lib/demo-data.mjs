// Deterministic demo login events for local development (used by scripts/dev.mjs).
//
// generateDemoEvents(now) returns ~90 days of history ending at `now`. Everything is
// drawn from a seeded PRNG and expressed as offsets from `now`, so every run produces
// the same events (same ids, same identities, same counts) shifted to the current time.
//
// Organizations and their stories:
//   acme-corp      growing SaaS customer: many new sign-ups, Google/password/passkey/GitHub,
//                  a few users going dormant, CI/billing bots, two machine identities that
//                  wake up after a long sleep, a small credential-stuffing burst (failures)
//   globex         steady enterprise on Microsoft sign-in, a monthly payroll batch job
//                  (reactivates every ~30 days), a retired audit exporter
//   initech        declining: many users stop logging in, mostly passwords
//   umbrella-labs  brand-new customer (first login 13 days ago), expanding fast

export const DAY_MS = 86_400_000;
export const DEMO_DAYS = 90;

/** mulberry32: small, fast, good enough for demo and benchmark data. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashSeed(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

const FIRST = ["maria", "james", "wei", "aisha", "lucas", "sofia", "noah", "priya", "mateo", "emma", "omar", "yuki", "liam", "chloe", "ivan", "fatima", "daniel", "grace", "hiro", "zara", "elena", "samuel", "nina", "arjun", "olivia", "kwame", "isabel", "tomas", "leila", "ethan", "mei", "diego", "hannah", "raj", "ana", "felix", "amara", "jonas", "sara", "victor"];
const LAST = ["garcia", "smith", "chen", "khan", "silva", "rossi", "mueller", "patel", "lopez", "johnson", "ali", "tanaka", "brown", "martin", "petrov", "haddad", "kim", "nguyen", "sato", "okafor", "novak", "cohen", "larsen", "singh", "costa", "weber", "mensah", "santos", "dubois", "wilson", "wang", "fernandez", "schmidt", "gupta", "moreau", "berg", "adeyemi", "jansen", "ortiz", "meyer"];

const DESKTOP_UA = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
];
const MOBILE_UA = [
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
];

/**
 * Machine identity patterns (days are "days ago", 89 = oldest, 0 = the last 24 hours):
 *   steady   every day from `from` (default 89) to today
 *   dormant  every day from 89 until `until`, then silent (dormant as of today)
 *   wakes    every day in [89, sleepAt], silent, then every day in [wakeAt, 0]  (a reactivation)
 *   monthly  only on the listed days
 */
const ORGS = [
  {
    slug: "acme-corp",
    domain: "acme.example",
    humans: 140,
    firstDay: 89,
    lateJoinShare: 0.45, // share of humans whose first login falls inside the window (growth)
    churnShare: 0.1,
    countries: ["US", "US", "US", "CA", "GB", "DE", "IN"],
    providers: { google: 40, password: 20, passkey: 15, github: 15, microsoft: 10 },
    services: [
      { id: "acme-console", name: "Acme Console", weight: 50 },
      { id: "acme-mobile", name: "Acme Mobile", weight: 30, mobile: true },
      { id: "acme-billing", name: "Acme Billing", weight: 12 },
      { id: "acme-admin", name: "Acme Admin Portal", weight: 8 },
    ],
    machineService: { id: "acme-api", name: "Acme Platform API" },
    machines: [
      { id: "svc-ci-deployer", provider: "github", perDay: 6, pattern: "steady" },
      { id: "svc-billing-sync", provider: "client-credentials", perDay: 4, pattern: "steady" },
      { id: "svc-metrics-exporter", provider: "client-credentials", perDay: 8, pattern: "steady" },
      { id: "svc-slack-notifier", provider: "client-credentials", perDay: 2, pattern: "steady" },
      { id: "svc-warehouse-etl", provider: "client-credentials", perDay: 1, pattern: "steady" },
      { id: "svc-support-chatbot", provider: "client-credentials", perDay: 3, pattern: "steady", from: 20 },
      { id: "svc-legacy-report-runner", provider: "client-credentials", perDay: 2, pattern: "dormant", until: 52 },
      { id: "svc-old-crm-connector", provider: "client-credentials", perDay: 1, pattern: "dormant", until: 70 },
      { id: "svc-backup-agent", provider: "client-credentials", perDay: 2, pattern: "wakes", sleepAt: 75, wakeAt: 2 },
      { id: "svc-terraform-runner", provider: "github", perDay: 3, pattern: "wakes", sleepAt: 46, wakeAt: 1 },
    ],
    stuffing: { day: 3, attempts: 14, users: ["admin", "root", "test", "support"] },
  },
  {
    slug: "globex",
    domain: "globex.example",
    humans: 70,
    firstDay: 89,
    lateJoinShare: 0.15,
    churnShare: 0.12,
    countries: ["US", "US", "MX", "BR", "ES"],
    providers: { microsoft: 60, password: 20, passkey: 12, google: 8 },
    services: [
      { id: "globex-intranet", name: "Globex Intranet", weight: 50 },
      { id: "globex-crm", name: "Globex CRM", weight: 30 },
      { id: "globex-hr", name: "Globex HR Portal", weight: 20 },
    ],
    machineService: { id: "globex-integrations", name: "Globex Integration Hub" },
    machines: [
      { id: "sap-connector", provider: "client-credentials", perDay: 4, pattern: "steady" },
      { id: "hr-directory-sync", provider: "client-credentials", perDay: 2, pattern: "steady" },
      { id: "azure-devops-pipeline", provider: "microsoft", perDay: 5, pattern: "steady" },
      { id: "intranet-search-indexer", provider: "client-credentials", perDay: 1, pattern: "steady" },
      { id: "audit-log-exporter", provider: "client-credentials", perDay: 1, pattern: "dormant", until: 40 },
      { id: "payroll-batch", provider: "client-credentials", perDay: 3, pattern: "monthly", days: [63, 32, 1] },
    ],
  },
  {
    slug: "initech",
    domain: "initech.example",
    humans: 30,
    firstDay: 89,
    lateJoinShare: 0.05,
    churnShare: 0.45,
    countries: ["US"],
    providers: { password: 60, google: 25, github: 15 },
    services: [
      { id: "tps-reports", name: "TPS Reports", weight: 60 },
      { id: "initech-helpdesk", name: "Initech Helpdesk", weight: 40 },
    ],
    machineService: { id: "initech-automation", name: "Initech Automation" },
    machines: [
      { id: "tps-report-generator", provider: "client-credentials", perDay: 1, pattern: "steady" },
      { id: "helpdesk-mailer", provider: "client-credentials", perDay: 2, pattern: "steady" },
      { id: "printer-fleet-agent", provider: "client-credentials", perDay: 1, pattern: "dormant", until: 60 },
      { id: "db-backup", provider: "client-credentials", perDay: 1, pattern: "wakes", sleepAt: 50, wakeAt: 0 },
    ],
  },
  {
    slug: "umbrella-labs",
    domain: "umbrella.example",
    humans: 25,
    firstDay: 13,
    lateJoinShare: 1,
    churnShare: 0,
    countries: ["GB", "GB", "FR", "NL"],
    providers: { google: 50, passkey: 30, github: 20 },
    services: [
      { id: "umbrella-lims", name: "Umbrella LIMS", weight: 70 },
      { id: "umbrella-docs", name: "Umbrella Docs", weight: 30 },
    ],
    machineService: { id: "umbrella-ci", name: "Umbrella CI" },
    machines: [
      { id: "ci-runner", provider: "github", perDay: 4, pattern: "steady", from: 13 },
      { id: "lab-sensor-gateway", provider: "client-credentials", perDay: 6, pattern: "steady", from: 10 },
    ],
  },
];

function weighted(rand, entries) {
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let x = rand() * total;
  for (const [value, w] of entries) {
    x -= w;
    if (x < 0) return value;
  }
  return entries[entries.length - 1][0];
}

const int = (rand, lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (rand, list) => list[Math.floor(rand() * list.length)];

/**
 * Offset (ms before `now`) of a moment on day `daysAgo`: day 0 is the last 24 hours.
 * Stays at least a second in the past so no event is ever "in the future".
 */
const offsetMs = (rand, daysAgo) => daysAgo * DAY_MS + 1000 + Math.floor(rand() * (DAY_MS - 2000));

function generateOrg(org) {
  const rand = prng(hashSeed(`loginpulse-demo:${org.slug}`));
  const raw = []; // { offset, user_id, identity_type, service, provider, outcome, ip, ua, country }
  const usedIds = new Set();
  const providerEntries = Object.entries(org.providers);
  const serviceEntries = org.services.map((s) => [s, s.weight]);
  const stats = { humans: 0, machines: org.machines.length, dormantHumans: 0 };

  // ---- humans ----
  for (let n = 0; n < org.humans; n++) {
    const base = `${pick(rand, FIRST)}.${pick(rand, LAST)}`;
    let userId = `${base}@${org.domain}`;
    for (let k = 2; usedIds.has(userId); k++) userId = `${base}${k}@${org.domain}`;
    usedIds.add(userId);
    stats.humans++;

    const lateJoin = rand() < org.lateJoinShare;
    const joinDay = lateJoin ? int(rand, 0, Math.min(org.firstDay, 79)) : int(rand, Math.max(0, org.firstDay - 9), org.firstDay);
    const p = weighted(rand, [[0.75, 25], [0.35, 45], [0.08, 30]]); // daily, regular, occasional
    let stopDay = -1; // last active day (days ago); -1 = still active
    if (rand() < org.churnShare && joinDay >= 40) stopDay = int(rand, 31, Math.min(joinDay - 5, 80));
    let pause = null;
    if (rand() < 0.06 && joinDay > 40) {
      const startPause = int(rand, 20, joinDay - 15);
      pause = [startPause - int(rand, 14, 24), startPause]; // inclusive day range with no logins
    }
    const provider = weighted(rand, providerEntries);
    const service = weighted(rand, serviceEntries);
    const country = pick(rand, org.countries);
    const ip = `${pick(rand, ["203.0.113", "198.51.100", "192.0.2"])}.${int(rand, 1, 254)}`;
    const desktopUa = pick(rand, DESKTOP_UA);
    const mobileUa = pick(rand, MOBILE_UA);

    for (let day = joinDay; day >= 0; day--) {
      if (stopDay >= 0 && day < stopDay) break;
      if (pause && day >= pause[0] && day <= pause[1]) continue;
      // The first day always has a login (that is what makes it the join day); so does the stop day.
      if (day !== joinDay && day !== stopDay && rand() >= p) continue;
      const logins = 1 + (rand() < 0.25 ? 1 : 0) + (rand() < 0.05 ? 1 : 0);
      for (let l = 0; l < logins; l++) {
        const prov = rand() < 0.85 ? provider : weighted(rand, providerEntries);
        const svc = rand() < 0.8 ? service : weighted(rand, serviceEntries);
        const offset = offsetMs(rand, day);
        const ev = { user_id: userId, identity_type: "human", service: svc, provider: prov, ip, ua: svc.mobile ? mobileUa : desktopUa, country };
        // A mistyped password (or a cancelled social/passkey prompt) shortly before the success.
        if (rand() < (prov === "password" ? 0.08 : 0.02)) raw.push({ ...ev, outcome: "failure", offset: offset + int(rand, 5, 90) * 1000 });
        raw.push({ ...ev, outcome: "success", offset });
      }
    }
    if (stopDay >= 0) stats.dormantHumans++;
  }

  // ---- machine identities ----
  const activeDays = (m) => {
    const days = [];
    for (let day = Math.min(m.from ?? 89, org.firstDay); day >= 0; day--) {
      if (m.pattern === "dormant" && day < m.until) break;
      if (m.pattern === "wakes" && day < m.sleepAt && day > m.wakeAt) continue;
      if (m.pattern === "monthly" && !m.days.includes(day)) continue;
      days.push(day);
    }
    return days;
  };
  for (const m of org.machines) {
    const ip = `10.${int(rand, 0, 255)}.${int(rand, 0, 255)}.${int(rand, 1, 254)}`;
    for (const day of activeDays(m)) {
      const logins = Math.max(1, m.perDay + int(rand, -1, 1));
      for (let l = 0; l < logins; l++) {
        const offset = offsetMs(rand, day);
        // Expired client secrets / rotated keys: the occasional failed client-credentials exchange.
        const outcome = rand() < 0.01 ? "failure" : "success";
        raw.push({ user_id: m.id, identity_type: "machine", service: org.machineService, provider: m.provider, outcome, offset, ip, ua: `${m.id}/1.0 (+https://${org.domain})`, country: org.countries[0] });
      }
    }
  }

  // ---- a credential-stuffing burst: failures only, from identities that never log in ----
  if (org.stuffing) {
    const { day, attempts, users } = org.stuffing;
    const start = offsetMs(rand, day);
    for (let i = 0; i < attempts; i++) {
      raw.push({
        user_id: `${pick(rand, users)}@${org.domain}`,
        identity_type: "human",
        service: org.services[0],
        provider: "password",
        outcome: "failure",
        offset: start - i * int(rand, 2, 15) * 1000,
        ip: `198.18.${int(rand, 0, 255)}.${int(rand, 1, 254)}`,
        ua: "python-requests/2.32.3",
        country: pick(rand, ["RU", "CN", "BR", "VN"]),
      });
    }
  }

  // Oldest first, ids numbered in that order so they are stable across runs.
  raw.sort((a, b) => b.offset - a.offset || (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
  return { raw, stats };
}

/**
 * Returns { events, summary }: events sorted by created_at (oldest first) in the
 * POST /api/events shape; summary per org (humans, machines, events, logins, failures).
 */
export function generateDemoEvents(now = Date.now()) {
  const all = [];
  const summary = [];
  for (const org of ORGS) {
    const { raw, stats } = generateOrg(org);
    let logins = 0;
    let failures = 0;
    raw.forEach((r, i) => {
      if (r.outcome === "success") logins++;
      else failures++;
      all.push({
        ts: now - r.offset,
        event: {
          id: `demo-${org.slug}-${String(i + 1).padStart(6, "0")}`,
          org: org.slug,
          user_id: r.user_id,
          identity_type: r.identity_type,
          service_id: r.service.id,
          service_name: r.service.name,
          provider: r.provider,
          outcome: r.outcome,
          created_at: new Date(now - r.offset).toISOString(),
          ip_address: r.ip,
          user_agent: r.ua,
          country: r.country,
        },
      });
    });
    summary.push({
      org: org.slug,
      humans: stats.humans,
      machines: stats.machines,
      services: org.services.length + 1,
      events: raw.length,
      logins,
      failures,
    });
  }
  all.sort((a, b) => a.ts - b.ts);
  return { events: all.map((e) => e.event), summary };
}

// `node scripts/demo-data.mjs` prints the summary (handy when tweaking the generator).
if (import.meta.url === `file://${process.argv[1]}`) {
  const { events, summary } = generateDemoEvents();
  console.table(summary);
  console.log(`${events.length} events`);
}
