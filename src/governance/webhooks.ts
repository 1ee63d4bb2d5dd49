import { sql, type SQL } from "drizzle-orm";
import { namedBatch } from "../db/client";
import { organizations, orgSettings, reports, webhookAttempts, webhookDeliveries } from "../db/schema";
import type { Db } from "../env";
import { secretKeyBytes } from "./settings";

/**
 * Report webhooks: where they may point, and how deliveries are signed (Standard Webhooks,
 * https://www.standardwebhooks.com): headers `webhook-id` (stable per report, so a receiver
 * dedupes retries), `webhook-timestamp` (Unix seconds of this attempt) and
 * `webhook-signature` = space-separated `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
 * one per valid secret (the current one and, for 24 h after a rotation, the previous one).
 */

// ---- where a webhook may point ----------------------------------------------------------------

/** Names that only ever resolve inside a network (RFC 6761/6762/8375, cloud metadata services). */
const INTERNAL_NAME = /(^|\.)(localhost|local|internal|intranet|lan|home\.arpa|localdomain)$|^(metadata|instance-data)$/i;

function ipv4Private(a: number, b: number): boolean {
  return (
    a === 0 || // "this network"
    a === 10 ||
    a === 127 || // loopback
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local, including the 169.254.169.254 metadata service
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) || // 192.0.0.0/16: IETF protocol assignments, documentation
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    a >= 224 // multicast, reserved, broadcast
  );
}

/** The 16-bit groups of an IPv6 literal (as the URL parser writes it: compressed, no zone). */
function ipv6Groups(host: string): number[] | undefined {
  let text = host;
  const tail: number[] = [];
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    tail.push((a << 8) | b, (c << 8) | d);
    text = `${text.slice(0, v4.index)}0:0`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  const groups = [...head, ...Array(fill).fill(0), ...rest];
  if (tail.length) groups.splice(6, 2, ...tail);
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

function ipv6Private(groups: number[]): boolean {
  const [g0, g1, , , , g5, g6, g7] = groups;
  if (groups.slice(0, 7).every((g) => g === 0) && g7 <= 1) return true; // :: and ::1
  if (groups.slice(0, 5).every((g) => g === 0) && (g5 === 0xffff || g5 === 0)) return ipv4Private(g6 >> 8, g6 & 0xff); // v4-mapped / compatible
  if (g0 === 0x64 && g1 === 0xff9b) return ipv4Private(g6 >> 8, g6 & 0xff); // NAT64
  return (g0 & 0xfe00) === 0xfc00 || (g0 & 0xffc0) === 0xfe80 || (g0 & 0xffc0) === 0xfec0 || (g0 & 0xff00) === 0xff00; // ULA, link-local, site-local, multicast
}

/**
 * Why `url` may not receive webhooks, or undefined when it may. It must be https, carry no
 * credentials, and its host must not be a loopback, private, link-local, multicast or
 * metadata address (IPv4 in any notation the URL parser accepts, IPv6 including v4-mapped and
 * NAT64 forms) or a name that only resolves inside a network. With `allowPrivate`
 * (ENVIRONMENT=development) http and private hosts are allowed, for local receivers.
 * Names are judged as written: Cloudflare's outbound fetch cannot reach private networks,
 * and deliveries never follow redirects.
 */
export function webhookUrlProblem(text: string, allowPrivate: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "must be an absolute URL";
  }
  if (url.protocol !== "https:" && !(allowPrivate && url.protocol === "http:")) return "must be an https URL";
  if (url.username || url.password) return "must not contain credentials";
  if (allowPrivate) return undefined;
  const host = url.hostname.replace(/\.$/, "");
  if (host.startsWith("[")) {
    const groups = ipv6Groups(host.slice(1, -1));
    if (!groups || ipv6Private(groups)) return "must not point to a loopback, private, link-local or metadata address";
    return undefined;
  }
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (v4) return ipv4Private(Number(v4[1]), Number(v4[2])) ? "must not point to a loopback, private, link-local or metadata address" : undefined;
  if (!host.includes(".") || INTERNAL_NAME.test(host)) return "must name a public host (not localhost, an internal name or a metadata service)";
  return undefined;
}

// ---- signing ---------------------------------------------------------------------------------

const encoder = new TextEncoder();

async function hmacBase64(key: Uint8Array, content: string): Promise<string> {
  const cryptoKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(content)));
  let binary = "";
  for (const byte of mac) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The Standard Webhooks headers for one delivery attempt of `body`, signed with every secret given. */
export async function signedHeaders(messageId: string, timestampSeconds: number, body: string, secrets: string[]): Promise<Record<string, string>> {
  const content = `${messageId}.${timestampSeconds}.${body}`;
  const signatures = [];
  for (const secret of secrets) {
    const key = secretKeyBytes(secret);
    if (key) signatures.push(`v1,${await hmacBase64(key, content)}`);
  }
  return {
    "content-type": "application/json",
    "webhook-id": messageId,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": signatures.join(" "),
  };
}

// ---- delivery -------------------------------------------------------------------------------

/** A delivery attempt gives up after this long (the issue allows at most 15 s). */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Attempts per report before the delivery is marked failed. */
export const WEBHOOK_MAX_ATTEMPTS = 5;
/** Wait after the n-th failed attempt (then the next cron run at or after it tries again): 5 attempts within about 17 h. */
export const WEBHOOK_BACKOFF_MS = [15 * 60_000, 60 * 60_000, 4 * 3_600_000, 12 * 3_600_000] as const;
/** A Retry-After (on 429 / 503) is honoured up to this long. */
export const WEBHOOK_MAX_RETRY_AFTER_MS = 24 * 3_600_000;
/** A claimed delivery is not picked by another run for this long (a run that dies mid-attempt is retried after it). */
export const WEBHOOK_LEASE_MS = 5 * 60_000;
/** Deliveries attempted per run (concurrently): the rest wait for the next run. */
export const WEBHOOK_BATCH = 25;

export const WEBHOOK_EVENT_TYPE = "report.daily";

/** The stable `webhook-id` of a report: the same for every attempt, so receivers deduplicate. */
export const webhookMessageId = (reportId: number) => `msg_report_${reportId}`;

export interface DeliveryOptions {
  /** Scheduling clock (the cron's scheduled time); webhook-timestamp is always the real time of the attempt. */
  now: number;
  allowPrivate: boolean;
  timeoutMs?: number;
  limit?: number;
  fetcher?: typeof fetch;
}

export interface AttemptOutcome {
  status: number | null;
  error: string | null;
  retryAfterMs?: number;
  durationMs: number;
}

/** Retry-After in seconds or as an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** One POST of a signed body: never throws; a slow endpoint is cut off at the timeout, and redirects are not followed. */
export async function postSigned(url: string, messageId: string, body: string, secrets: string[], timeoutMs: number, fetcher: typeof fetch): Promise<AttemptOutcome> {
  const started = Date.now();
  try {
    const headers = await signedHeaders(messageId, Math.floor(Date.now() / 1000), body, secrets);
    const res = await fetcher(url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    const ok = res.status >= 200 && res.status < 300;
    return {
      status: res.status,
      error: ok ? null : `HTTP ${res.status}`,
      retryAfterMs: res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get("retry-after"), Date.now()) : undefined,
      durationMs: Date.now() - started,
    };
  } catch (err) {
    const name = (err as Error)?.name;
    return { status: null, error: name === "TimeoutError" || name === "AbortError" ? `timed out after ${timeoutMs} ms` : "network error", durationMs: Date.now() - started };
  }
}

export type DeliveryState = "pending" | "delivered" | "failed" | "disabled";

/** What a delivery becomes after attempt number `attempt` (1-based) with this outcome. */
export function nextState(outcome: AttemptOutcome, attempt: number, now: number): { state: DeliveryState; nextAttemptAt: number | null } {
  if (outcome.status !== null && outcome.status >= 200 && outcome.status < 300) return { state: "delivered", nextAttemptAt: null };
  if (outcome.status === 410) return { state: "disabled", nextAttemptAt: null };
  if (attempt >= WEBHOOK_MAX_ATTEMPTS) return { state: "failed", nextAttemptAt: null };
  const backoff = WEBHOOK_BACKOFF_MS[Math.min(attempt, WEBHOOK_BACKOFF_MS.length) - 1];
  const wait = Math.min(Math.max(backoff, outcome.retryAfterMs ?? 0), WEBHOOK_MAX_RETRY_AFTER_MS);
  return { state: "pending", nextAttemptAt: now + wait };
}

interface DueDelivery {
  report_id: number;
  org_id: number;
  attempts: number;
  body: string;
  slug: string;
  webhook_url: string | null;
  webhook_secret: string | null;
  previous_webhook_secret: string | null;
  previous_secret_expires_at: number | null;
  webhook_disabled_at: number | null;
}

export interface DeliveryResult {
  reportId: number;
  attempt: number | null;
  status: number | null;
  state: DeliveryState;
}

/**
 * Attempts every due delivery (up to `limit`, concurrently): claims them first in one
 * statement (a lease, so an overlapping run does not send them too), signs each report with
 * the organization's current secret (and the previous one while it is valid), posts it with
 * a timeout, and records every attempt, the delivery's next state and — on 410 Gone — the
 * disabled webhook, in one batch. A slow, failing or unreachable endpoint costs at most its
 * timeout and never fails the run. The webhook is read at attempt time: a removed, disabled
 * or no longer acceptable URL ends the delivery without sending anything.
 */
export async function deliverDue(db: Db, options: DeliveryOptions): Promise<DeliveryResult[]> {
  const { now, allowPrivate, timeoutMs = WEBHOOK_TIMEOUT_MS, limit = WEBHOOK_BATCH, fetcher = fetch } = options;
  const { claimed } = await namedBatch(db, {
    claimed: sql`UPDATE ${webhookDeliveries} SET next_attempt_at = ${now + WEBHOOK_LEASE_MS}, updated_at = ${now}
      WHERE report_id IN (
        SELECT report_id FROM ${webhookDeliveries} WHERE state = 'pending' AND next_attempt_at <= ${now}
        ORDER BY next_attempt_at, report_id LIMIT ${limit})
      RETURNING report_id`,
  });
  const ids = (claimed.results as { report_id: number }[]).map((r) => r.report_id);
  if (ids.length === 0) return [];
  const { due } = await namedBatch(db, {
    due: sql`SELECT d.report_id, d.org_id, d.attempts, r.body, o.slug, s.webhook_url, s.webhook_secret, s.previous_webhook_secret,
        s.previous_secret_expires_at, s.webhook_disabled_at
      FROM ${webhookDeliveries} d JOIN ${reports} r ON r.id = d.report_id JOIN ${organizations} o ON o.id = d.org_id
      LEFT JOIN ${orgSettings} s ON s.org_id = d.org_id
      WHERE d.report_id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`,
  });
  const rows = due.results as unknown as DueDelivery[];
  const outcomes = await Promise.all(rows.map((row) => attempt(row, now, allowPrivate, timeoutMs, fetcher)));
  const statements: Record<string, SQL> = {};
  outcomes.forEach((o, i) => {
    const row = rows[i];
    if (o.outcome) {
      statements[`log${i}`] = sql`INSERT INTO ${webhookAttempts} (report_id, attempt, attempted_at, status, error, duration_ms)
        VALUES (${row.report_id}, ${row.attempts + 1}, ${now}, ${o.outcome.status}, ${o.outcome.error}, ${o.outcome.durationMs})
        ON CONFLICT (report_id, attempt) DO NOTHING`;
    }
    statements[`delivery${i}`] = sql`UPDATE ${webhookDeliveries} SET state = ${o.state}, attempts = ${o.outcome ? row.attempts + 1 : row.attempts},
        last_status = ${o.outcome ? o.outcome.status : null}, last_error = ${o.outcome ? o.outcome.error : o.reason},
        next_attempt_at = ${o.nextAttemptAt}, updated_at = ${now}
      WHERE report_id = ${row.report_id} AND attempts = ${row.attempts}`;
    if (o.state === "disabled" && o.outcome) {
      statements[`disable${i}`] = sql`UPDATE ${orgSettings} SET webhook_disabled_at = ${now} WHERE org_id = ${row.org_id} AND webhook_disabled_at IS NULL`;
    }
  });
  await namedBatch(db, statements);
  return outcomes.map((o, i) => {
    const result = { reportId: rows[i].report_id, attempt: o.outcome ? rows[i].attempts + 1 : null, status: o.outcome?.status ?? null, state: o.state };
    // No URL, secret or body in the log line: only what happened.
    console.log(JSON.stringify({ job: "webhook", report_id: result.reportId, attempt: result.attempt, status: result.status, state: result.state }));
    return result;
  });
}

async function attempt(row: DueDelivery, now: number, allowPrivate: boolean, timeoutMs: number, fetcher: typeof fetch) {
  const end = (state: DeliveryState, reason: string) => ({ state, nextAttemptAt: null, outcome: undefined, reason });
  if (row.webhook_url === null || row.webhook_secret === null) return end("failed", "the webhook was removed from the settings");
  if (row.webhook_disabled_at !== null) return end("disabled", "the webhook is disabled (it answered 410 Gone) until the settings are saved again");
  const problem = webhookUrlProblem(row.webhook_url, allowPrivate);
  if (problem) return end("failed", `the webhook URL is not acceptable: it ${problem}`);
  const secrets = [row.webhook_secret];
  if (row.previous_webhook_secret && row.previous_secret_expires_at !== null && row.previous_secret_expires_at > now) secrets.push(row.previous_webhook_secret);
  const body = JSON.stringify({ type: WEBHOOK_EVENT_TYPE, timestamp: new Date().toISOString(), data: { org: row.slug, ...(JSON.parse(row.body) as object) } });
  const outcome = await postSigned(row.webhook_url, webhookMessageId(row.report_id), body, secrets, timeoutMs, fetcher);
  return { ...nextState(outcome, row.attempts + 1, now), outcome, reason: null };
}
