// Deterministic synthetic login data, written straight into the D1 SQLite file with
// node:sqlite (multi-row INSERTs inside one transaction; the two login_events indexes are
// dropped during the load and re-created from their exact migration SQL afterwards).
//
// Shape (all drawn from a seeded PRNG; identical for identical options and `now`):
//   organizations  zipf-like sizes: org of rank r gets weight 1/(r+1)^zipf, so with the
//                  default exponent the largest org holds several % of all events
//   identities     per org proportional to its events (eventsPerIdentity), ~10% machine;
//                  30% exist from the start, the rest join uniformly over the period; a
//                  mix of uniform and heavy-hitter activity among those who have joined
//   services       2..5 per org, skewed;  providers 2..4 per org (+ client_credentials for
//                  machines), each human mostly on one preferred provider
//   login_events   ~3% failures; created_at spread over [now − days, now − tailMinutes],
//                  in time order (ingest order ≈ time order), weekday/weekend rhythm and
//                  mild growth; ip/user agent/country filled like real events
// Only identities that have at least one event are stored (as ingest would), with the
// rollup-maintained columns NULL: the data is "ingested, never rolled up".
import { DatabaseSync } from "node:sqlite";
import { prng } from "../lib/demo-data.mjs";

export const DAY_MS = 86_400_000;
const PROVIDERS = ["password", "google", "github", "microsoft", "passkey", "saml"];
const MACHINE_PROVIDER = "client_credentials";
const COUNTRIES = ["US", "DE", "GB", "FR", "IN", "BR", "JP", "CA", "NL", "SE", "ES", "AU"];
const USER_AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
];
const MACHINE_AGENTS = ["okhttp/4.12.0", "python-requests/2.32.3", "Go-http-client/2.0", "curl/8.10.1"];

/** Small integer hash (for per-identity attributes that must not consume the event stream). */
function mix(x) {
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  return (x ^ (x >>> 16)) >>> 0;
}

export const orgSlug = (rank) => `bench-org-${String(rank).padStart(4, "0")}`;
export const userIdOf = (idx, machine) => (machine ? `svc-${idx}` : `user-${idx}`);
export const isMachine = (idx) => idx % 10 === 7;
const serviceExternalId = (org, k) => {
  const h = mix(org * 31 + k + 1).toString(16).padStart(8, "0");
  const g = mix(org * 131 + k + 7).toString(16).padStart(8, "0");
  return `${h}-${g.slice(0, 4)}-4${g.slice(4, 7)}-8${h.slice(0, 3)}-${g}${h.slice(4)}`;
};

/** The static part of the model: orgs, their sizes, services, providers, identity blocks. */
export function planOrgs({ events, orgs, zipf, eventsPerIdentity }) {
  const weights = Array.from({ length: orgs }, (_, r) => 1 / (r + 1) ** zipf);
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf = new Float64Array(orgs);
  let acc = 0;
  const plan = [];
  let identityBase = 0;
  let serviceBase = 0;
  for (let r = 0; r < orgs; r++) {
    acc += weights[r] / total;
    cdf[r] = acc;
    const expected = (events * weights[r]) / total;
    const identities = Math.max(3, Math.round(expected / eventsPerIdentity));
    const nServices = 2 + ((r * 7) % 4);
    const nProviders = 2 + ((r * 3) % 3);
    plan.push({
      rank: r,
      id: r + 1,
      slug: orgSlug(r),
      share: weights[r] / total,
      identities,
      identityBase,
      services: Array.from({ length: nServices }, (_, k) => ({ id: serviceBase + k + 1, externalId: serviceExternalId(r, k), name: k === 0 ? "Main Application" : k === 1 ? "Mobile App" : k % 2 ? null : `Service ${k}` })),
      providers: Array.from({ length: nProviders }, (_, k) => PROVIDERS[(r + k) % PROVIDERS.length]),
      country: COUNTRIES[r % COUNTRIES.length],
    });
    identityBase += identities;
    serviceBase += nServices;
  }
  cdf[orgs - 1] = 1;
  return { orgs: plan, cdf, totalIdentities: identityBase };
}

function pickOrg(cdf, u) {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Event stream in time order. `emit(row)` receives a reused array:
 * [org_id, event_id, identity_id, service_id, provider, outcome, created_at, received_at, ip, ua, country]
 */
function* eventStream({ orgs: plan, cdf }, { events, from, to, seed, eventIdPrefix, identityCeiling }) {
  const rand = prng(seed);
  const span = to - from;
  const slices = Math.max(1, Math.ceil(span / DAY_MS));
  // weekday rhythm and mild growth; slice weights → exact per-slice counts
  const w = [];
  for (let s = 0; s < slices; s++) {
    const day = Math.floor((from + (s + 0.5) * (span / slices)) / DAY_MS);
    const dow = (day + 4) % 7; // 0 = Sunday
    w.push((dow === 0 || dow === 6 ? 0.6 : 1) * (1 + (0.5 * s) / slices));
  }
  const wsum = w.reduce((a, b) => a + b, 0);
  let produced = 0;
  let carry = 0;
  let seq = 0;
  const row = new Array(11);
  for (let s = 0; s < slices; s++) {
    const exact = (events * w[s]) / wsum + carry;
    const n = s === slices - 1 ? events - produced : Math.floor(exact);
    carry = exact - n;
    if (n <= 0) continue;
    const t0 = from + (s * span) / slices;
    const len = span / slices;
    const times = new Float64Array(n);
    for (let i = 0; i < n; i++) times[i] = Math.floor(t0 + rand() * len);
    times.sort();
    for (let i = 0; i < n; i++) {
      const createdAt = times[i];
      const org = plan[pickOrg(cdf, rand())];
      const frac = (createdAt - from) / span;
      const joined = identityCeiling ? org.identities : Math.max(1, Math.floor(org.identities * (0.3 + 0.7 * frac)));
      const u = rand();
      const idx = rand() < 0.5 ? Math.floor(joined * u) : Math.floor(joined * u * u * u);
      const machine = isMachine(idx);
      const h = mix(org.rank * 1_000_003 + idx);
      const su = rand();
      const service = org.services[Math.floor(org.services.length * su * su)];
      let provider;
      if (machine) provider = MACHINE_PROVIDER;
      else if (rand() < 0.85) provider = org.providers[h % org.providers.length];
      else provider = org.providers[Math.floor(rand() * org.providers.length)];
      row[0] = org.id;
      row[1] = `${eventIdPrefix}${(seq++).toString(36)}`;
      row[2] = org.identityBase + idx + 1;
      row[3] = service.id;
      row[4] = provider;
      row[5] = rand() < 0.03 ? "failure" : "success";
      row[6] = createdAt;
      row[7] = createdAt + 20 + (h % 2000);
      row[8] = `10.${(h >>> 8) & 255}.${(h >>> 16) & 255}.${h & 255}`;
      row[9] = machine ? MACHINE_AGENTS[h % MACHINE_AGENTS.length] : USER_AGENTS[h % USER_AGENTS.length];
      row[10] = h % 5 === 0 ? COUNTRIES[h % COUNTRIES.length] : org.country;
      yield { row, org, idx, machine };
    }
    produced += n;
  }
}

/** Events as ingest input (for POST /api/events and the shim's ingestEvents). */
export function* ingestEvents(model, opts) {
  for (const { row, org, idx, machine } of eventStream(model, { ...opts, identityCeiling: true })) {
    yield {
      id: row[1],
      org: org.slug,
      user_id: userIdOf(idx, machine),
      identity_type: machine ? "machine" : "human",
      service_id: org.services.find((s) => s.id === row[3]).externalId,
      provider: row[4],
      outcome: row[5],
      created_at: row[6],
      ip_address: row[8],
      user_agent: row[9],
      country: row[10],
    };
  }
}

const EVENT_COLUMNS = "org_id, event_id, identity_id, service_id, provider, outcome, created_at, received_at, ip_address, user_agent, country";
const ROWS_PER_INSERT = 200;

/**
 * Fills an empty, migrated database file. Returns a summary (counts, largest org, timings).
 */
export function generate(file, options, log = () => {}) {
  const { events, days, seed, now, tailMinutes } = options;
  const model = planOrgs(options);
  const db = new DatabaseSync(file, { enableForeignKeyConstraints: false });
  const started = performance.now();
  try {
    db.exec("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;");
    const existing = db.prepare("SELECT COUNT(*) AS n FROM login_events").get().n;
    if (existing > 0) throw new Error(`${file} already has ${existing} events; generate into a fresh database`);
    const indexes = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'login_events' AND sql IS NOT NULL").all();

    db.exec("BEGIN");
    const insertOrg = db.prepare("INSERT INTO organizations (id, slug, created_at) VALUES (?, ?, ?)");
    const insertService = db.prepare("INSERT INTO services (id, org_id, external_id, name) VALUES (?, ?, ?, ?)");
    for (const org of model.orgs) {
      insertOrg.run(org.id, org.slug, now - days * DAY_MS);
      for (const s of org.services) insertService.run(s.id, org.id, s.externalId, s.name);
    }
    for (const idx of indexes) db.exec(`DROP INDEX ${idx.name}`);

    const placeholders = (n) => Array.from({ length: n }, () => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ");
    const bulk = db.prepare(`INSERT INTO login_events (${EVENT_COLUMNS}) VALUES ${placeholders(ROWS_PER_INSERT)}`);
    const used = new Uint8Array(model.totalIdentities + 1);
    const params = new Array(ROWS_PER_INSERT * 11);
    let k = 0;
    let written = 0;
    let lastLog = performance.now();
    for (const { row } of eventStream(model, { events, from: now - days * DAY_MS, to: now - tailMinutes * 60_000, seed, eventIdPrefix: "ev-" })) {
      used[row[2]] = 1;
      for (let c = 0; c < 11; c++) params[k++] = row[c];
      if (k === params.length) {
        bulk.run(...params);
        k = 0;
        written += ROWS_PER_INSERT;
        if (performance.now() - lastLog > 5000) {
          lastLog = performance.now();
          log(`  ${written.toLocaleString("en-US")} / ${events.toLocaleString("en-US")} events`);
        }
      }
    }
    if (k > 0) {
      const rest = k / 11;
      db.prepare(`INSERT INTO login_events (${EVENT_COLUMNS}) VALUES ${placeholders(rest)}`).run(...params.slice(0, k));
    }
    const insertedAt = performance.now();

    // identities: only those with events, ids as the events reference them
    const insertIdentity = db.prepare("INSERT INTO identities (id, org_id, user_id, identity_type) VALUES (?, ?, ?, ?)");
    let identities = 0;
    let machineIdentities = 0;
    for (const org of model.orgs) {
      for (let idx = 0; idx < org.identities; idx++) {
        const id = org.identityBase + idx + 1;
        if (!used[id]) continue;
        const machine = isMachine(idx);
        insertIdentity.run(id, org.id, userIdOf(idx, machine), machine ? "machine" : "human");
        identities++;
        if (machine) machineIdentities++;
      }
    }
    for (const idx of indexes) db.exec(idx.sql);
    db.exec("COMMIT");
    const indexedAt = performance.now();

    const largest = model.orgs[0];
    const largestEvents = db.prepare("SELECT COUNT(*) AS n FROM login_events WHERE org_id = ?").get(largest.id).n;
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return {
      model,
      events,
      organizations: model.orgs.length,
      identities,
      machineIdentities,
      services: model.orgs.reduce((a, o) => a + o.services.length, 0),
      largest: { slug: largest.slug, events: largestEvents, share: largestEvents / events },
      insertSeconds: (insertedAt - started) / 1000,
      indexSeconds: (indexedAt - insertedAt) / 1000,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    try {
      db.exec("ROLLBACK");
    } catch {
      // no transaction open
    }
    throw err;
  } finally {
    db.close();
  }
}
