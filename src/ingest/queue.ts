/**
 * Queue-buffered ingest (optional `EVENTS_QUEUE` binding). The HTTP route validates and
 * authorizes as always, then enqueues the request's events as ONE message; the consumer
 * below writes each message through `storeSharded` (`storeEvents` per database), the same idempotent, all-or-nothing
 * path as direct ingest. Queues deliver at least once: event ids make a redelivery a
 * no-op, so nothing is counted twice; a failing message is retried with backoff, then
 * moved by Cloudflare to the dead-letter queue, whose consumer parks it in D1 until an
 * operator replays it — so nothing accepted is lost.
 */
import { sql } from "drizzle-orm";
import { z } from "zod";
import { createDb, namedBatch } from "../db/client";
import { deadLetters } from "../db/schema";
import type { Bindings, Db } from "../env";
import { storeSharded, type NormalizedEvent } from "./ingest";
import { type Databases, jobDatabases } from "../db/shards";

/** Cloudflare Queues' per-message limit is 128 KB; leave room for the envelope. */
export const MAX_MESSAGE_BYTES = 120_000;

/** Name the dead-letter queue `<events queue>-dlq`: the one `queue` handler tells the two apart by it. */
export const isDeadLetterQueue = (queueName: string) => queueName.endsWith("-dlq");

/** Retry delay for the n-th failed delivery: 10 s, 20 s, 40 s … capped at 15 min. */
export const retryDelaySeconds = (attempts: number) => Math.min(10 * 2 ** Math.max(0, attempts - 1), 900);

const normalizedEventSchema = z.object({
  id: z.string(),
  org: z.string(),
  userId: z.string(),
  identityType: z.enum(["human", "machine"]),
  serviceId: z.string(),
  serviceName: z.string().optional(),
  provider: z.string(),
  outcome: z.enum(["success", "failure"]),
  createdAt: z.number(),
  ipAddress: z.string().nullable(),
  userAgent: z.string().nullable(),
  country: z.string().nullable(),
}) satisfies z.ZodType<NormalizedEvent>;

/** What one message carries: one request's events, already validated, and its receive time. */
const messageSchema = z.object({ v: z.literal(1), receivedAt: z.number(), events: z.array(normalizedEventSchema).min(1) });
export type EventsMessage = z.infer<typeof messageSchema>;

async function gzip(text: string): Promise<ArrayBuffer> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

async function gunzip(bytes: ArrayBuffer | ArrayBufferView): Promise<string> {
  const stream = new Blob([bytes as ArrayBuffer]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).text();
}

/** The message body: gzipped JSON (a 1000-event request compresses to a few tens of KB). */
export const encodeMessage = (message: EventsMessage) => gzip(JSON.stringify(message));

/** Decodes and checks a body; throws on anything this service did not produce. */
export async function decodeMessage(body: unknown): Promise<EventsMessage> {
  if (!(body instanceof ArrayBuffer || ArrayBuffer.isView(body))) throw new Error("events message: body is not bytes");
  return messageSchema.parse(JSON.parse(await gunzip(body)));
}

/**
 * Enqueues one request's events as one message. Returns false (and sends nothing) when
 * even compressed they exceed a message: the caller then writes them directly.
 */
export async function enqueueEvents(queue: Queue, events: NormalizedEvent[], receivedAt: number): Promise<boolean> {
  const body = await encodeMessage({ v: 1, receivedAt, events });
  if (body.byteLength > MAX_MESSAGE_BYTES) return false;
  await queue.send(new Uint8Array(body), { contentType: "bytes" });
  return true;
}

/** The events queue's consumer: each message stored all-or-nothing, acked, or retried with backoff. */
export async function consumeEvents(batch: MessageBatch, env: Bindings): Promise<void> {
  const dbs = jobDatabases(env);
  for (const message of batch.messages) {
    try {
      const { receivedAt, events } = await decodeMessage(message.body);
      const result = await storeSharded(dbs, events, receivedAt);
      console.log(JSON.stringify({ job: "ingest-queue", message: message.id, attempts: message.attempts, ...result }));
      message.ack();
    } catch (err) {
      console.warn(`ingest queue: message ${message.id} failed (attempt ${message.attempts}): ${(err as Error)?.message}`);
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}

/** The dead-letter queue's consumer: parks each message in D1 (once per message id) for replay. */
export async function parkDeadLetters(batch: MessageBatch, env: Bindings): Promise<void> {
  const db = createDb(env.DB);
  for (const message of batch.messages) {
    const body = message.body instanceof ArrayBuffer ? message.body : ArrayBuffer.isView(message.body) ? message.body.buffer : new TextEncoder().encode(JSON.stringify(message.body)).buffer;
    await namedBatch(db, {
      park: sql`INSERT INTO ${deadLetters} (message_id, queue, body, attempts, parked_at)
        VALUES (${message.id}, ${batch.queue}, ${new Uint8Array(body as ArrayBuffer)}, ${message.attempts}, ${Date.now()})
        ON CONFLICT (message_id) DO NOTHING`,
    });
    message.ack();
  }
}

export interface DeadLetterRow {
  message_id: string;
  queue: string;
  attempts: number;
  parked_at: number;
  bytes: number;
}

/** Parked messages, oldest first, and how many there are. */
export async function listDeadLetters(db: Db, limit: number) {
  const { rows, total } = await namedBatch(db, {
    rows: sql`SELECT message_id, queue, attempts, parked_at, LENGTH(body) AS bytes FROM ${deadLetters} ORDER BY parked_at, message_id LIMIT ${limit}`,
    total: sql`SELECT COUNT(*) AS n FROM ${deadLetters}`,
  });
  return { rows: rows.results as DeadLetterRow[], total: (total.results[0] as { n: number }).n };
}

export interface ReplayResult {
  replayed: number;
  accepted: number;
  duplicates: number;
  failed: { message_id: string; error: string }[];
  remaining: number;
}

/**
 * Replays parked dead letters, oldest first: each is stored through `storeSharded`, then
 * removed (ids make replaying something already stored a no-op, so a removal lost after a
 * store is harmless); one that still fails stays parked and is reported.
 */
export async function replayDeadLetters(dbs: Databases, limit: number): Promise<ReplayResult> {
  const db = dbs.primary;
  const rows = (
    await namedBatch(db, {
      rows: sql`SELECT message_id, body FROM ${deadLetters} ORDER BY parked_at, message_id LIMIT ${limit}`,
    })
  ).rows.results as { message_id: string; body: ArrayBuffer | number[] }[];
  const out: ReplayResult = { replayed: 0, accepted: 0, duplicates: 0, failed: [], remaining: 0 };
  for (const row of rows) {
    try {
      const bytes = row.body instanceof ArrayBuffer ? row.body : new Uint8Array(row.body).buffer;
      const { receivedAt, events } = await decodeMessage(bytes);
      const result = await storeSharded(dbs, events, receivedAt);
      await namedBatch(db, { remove: sql`DELETE FROM ${deadLetters} WHERE message_id = ${row.message_id}` });
      out.replayed++;
      out.accepted += result.accepted;
      out.duplicates += result.duplicates;
    } catch (err) {
      out.failed.push({ message_id: row.message_id, error: (err as Error)?.message ?? String(err) });
    }
  }
  const { n } = (await namedBatch(db, { n: sql`SELECT COUNT(*) AS n FROM ${deadLetters}` })).n.results[0] as { n: number };
  out.remaining = n;
  return out;
}
