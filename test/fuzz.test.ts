import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectContractError, RFC3339 } from "./contract";
import { dbState, type DbState } from "./db-state";
import { addDays, countEverywhere, DAY_MS, type EventInput, ingest, orgToken, platformToken, request, rollup, rowsEverywhere, SHARDED, todayDate, token } from "./helpers";
import { prepareRouteData } from "./route-data";
import { pathFor, servedRoutes, type ServedRoute } from "./routes";

/**
 * Hostile-input fuzzing: random JSON, wrong types, huge strings, deep nesting,
 * unicode edge cases, SQL-looking strings, bad dates, out-of-range limits and
 * cursors into every endpoint. Whatever comes in: never a 5xx, every refusal in
 * the contract's error shape, and the database byte-for-byte unchanged after a
 * rejected write (test/db-state.ts: row counts and a SHA-256 of every row).
 *
 * Routes come from the router (test/routes.ts), so a new route is fuzzed without
 * editing this file. The seed is random on every run; fast-check prints it (and
 * the shrunk counterexample) on failure, replay with `fc.assert(..., { seed, path })`.
 */

// ---------------------------------------------------------------------------------------------
// Budget: runs per property (the whole file stays well under a minute on 2 cores). The sharded
// project (vitest.config.ts) runs half as many: the hostile inputs are the same, and what it adds
// — batches split across databases, reads merged across them — is reached by every run.
const BUDGET = {
  getPerRoute: 100,
  orgSlug: 300,
  anything: 300,
  mutated: 400,
  deepNesting: 30,
  oneBadInBatch: 150,
  rawBodies: 300,
  duplicateKeys: 150,
  governanceWrites: 150,
};
const RUNS = Object.fromEntries(Object.entries(BUDGET).map(([k, n]) => [k, SHARDED ? Math.ceil(n / 2) : n])) as typeof BUDGET;

/** Generated fuzz cases, and the plain reads over stored fuzz data at the end. */
let cases = 0;
let reads = 0;
/** Responses by status, to show the fuzz reaches both the success paths and the refusals. */
const statuses: Record<number, number> = {};
afterAll(() => {
  const tally = Object.entries(statuses).map(([s, n]) => `${s}: ${n}`).join(", ");
  console.log(`fuzz cases: ${cases} (+ ${reads} reads over the stored fuzz data; statuses ${tally})`);
});

// ---- the contract ---------------------------------------------------------------------------

/**
 * Sends one fuzz case and checks the part of the contract every response obeys:
 * below 500, the success status or a 4xx, errors in the contract shape, successes JSON.
 */
async function send(path: string, init: RequestInit & { token?: string }, okStatus: number, counter: "case" | "read" = "case", types: string[] | "page" = ["application/json"]) {
  if (counter === "case") cases++;
  else reads++;
  const what = `${init.method ?? "GET"} ${path.length > 200 ? `${path.slice(0, 200)}…(${path.length} chars)` : path}`;
  const res = await request(path, init);
  const text = await res.text();
  statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  expect(res.status, `${what} → ${text.slice(0, 300)}`).toBeLessThan(500);
  expect(res.status === okStatus || (res.status >= 400 && res.status < 500), `${what} → ${res.status} ${text.slice(0, 300)}`).toBe(true);
  if (res.status >= 400) {
    return { status: res.status, res, error: expectContractError(res.status, res.headers.get("content-type"), text, what) } as const;
  }
  if (types === "page") {
    // the dashboard's static files: never a 5xx, and what they are whatever the query says
    expect(res.headers.get("content-type"), what).toMatch(/^(text\/html|text\/javascript|application\/javascript|text\/css|image\/svg\+xml)/);
    expect(text.length, what).toBeGreaterThan(0);
    return { status: res.status, res, body: text } as const;
  }
  // a success is one of the media types the route declares (JSON, or e.g. text/csv when asked for)
  const type = (res.headers.get("content-type") ?? "").split(";")[0];
  expect(types, `${what}: ${type}`).toContain(type);
  if (type !== "application/json") {
    expect(text.length, what).toBeGreaterThan(0);
    return { status: res.status, res, body: text } as const;
  }
  let body: unknown;
  expect(() => (body = JSON.parse(text)), `${what}: 2xx body is not JSON`).not.toThrow();
  expectWellFormed(body, what);
  return { status: res.status, res, body } as const;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_WEEK = /^\d{4}-W\d{2}$/;

/**
 * Generic invariants of every success body, whatever the route: dates are YYYY-MM-DD,
 * week labels YYYY-Www, timestamps RFC 3339 (hostile but accepted inputs such as
 * 9999-12-31 must not leak "+010000-01" or "Invalid Date" into a 200).
 */
function expectWellFormed(value: unknown, what: string, key = ""): void {
  if (Array.isArray(value)) {
    for (const v of value) expectWellFormed(v, what, key);
    return;
  }
  if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) expectWellFormed(v, what, k);
    return;
  }
  if (what.includes("/openapi.json")) return;
  if (/(^|_)date$|^week_start$/.test(key)) expect(value, `${what}: ${key}`).toMatch(DATE);
  if (/^(week|cohort)$/.test(key) && typeof value === "string") expect(value, `${what}: ${key}`).toMatch(ISO_WEEK);
  if (/_at$/.test(key) && value !== null) expect(value, `${what}: ${key}`).toMatch(RFC3339);
}

// ---- hostile building blocks ----------------------------------------------------------------

const SQL = [
  "' OR 1=1 --",
  "' OR '1'='1",
  "1; DROP TABLE login_events",
  "1; DROP TABLE login_events; --",
  "'; DELETE FROM organizations; --",
  '" OR ""="',
  "1 UNION SELECT name, sql FROM sqlite_master --",
  "%' OR 1=1 --",
  "admin'--",
  "') OR ('a'='a",
  "1) OR (1=1",
  "?1",
  ":org_slug",
  "$1",
  "NULL",
  "\\",
  "`",
  "';",
];

const UNICODE = [
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff",
  "\udc00\ud800",
  "x\ud83d",
  "\ufeff",
  "\ufffe",
  "\uffff",
  "\u202e",
  "\u202egnp.exe",
  "\u200f\u200e",
  "\u200b",
  "مرحبا بالعالم",
  "שלום",
  "😀",
  "👨‍👩‍👧‍👦",
  "🏳️‍🌈",
  "e\u0301",
  "Ａｃｍｅ",
  "İ",
  "ß",
  "ǅ",
  "\u{10ffff}",
  "\u0085",
  "\u2028\u2029",
  "\r\n",
  "\t",
  "Z̷̡̧̛͈a̸l̴g̶o̷",
  "١٢٣٤",
  "𝟙𝟚𝟛",
];

const PERCENT = [
  "%",
  "%%",
  "%FF",
  "%ff%fe",
  "%E0%A4%A",
  "%C0%AF",
  "%C0%80",
  "%ED%A0%80",
  "%F4%90%80%80",
  "%00",
  "%0A",
  "%2F",
  "%5C",
  "%25",
  "%252F",
  "%u0041",
  "%G1",
  "%%32%35",
  "%2",
  "+",
  "%2B",
  "&",
  "=",
  "==",
  "&&",
  "?",
  ";",
];

const BAD_DATES = [
  "2025-02-30",
  "2025-02-29",
  "2024-02-30",
  "2025-13-01",
  "2025-00-10",
  "2025-01-00",
  "2025-01-32",
  "0000-01-01",
  "0001-01-01",
  "9999-12-31",
  "+002025-01-01",
  "-000001-01-01",
  "275760-09-13",
  "2025-1-1",
  "25-01-01",
  "20250101",
  "2025/01/01",
  "01-01-2025",
  "2025-01-01T00:00:00Z",
  "2025-01-01T00:00:00.000+05:30",
  "2025-01-01 00:00",
  "2025-01-01\n",
  " 2025-01-01",
  "2025-W01",
  "2025-001",
  "today",
  "now",
  "NaN",
  "1735689600",
  "1735689600000",
  "١٩٧٠-٠١-٠١",
  "２０２５-０１-０１",
  "1969-12-31",
  "1970-01-01",
];

const NUMBERS = [
  "-1",
  "0",
  "-0",
  "1",
  "2",
  "999",
  "1000",
  "1001",
  "0.5",
  "1.0",
  "1.5",
  "1e3",
  "1e999",
  "-1e999",
  "1e-999",
  "NaN",
  "Infinity",
  "-Infinity",
  "9007199254740991",
  "9007199254740993",
  "99999999999999999999999999",
  "-99999999999999999999999999",
  "0x10",
  "0b11",
  "0o7",
  "  5  ",
  "5abc",
  "abc",
  "",
  "１０",
  "1_000",
  "+5",
  "1,5",
  "true",
  "null",
  "[]",
  "{}",
];

const hugeString = fc
  .tuple(fc.constantFrom("a", "é", "😀", "%", "'", "\u0000", "-", "9", "\ud800", "%FF", "%E0%A4%A"), fc.integer({ min: 1_000, max: 10_000 }))
  .map(([unit, n]) => unit.repeat(Math.ceil(n / unit.length)));

const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SQL) },
  { weight: 3, arbitrary: fc.constantFrom(...UNICODE) },
  { weight: 2, arbitrary: fc.constantFrom(...BAD_DATES) },
  { weight: 2, arbitrary: fc.constantFrom(...NUMBERS) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: fc.base64String({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(...SQL, ...UNICODE, ...PERCENT), { minLength: 2, maxLength: 5 }).map((a) => a.join("")) },
);

// ---- seeding -------------------------------------------------------------------------------

const ORGS = ["fuzz-acme", "fuzz-beta"];
const today = todayDate();
let platform = "";
const orgTokens: Record<string, string> = {};
/** Cursors the API itself issued (recent-logins' Link header), to mutate. */
const realCursors: string[] = [];
const RUN = Math.random().toString(36).slice(2, 8);
let nextId = 0;
const freshId = () => `fz-${RUN}-${nextId++}`;

beforeAll(async () => {
  platform = await platformToken();
  for (const org of ORGS) orgTokens[org] = await orgToken(org);
  const events: EventInput[] = [];
  for (const org of ORGS) {
    for (let i = 0; i < 60; i++) {
      events.push({
        id: freshId(),
        org,
        user_id: `user-${i % 9}`,
        identity_type: i % 5 === 0 ? "machine" : "human",
        service_id: `svc-${i % 3}`,
        service_name: `Service ${i % 3}`,
        provider: ["github", "google", "password"][i % 3],
        outcome: i % 7 === 0 ? "failure" : "success",
        created_at: new Date(Date.now() - (i % 50) * DAY_MS - i * 60_000).toISOString(),
        ip_address: i % 2 ? "203.0.113.7" : "2001:db8::1",
        user_agent: "Mozilla/5.0 (fuzz)",
        country: i % 2 ? "DE" : "us",
      });
    }
  }
  expect(await ingest(events)).toEqual({ accepted: events.length, duplicates: 0 });
  for (const org of ORGS) await prepareRouteData(org);
  for (const org of ORGS) {
    const res = await request(`/api/organizations/${org}/analytics/recent-logins?limit=3`, { token: orgTokens[org] });
    expect(res.status).toBe(200);
    const link = res.headers.get("link");
    const cursor = link && /[?&]cursor=([^&>]+)/.exec(link)?.[1];
    expect(cursor).toBeTruthy();
    realCursors.push(decodeURIComponent(cursor!));
  }
});

// ---- GET routes: hostile query strings and org slugs ----------------------------------------

/** Cursors in the API's format for positions it may never have issued. */
const wellFormedCursor = fc
  .tuple(fc.oneof(fc.integer({ min: Date.now() - 90 * DAY_MS, max: Date.now() }), fc.nat(), fc.constant(999_999_999_999_999)), fc.oneof(fc.nat(1_000), fc.nat(), fc.constant(999_999_999_999_999)))
  .map(([t, seq]) => btoa(`${t}.${seq}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""));

/** Dates at which the accepted calendar has edges: today, 9999-12-31, years 0100 and 1970. */
const EDGES = [today, "9999-12-31", "9999-12-26", "0100-01-01", "1970-01-01"];

/** A valid value for a declared parameter, so a query gets past validation and does real work. */
function validValueFor(param: ServedRoute["query"][number]): fc.Arbitrary<string> {
  if (param.schema.enum) return fc.constantFrom(...param.schema.enum);
  if (/date/.test(param.name)) return fc.oneof(fc.integer({ min: -400, max: 30 }).map((d) => addDays(today, d)), fc.constantFrom(...EDGES));
  if (/cursor/.test(param.name)) return fc.oneof(fc.constantFrom(...realCursors), wellFormedCursor);
  if (/limit/.test(param.name)) return fc.oneof(fc.integer({ min: 1, max: 1_000 }), fc.constantFrom(1, 2, 1_000)).map(String);
  if (param.schema.type === "integer" || param.schema.type === "number") return fc.nat(100).map(String);
  return fc.constantFrom("svc-0", "svc-1", "svc-2", "nope");
}

/** Values aimed at one declared query parameter; always mixed with generic hostility. */
function valueFor(param: ServedRoute["query"][number]): fc.Arbitrary<string> {
  const specific: fc.Arbitrary<string>[] = [];
  const name = param.name;
  if (param.schema.enum) {
    const values = param.schema.enum;
    specific.push(fc.constantFrom(...values), fc.constantFrom(...values).map((v) => v.toUpperCase()), fc.constantFrom(...values).map((v) => ` ${v}`));
  }
  if (param.schema.type === "integer" || param.schema.type === "number" || /limit|offset/.test(name)) {
    specific.push(fc.constantFrom(...NUMBERS), fc.integer({ min: -5, max: 2_000 }).map(String), fc.double().map(String), fc.bigInt().map(String));
  }
  if (/date/.test(name)) {
    specific.push(
      fc.constantFrom(...BAD_DATES),
      fc.integer({ min: -4_000, max: 400 }).map((d) => addDays(today, d)),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
      fc.constantFrom("9999-12-31", "9999-12-27", "9999-12-26", "0100-01-01", "0100-01-04", "1970-01-01", "1969-12-29", "2024-02-29"),
      fc.tuple(fc.nat(99_999), fc.nat(99), fc.nat(99)).map(([y, m, d]) => `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`),
    );
  }
  if (/cursor/.test(name)) {
    specific.push(
      fc.constantFrom(...realCursors),
      wellFormedCursor,
      fc.tuple(fc.constantFrom(...realCursors), fc.nat(40), fc.string({ maxLength: 3 })).map(([c, i, s]) => c.slice(0, i) + s + c.slice(i)),
      fc.base64String({ maxLength: 200 }),
      fc.tuple(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n })).map(([a, b]) =>
        btoa(`${a}.${b}`).replace(/=+$/, ""),
      ),
      fc.constantFrom("", "=", "====", "-_-_", "AAAA", btoa("1.2"), btoa(`${"9".repeat(15)}.${"9".repeat(15)}`), btoa(`${"9".repeat(16)}.1`), btoa("1e3.1"), btoa("-1.-1")),
      fc.string({ unit: "binary", maxLength: 30 }).map((s) => {
        try {
          return btoa(s);
        } catch {
          return s;
        }
      }),
    );
  }
  if (specific.length === 0) specific.push(fc.string({ minLength: 1, maxLength: 64 }), fc.constantFrom("svc-0", "svc-1", "nope"));
  return fc.oneof({ weight: 2, arbitrary: fc.oneof(...specific) }, { weight: 1, arbitrary: hostileString });
}

const UNKNOWN_PARAMS = ["foo", "LIMIT", "Start_Date", "limit[]", "start_date[]", "__proto__", "constructor", "toString", "start%5Fdate", "", "a=b", "😀", "' OR 1=1 --"];

type Encoding = "uri" | "raw" | "form";
const encodingArb = fc.constantFrom<Encoding>("uri", "uri", "raw", "form");

function encode(text: string, how: Encoding): string {
  if (how === "raw") return text;
  if (how === "form") return new URLSearchParams([["k", text]]).toString().slice(2);
  try {
    return encodeURIComponent(text);
  } catch {
    return text; // lone surrogates: the URL parser turns them into %EF%BF%BD
  }
}

/** A raw query string (sometimes malformed on purpose): declared params, repeats, unknowns, junk. */
function queryArb(route: ServedRoute): fc.Arbitrary<string> {
  const declared = route.query.map((p) => fc.tuple(fc.constant(p.name), valueFor(p)));
  const unknown = fc.tuple(fc.oneof(fc.constantFrom(...UNKNOWN_PARAMS), fc.string({ maxLength: 10 })), hostileString);
  const pair = declared.length > 0 ? fc.oneof({ weight: 4, arbitrary: fc.oneof(...declared) }, { weight: 1, arbitrary: unknown }) : unknown;
  const part = fc.oneof(
    { weight: 8, arbitrary: fc.tuple(pair, encodingArb, encodingArb).map(([[k, v], ek, ev]) => `${encode(k, ek)}=${encode(v, ev)}`) },
    { weight: 1, arbitrary: fc.constantFrom(...PERCENT) },
    { weight: 1, arbitrary: pair.map(([k]) => k) }, // a key without "="
  );
  // A valid query (so it reaches the database; dates anchored at the calendar's edges too),
  // sometimes with hostile extras appended.
  const hasRange = route.query.some((p) => p.name === "start_date") && route.query.some((p) => p.name === "end_date");
  const isRange = (name: string) => hasRange && (name === "start_date" || name === "end_date");
  const rangeArb = fc.tuple(fc.constantFrom(...EDGES), fc.integer({ min: 0, max: 3_700 }), fc.integer({ min: 0, max: 60 })).map(([anchor, span, back]) => {
    const end = anchor <= "5000" ? addDays(anchor, back + span) : addDays(anchor, -back);
    return [`start_date=${addDays(end, -span)}`, `end_date=${end}`];
  });
  const others = route.query.filter((p) => !isRange(p.name)).map((p) => fc.option(validValueFor(p).map((v) => `${p.name}=${encodeURIComponent(v)}`), { nil: undefined }));
  const validArb = fc
    .tuple(hasRange ? fc.option(rangeArb, { nil: undefined, freq: 4 }) : fc.constant(undefined), fc.tuple(...others), fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(part, { minLength: 1, maxLength: 2 }) }))
    .map(([range, rest, extra]) => `?${[...(range ?? []), ...rest.filter((x) => x !== undefined), ...extra].join("&")}`);
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant("") },
    { weight: route.query.length > 0 ? 6 : 0, arbitrary: validArb },
    { weight: 6, arbitrary: fc.array(part, { minLength: 1, maxLength: 6 }).map((parts) => `?${parts.join("&")}`) },
    // Repeats of one declared parameter (?limit=1&limit=2).
    {
      weight: 2,
      arbitrary:
        declared.length > 0
          ? fc.oneof(...declared).chain(([k]) => fc.array(valueFor(route.query.find((p) => p.name === k)!), { minLength: 2, maxLength: 3 }).map((vs) => `?${vs.map((v) => `${k}=${encode(v, "uri")}`).join("&")}`))
          : fc.constant("?a=1&a=2"),
    },
    { weight: 1, arbitrary: fc.constantFrom("?", "??", "?&", "?&&&", "?=", "?==&=", "?%", "?%%", "?#", "?a=1#frag", "?&limit") },
  );
}

async function tokenFor(route: ServedRoute, org: string): Promise<string | undefined> {
  if (route.kind === "platform") return platform;
  if (route.kind === "org") return orgTokens[org] ?? platform;
  return undefined;
}

const getRoutes = () => servedRoutes().filter((r) => r.method === "GET");

describe("GET routes: hostile query strings never produce a 5xx or a non-contract error", () => {
  let before: DbState;
  beforeAll(async () => {
    before = await dbState();
  });
  afterAll(async () => {
    // Reads write nothing, whatever they are fed.
    expect(await dbState()).toEqual(before);
  });

  for (const route of getRoutes()) {
    it(`${route.label} (${route.query.map((p) => p.name).join(", ") || "no declared params"})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...ORGS), fc.boolean(), queryArb(route), async (org, asPlatform, query) => {
          const tok = route.kind === "org" && asPlatform ? platform : await tokenFor(route, org);
          // a dev route answers 404 (contract error) in tests, as on any deployed worker
          await send(`${pathFor(route, org)}${query}`, { token: tok }, 200, "case", route.kind === "page" ? "page" : route.responseTypes);
        }),
        { numRuns: RUNS.getPerRoute },
      );
    });
  }

  it("hostile org slugs in the path of every org route (platform-owner token, so the slug is what is tested)", async () => {
    const orgRoutes = getRoutes().filter((r) => r.kind === "org");
    const slugArb = fc.oneof(
      fc.constantFrom("..", ".", "%2F", "%2f..%2f", "a%2Fb", "a/b", "../../api/platform/analytics/overview", "%2E%2E", "%00", "%", "%FF", "%E0%A4%A", "?", "#", ";", " ", "%20", "FUZZ-ACME", "fuzz-acme ", "fuzz-acme%00", "fuzz-acme/", "nope"),
      fc.tuple(hostileString, encodingArb).map(([s, how]) => encode(s, how)),
      fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/),
      fc.integer({ min: 64, max: 10_000 }).map((n) => "a".repeat(n)),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...orgRoutes).chain((r) => fc.tuple(fc.constant(r), slugArb, fc.oneof(fc.constant(""), queryArb(r)))), async ([route, slug, query]) => {
        // The slug goes into the path as given (already encoded, or raw on purpose).
        await send(`${route.path.replace(":org_slug", slug)}${query}`, { token: platform }, 200, "case", route.responseTypes);
      }),
      { numRuns: RUNS.orgSlug },
    );
  });
});

// ---- POST /api/events ----------------------------------------------------------------------

/** Ingest tokens are re-minted with a fresh subject now and then: the per-token rate limit is not what is fuzzed here. */
let writer = { token: "", uses: 0 };
async function writerToken(): Promise<string> {
  if (!writer.token || writer.uses >= 300) {
    writer = { token: await token({ claims: { sub: `fuzz-writer-${RUN}-${nextId++}`, scope: "events:write" } }), uses: 0 };
  }
  writer.uses++;
  return writer.token;
}

const WRITE_ORGS = [...ORGS, "fuzz-gamma"];
const PROVIDERS = ["github", "google", "password", "GitHub", "saml_okta", "x"];

/** Lone surrogates become U+FFFD: the schema refuses them (they cannot be stored as UTF-8). */
const wellFormed = (a: fc.Arbitrary<string>) => a.map((v) => v.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD"));

/** A valid event (without id: ids are assigned when the case runs, so they are fresh). */
const validEventArb = fc
  .record(
    {
      org: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...WRITE_ORGS) }, { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/) }),
      user_id: wellFormed(fc.oneof(fc.nat(30).map((n) => `user-${n}`), fc.string({ minLength: 1, maxLength: 128 }), fc.string({ unit: "binary", minLength: 1, maxLength: 60 }), fc.constantFrom(...UNICODE, ...SQL))),
      identity_type: fc.constantFrom("human", "machine"),
      service_id: wellFormed(fc.oneof(fc.nat(3).map((n) => `svc-${n}`), fc.string({ minLength: 1, maxLength: 64 }), fc.constantFrom(...UNICODE, ...SQL))),
      service_name: wellFormed(fc.oneof(fc.string({ minLength: 1, maxLength: 200 }), fc.string({ unit: "binary", minLength: 1, maxLength: 60 }), fc.constantFrom(...UNICODE, ...SQL))),
      provider: fc.constantFrom(...PROVIDERS),
      outcome: fc.constantFrom("success", "failure"),
      created_at: fc.integer({ min: -90 * 24 * 60, max: 4 }).map((min) => new Date(Date.now() + min * 60_000).toISOString()),
      ip_address: fc.oneof(fc.ipV4(), fc.ipV6()),
      user_agent: wellFormed(fc.oneof(fc.string({ maxLength: 512 }), fc.string({ unit: "binary", maxLength: 100 }))),
      country: fc.constantFrom("US", "de", "Fr"),
    },
    { requiredKeys: ["org", "user_id", "service_id", "provider"] },
  )
  .map((e) => e as Record<string, unknown>);

const FIELDS = ["id", "org", "user_id", "identity_type", "service_id", "service_name", "provider", "outcome", "created_at", "ip_address", "user_agent", "country"];

/** Replacement values that are invalid for the field whatever else the event holds. */
const ALWAYS_BAD: Record<string, unknown[]> = {
  id: ["", "x".repeat(65), 1, 0, null, [], {}, true, ["a"], "\ud800", "a\udfff"],
  org: ["", "ACME", "-x", "a".repeat(64), "a_b", "a b", "' OR 1=1 --", "1; DROP TABLE login_events", "acme\u0000", "Ａｃｍｅ", "\ud800", "😀", null, 5, {}],
  user_id: ["", "u".repeat(129), 5, null, [], { $gt: "" }, "\udc00\ud800", "x\ud83d"],
  identity_type: ["robot", "HUMAN", "", 1, null, ["human"]],
  service_id: ["", "s".repeat(65), false, null, 7, "\ud800"],
  service_name: ["", "n".repeat(201), 0, null, "name \udfff"],
  provider: ["", "a b", "x".repeat(33), "' OR 1=1 --", "😀", "-github", "_x", null, 1],
  outcome: ["ok", "SUCCESS", "", true, null],
  created_at: [
    "2025-02-30T00:00:00Z",
    "2025-13-01T00:00:00Z",
    "2025-01-01",
    "2025-01-01T00:00:00",
    "2025-01-01 00:00:00Z",
    "0000-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "9999-12-31T23:59:59Z",
    "+002025-01-01T00:00:00Z",
    "2025-01-01T24:00:00Z",
    "2025-01-01T00:00:60Z",
    "2025-01-01T00:00:00+25:00",
    "now",
    "",
    1735689600,
    null,
    {},
  ],
  ip_address: ["256.1.1.1", "1.2.3", "::g", "' OR 1=1 --", "localhost", "", 0, null],
  user_agent: ["a".repeat(513), 5, {}, null, "agent \ud800"],
  country: ["USA", "u", "12", "üs", "", 1, null],
};

/** Any replacement at all: may be valid or not. */
const anyValueArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.constantFrom(0, -1, 1.5, 1e308, -0, true, false, null, [], {}, ["x"], { $gt: "" }, [[[]]]) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_DATES.map((d) => `${d}T00:00:00Z`), "1970-01-01T00:00:00Z", "2025-01-01T00:00:00.123456789+05:30") },
);

const MISSING = Symbol("missing");
type Mutation = { field: string; value: unknown };
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  field: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...FIELDS) }, { weight: 1, arbitrary: fc.constantFrom("extra", "events", "toString", "ID", "org ") }),
  value: fc.oneof({ weight: 5, arbitrary: anyValueArb }, { weight: 1, arbitrary: fc.constant(MISSING) }),
});

function withId(e: Record<string, unknown>): Record<string, unknown> {
  return { id: freshId(), ...e };
}

function mutate(e: Record<string, unknown>, m: Mutation): Record<string, unknown> {
  const out = { ...e };
  if (m.value === MISSING) delete out[m.field];
  else out[m.field] = m.value;
  return out;
}

/** The database state as of the last check: rejected writes must leave it exactly so. */
let known: DbState | undefined;

/**
 * POSTs one body and checks the write contract: below 500, 202 or a contract error;
 * after a refusal the database is byte-for-byte what it was; after a 202 the events
 * table grew by exactly `accepted`, accepted + duplicates = events sent, and every
 * sent (org, id) is stored (nothing silently dropped).
 */
async function post(body: BodyInit | null, opts: { contentType?: string | null; events?: Record<string, unknown>[]; method?: string; headers?: Record<string, string> } = {}) {
  known ??= await dbState();
  const before = known;
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.contentType !== null) headers["content-type"] = opts.contentType ?? "application/json";
  let r: Awaited<ReturnType<typeof send>>;
  try {
    r = await send("/api/events", { method: opts.method ?? "POST", token: await writerToken(), headers, body }, 202);
  } finally {
    // Always the true current state, so one failing case does not fail every later one
    // (which would also send fast-check's shrinking to a bogus counterexample).
    known = await dbState();
  }
  const after = known;
  if (r.status === 202) {
    const result = r.body as { accepted: number; duplicates: number };
    expect(Object.keys(result).sort()).toEqual(["accepted", "duplicates"]);
    expect(Number.isInteger(result.accepted) && result.accepted >= 0).toBe(true);
    expect(Number.isInteger(result.duplicates) && result.duplicates >= 0).toBe(true);
    expect(after.counts.login_events, "stored events must grow by exactly `accepted`").toBe(before.counts.login_events + result.accepted);
    if (opts.events) {
      expect(result.accepted + result.duplicates).toBe(opts.events.length);
      const stored = await Promise.all(
        opts.events.map((e) => countEverywhere("SELECT COUNT(*) AS n FROM login_events e JOIN organizations o ON o.id = e.org_id WHERE o.slug = ? AND e.event_id = ?", e.org, e.id)),
      );
      for (const [i, n] of stored.entries()) {
        expect(n, `event ${JSON.stringify(opts.events![i]).slice(0, 200)} was accepted but not stored`).toBe(1);
      }
    }
  } else {
    expect(after, `${r.status} ${r.error?.error_code} changed the database`).toEqual(before);
  }
  return r;
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const bytes = (s: string) => new TextEncoder().encode(s);

describe("POST /api/events: hostile bodies never produce a 5xx, and refused writes change nothing", () => {
  it("(a) arbitrary values and JSON values as the body", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything({ maxDepth: 4, withNullPrototype: true, withSparseArray: true }),
          fc.jsonValue({ maxDepth: 5 }),
          fc.dictionary(fc.constantFrom(...FIELDS, "events"), fc.jsonValue({ maxDepth: 2 })),
          fc.record({ events: fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 5 }) }),
        ),
        async (value) => {
          let text: string | undefined;
          try {
            text = JSON.stringify(value);
          } catch {
            text = String(value);
          }
          await post(bytes(text ?? ""));
        },
      ),
      { numRuns: RUNS.anything },
    );
  });

  it("(b) valid events with one or more fields replaced by a wrong type, huge/unicode/SQL string, bad date, null, or removed", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(validEventArb, fc.array(mutationArb, { minLength: 0, maxLength: 3 })), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        async (specs, asBatch) => {
          const events = specs.map(([e, ms]) => ms.reduce(mutate, withId(e)));
          if (asBatch || events.length > 1) await post(json({ events }), { events });
          else await post(json(events[0]), { events });
        },
      ),
      { numRuns: RUNS.mutated },
    );
  });

  it("(c) deep nesting (thousands to hundreds of thousands of levels) is a 400/413, never a crash", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1_000, max: 200_000 }),
        fc.constantFrom("array", "object", "mixed"),
        fc.constantFrom("top", "events", "event", "field", "unterminated"),
        async (depth, shape, where) => {
          const open = shape === "array" ? "[" : shape === "object" ? '{"a":' : '[{"a":';
          const close = shape === "array" ? "]" : shape === "object" ? "}" : "}]";
          const n = shape === "mixed" ? Math.ceil(depth / 2) : depth;
          const deep = open.repeat(n) + (shape === "array" ? "" : "1") + close.repeat(n);
          const ev = JSON.stringify({ id: freshId(), org: "fuzz-acme", user_id: "u", service_id: "s", provider: "github" });
          const body =
            where === "top" ? deep
            : where === "events" ? `{"events":${deep}}`
            : where === "event" ? `{"events":[${ev},${deep}]}`
            : where === "field" ? `${ev.slice(0, -1)},"user_id":${deep}}`
            : open.repeat(n);
          const r = await post(bytes(body));
          expect([400, 413]).toContain(r.status);
        },
      ),
      { numRuns: RUNS.deepNesting },
    );
  });

  it("(d) one bad event among valid ones refuses the whole batch, naming its index", async () => {
    const badFieldArb = fc.constantFrom(...Object.keys(ALWAYS_BAD)).chain((field) =>
      fc.record({ field: fc.constant(field), value: fc.constantFrom(...ALWAYS_BAD[field]) }),
    );
    const badEventArb = fc.oneof(
      { weight: 6, arbitrary: fc.tuple(validEventArb, badFieldArb).map(([e, m]) => ({ kind: "field" as const, event: e, m })) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(null, "event", 5, [], [{}], true).map((v) => ({ kind: "whole" as const, value: v })) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(validEventArb, { minLength: 1, maxLength: 30 }), fc.nat(), badEventArb, async (valid, at, bad) => {
        const events: unknown[] = valid.map(withId);
        const index = at % (events.length + 1);
        events.splice(index, 0, bad.kind === "whole" ? bad.value : mutate(withId(bad.event), bad.m));
        const r = await post(json({ events }));
        expect(r.status, JSON.stringify(events[index]).slice(0, 300)).toBe(400);
        if (r.status === 400) {
          expect(r.error?.details?.some((d) => d.path === `events[${index}]` || d.path.startsWith(`events[${index}].`)), JSON.stringify(r.error).slice(0, 500)).toBe(true);
        }
      }),
      { numRuns: RUNS.oneBadInBatch },
    );
  });

  it("(e) non-JSON, broken JSON, invalid UTF-8, empty bodies; wrong, odd or missing content types; other methods", async () => {
    const CONTENT_TYPES = [
      null,
      "",
      "application/json",
      "application/json; charset=utf-8",
      "application/json;charset=UTF-16",
      "APPLICATION/JSON",
      "application/json;",
      "application/json ; x=y",
      "application/jsonx",
      "application/json5",
      "application/vnd.api+json",
      "application/x+y+json",
      "application/ld+json; profile=x",
      "application/foo bar+json",
      "text/json",
      "text/plain",
      "text/plain; charset=utf-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=xyz",
      "application/octet-stream",
      "*/*",
      "json",
      "application/",
      "application/json, text/plain",
      "' OR 1=1 --",
    ];
    const valid = () => ({ id: freshId(), org: "fuzz-beta", user_id: "u-1", service_id: "svc-1", provider: "google" });
    const bodyArb = fc.oneof(
      fc.constantFrom(
        "",
        " ",
        "\n",
        "{",
        "}",
        "[",
        "]",
        '{"id":',
        '{"events":[',
        "null",
        "true",
        "0",
        "-0",
        "1e999",
        '"event"',
        "undefined",
        "NaN",
        "Infinity",
        "{'id':'x'}",
        "{id:1}",
        '{"a":1,}',
        "[1,]",
        '{"a" 1}',
        "// comment\n{}",
        "{} {}",
        "{}garbage",
        "\u0000",
        "\ufeff{}",
        "<xml/>",
        "id=1&org=acme",
        "' OR 1=1 --",
        "\\u0000",
        '"\\ud800"',
        '{"id":"\\ud800","org":"fuzz-acme","user_id":"\\udc00","service_id":"\\u0000","provider":"github"}',
      ),
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v).slice(0, -1)), // truncated JSON
      fc.constant(null).map(() => JSON.stringify(valid())),
      fc.constant(null).map(() => JSON.stringify({ events: [valid(), valid()] })),
      fc.constant(null).map(() => `\ufeff${JSON.stringify(valid())}`),
      fc.constant(null).map(() => `${JSON.stringify(valid())}\n${JSON.stringify(valid())}`),
    );
    await fc.assert(
      fc.asyncProperty(
        bodyArb,
        fc.oneof(fc.constantFrom(...CONTENT_TYPES), fc.string({ unit: "binary-ascii", maxLength: 40 }).map((s) => s.replace(/[\0\r\n]/g, ""))),
        fc.constantFrom("utf8", "utf8", "invalid-utf8", "utf16", "none"),
        fc.constantFrom("POST", "POST", "POST", "POST", "PUT", "PATCH", "DELETE"),
        fc.option(fc.constantFrom<Record<string, string>>({ "content-encoding": "gzip" }, { "content-encoding": "br" }, { "transfer-encoding": "chunked" }, { "content-length": "0" }), { nil: undefined }),
        async (text, contentType, encoding, method, extra) => {
          let body: BodyInit | null;
          if (encoding === "none") body = null;
          else if (encoding === "utf16") body = new Uint8Array(new Uint16Array([...text].map((c) => c.charCodeAt(0))).buffer);
          else if (encoding === "invalid-utf8") body = new Uint8Array([0xff, 0xfe, ...bytes(text), 0xc0, 0xaf, 0xed, 0xa0, 0x80]);
          else body = bytes(text);
          let headers: Record<string, string> | undefined = extra;
          if (headers) {
            // A header the runtime refuses to build is a test-side impossibility, not a case.
            try {
              new Headers(headers);
            } catch {
              headers = undefined;
            }
          }
          let ct = contentType;
          try {
            if (ct !== null) new Headers({ "content-type": ct });
          } catch {
            ct = "application/json";
          }
          await post(body, { contentType: ct, method, headers });
        },
      ),
      { numRuns: RUNS.rawBodies },
    );
  });

  it("(f) duplicate keys, __proto__ and constructor keys: no prototype pollution, no smuggled fields", async () => {
    const smugglingArb = fc.constantFrom(
      '"__proto__":{"is_platform_owner":true,"polluted":"yes"}',
      '"__proto__":{"id":"smuggled","org":"fuzz-acme","user_id":"u","service_id":"s","provider":"github"}',
      '"constructor":{"prototype":{"polluted":"yes"}}',
      '"__proto__":null',
      '"__proto__":[]',
      '"prototype":{"polluted":"yes"}',
      '"hasOwnProperty":"x"',
      '"toString":"x"',
      '"valueOf":{}',
    );
    const entryArb = fc.oneof(
      smugglingArb,
      fc.tuple(fc.constantFrom(...FIELDS), anyValueArb).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? "null"}`),
    );
    await fc.assert(
      fc.asyncProperty(
        validEventArb,
        fc.array(fc.tuple(entryArb, fc.nat()), { minLength: 1, maxLength: 4 }),
        fc.constantFrom("single", "batch", "batch-outer"),
        async (e, extras, wrap) => {
          const ev = withId(e);
          const entries = Object.entries(ev).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
          for (const [entry, at] of extras) entries.splice(at % (entries.length + 1), 0, entry);
          const object = `{${entries.join(",")}}`;
          const body =
            wrap === "single" ? object
            : wrap === "batch" ? `{"events":[${object}]}`
            : `{${extras.map(([x]) => x).join(",")},"events":[${JSON.stringify(ev)}]}`;
          // What JSON.parse makes of it (last duplicate wins): the events that a 202 must have stored.
          const parsed = JSON.parse(body) as Record<string, unknown>;
          const sent = (wrap === "single" ? [parsed] : (parsed.events as Record<string, unknown>[])) ?? [];
          const r = await post(bytes(body), { events: sent });
          if (r.status === 202) expect(sent.every((s) => Object.hasOwn(s, "id") && Object.hasOwn(s, "org"))).toBe(true);
          expect(Object.prototype).not.toHaveProperty("polluted");
          expect(Object.prototype).not.toHaveProperty("is_platform_owner");
          expect(({} as Record<string, unknown>).id).toBeUndefined();
        },
      ),
      { numRuns: RUNS.duplicateKeys },
    );
  });
});

// ---- governance writes: settings and the identity inventory -------------------------------

const SECRETS = [`whsec_${btoa("k".repeat(32))}`, `whsec_${btoa("q".repeat(24))}`, `whsec_${btoa("z".repeat(64))}`];
const HOSTILE_URLS = [
  "https://hooks.example.com/loginpulse",
  "https://203.0.113.9/hook",
  "http://hooks.example.com/x",
  "https://127.0.0.1/x",
  "https://0x7f.1/x",
  "https://[::ffff:169.254.169.254]/x",
  "https://169.254.169.254/latest",
  "https://metadata.google.internal/",
  "https://localhost:8443/",
  "https://a@b.example.com/",
  "javascript:alert(1)",
  "https://%00/",
  "https://xn--80ak6aa92e.com/",
  `https://hooks.example.com/${"a".repeat(3000)}`,
  "",
];

/** Settings bodies: valid values, near-misses and hostile ones for each field, sometimes a field left out. */
const settingsBodyArb = fc.record(
  {
    human_thresholds: fc.oneof(fc.uniqueArray(fc.integer({ min: 7, max: 3650 }), { minLength: 1, maxLength: 5 }).map((a) => a.sort((x, y) => x - y)), fc.array(fc.integer({ min: -5, max: 4000 }), { maxLength: 7 }), anyValueArb),
    machine_thresholds: fc.oneof(fc.constant([7, 14, 30]), fc.array(fc.double(), { maxLength: 3 }), anyValueArb),
    report_identity_types: fc.oneof(fc.constantFrom("all", "human", "machine", "ALL", "robots"), anyValueArb),
    webhook_url: fc.oneof(fc.constantFrom(...HOSTILE_URLS), fc.constant(null), anyValueArb),
    webhook_secret: fc.oneof(fc.constantFrom(...SECRETS), fc.constantFrom("whsec_", "whsec_!!!!", `whsec_${btoa("short")}`), anyValueArb),
    extra: anyValueArb,
  },
  { requiredKeys: [] },
);

/** Inventory bodies: a few identities whose fields are valid, hostile, or missing. */
const inventoryBodyArb = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      identities: fc.array(
        fc.record(
          {
            user_id: fc.oneof(fc.nat(20).map((n) => `inv-${n}`), wellFormed(fc.string({ minLength: 1, maxLength: 128 })), anyValueArb),
            identity_type: fc.oneof(fc.constantFrom("human", "machine"), anyValueArb),
            display_name: fc.oneof(wellFormed(fc.string({ minLength: 1, maxLength: 200 })), anyValueArb),
            owner: fc.oneof(fc.constantFrom("team-a", "ops@example.com"), anyValueArb),
            created_at: fc.oneof(fc.integer({ min: -4000, max: 0 }).map((d) => new Date(Date.now() + d * DAY_MS).toISOString()), anyValueArb),
          },
          { requiredKeys: ["user_id"] },
        ),
        { minLength: 0, maxLength: 6 },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.record({ identities: anyValueArb })) },
);

describe("governance writes: hostile bodies never produce a 5xx, refusals change nothing, secrets never come back", () => {
  const writes = () => servedRoutes().filter((r) => r.kind === "org-admin" || r.kind === "inventory");
  let admin = "";
  let inventoryWriter = "";
  beforeAll(async () => {
    admin = await token({ claims: { org: ORGS[0], scope: "org:admin" } });
    inventoryWriter = await token({ claims: { scope: "inventory:write" } });
  });

  /** Sends one write and checks: below 500, its success status or a contract 4xx; a refusal leaves the database as it was; no secret echoed. */
  async function write(route: ServedRoute, path: string, body: string | undefined, tok: string, contentType = "application/json") {
    known ??= await dbState();
    const before = known;
    let r: Awaited<ReturnType<typeof send>>;
    try {
      r = await send(path, { method: route.method, token: tok, body, headers: body === undefined ? {} : { "content-type": contentType } }, route.okStatus);
    } finally {
      known = await dbState();
    }
    if (r.status >= 400) expect(known, `${route.label} ${r.status} ${r.error?.error_code} changed the database`).toEqual(before);
    const text = JSON.stringify(r.status >= 400 ? r.error : r.body);
    for (const secret of SECRETS) expect(text.includes(secret.slice(6)), `${route.label} echoes a secret`).toBe(false);
    return r;
  }

  it("covers every governance write route", () => {
    expect(writes().map((r) => r.kind).sort()).toEqual(["inventory", "inventory", "org-admin"]);
  });

  for (const route of writes()) {
    it(`${route.label}`, async () => {
      const bodyArb: fc.Arbitrary<unknown> = route.kind === "org-admin" ? settingsBodyArb : route.method === "PUT" ? inventoryBodyArb : fc.constant(undefined);
      const userArb = fc.oneof(fc.constantFrom("inv-1", "inv-2", "route-sample-identity", "nobody"), fc.tuple(hostileString, encodingArb).map(([v, how]) => encode(v, how)));
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...ORGS),
          bodyArb,
          userArb,
          fc.oneof({ weight: 6, arbitrary: fc.constant("") }, { weight: 1, arbitrary: queryArb(route) }),
          fc.oneof({ weight: 8, arbitrary: fc.constant("json") }, { weight: 1, arbitrary: fc.constantFrom("raw", "text", "none") }),
          async (org, body, user, query, how) => {
            const tok = route.kind === "org-admin" ? (org === ORGS[0] ? admin : platform) : inventoryWriter;
            const path = route.path.replace(":org_slug", org).replace(":user_id", user) + query;
            if (how === "none") return void (await write(route, path, undefined, tok));
            const text = how === "raw" ? JSON.stringify(body)?.slice(0, -1) : JSON.stringify(body);
            await write(route, path, text, tok, how === "text" ? "text/plain" : "application/json");
          },
        ),
        { numRuns: RUNS.governanceWrites },
      );
    });
  }
});

// ---- reads over what the fuzz stored ---------------------------------------------------------

describe("reads over the hostile values the fuzz stored (NUL, RTL, BOM, SQL-looking ids and names)", () => {
  async function readEverything() {
    const orgs = (await rowsEverywhere<{ slug: string }>("SELECT slug FROM organizations")).map((r) => r.slug).sort();
    // what routes with sample values name (test/routes.ts), for every organization the fuzz made
    for (const org of orgs) await prepareRouteData(org);
    // the dev route is 404 in tests (as deployed) and reads no data
    for (const route of getRoutes().filter((r) => r.kind !== "dev")) {
      const queries = ["", `?start_date=${addDays(today, -120)}&end_date=${today}`, ...(route.query.some((p) => p.name === "limit") ? ["?limit=1000"] : [])];
      for (const org of route.kind === "org" ? orgs : [ORGS[0]]) {
        for (const query of queries) {
          const r = await send(`${pathFor(route, org)}${query}`, { token: platform }, 200, "read", route.kind === "page" ? "page" : route.responseTypes);
          expect(r.status, `${route.label} for ${org}${query}`).toBe(200);
        }
      }
    }
  }

  it("every GET route answers 200 for every organization, before and after the rollup folds it", async () => {
    await readEverything();
    const before = await dbState();
    await rollup();
    expect(await dbState()).not.toEqual(before); // the rollup did fold the fuzz's events
    await readEverything();
  });
});


