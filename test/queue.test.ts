import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { decodeMessage, MAX_MESSAGE_BYTES, retryDelaySeconds } from "../src/ingest/queue";
import type { Bindings } from "../src/env";
import worker from "../src/index";
import { countEverywhere, type EventInput, ingestToken, orgShard, platformToken, requestWith, rowsEverywhere } from "./helpers";
import { expectErrorBody } from "./contract";

/**
 * Queue-buffered ingest: the route enqueues one message per request; the consumer stores it
 * through the same idempotent path; failures retry with backoff; dead letters are parked and
 * replayed. Deliveries are driven through the worker's queue handler with the Workers test
 * integration's createMessageBatch / getQueueResult.
 */

const EVENTS_QUEUE = "loginpulse-events";
const DLQ = "loginpulse-events-dlq";

/** A Queue binding that keeps what it is sent. */
function capturingQueue() {
  const sent: { body: unknown; contentType?: string }[] = [];
  const queue = {
    send: async (body: unknown, options?: { contentType?: string }) => void sent.push({ body, contentType: options?.contentType }),
    sendBatch: async () => {
      throw new Error("not used");
    },
  };
  return { queue: queue as unknown as Queue, sent };
}

const ev = (id: string, org: string, extra: Partial<EventInput> = {}): EventInput => ({ id, org, user_id: "u1", service_id: "web", provider: "github", ...extra });

async function postVia(overrides: Partial<Bindings & Cloudflare.Env>, body: unknown) {
  return requestWith(overrides, "/api/events", {
    method: "POST",
    token: await ingestToken(),
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function stored(org: string): Promise<string[]> {
  const rows = await rowsEverywhere<{ event_id: string }>("SELECT e.event_id FROM login_events e JOIN organizations o ON o.id = e.org_id WHERE o.slug = ?", org);
  return rows.map((r) => r.event_id).sort();
}

let messageSeq = 0;
/** Delivers messages to the worker's queue handler, as Cloudflare would, and returns the acks/retries. */
async function deliver(queue: string, bodies: { body: unknown; attempts?: number; id?: string }[], bindings: Partial<Bindings & Cloudflare.Env> = {}) {
  const batch = createMessageBatch(
    queue,
    bodies.map((b) => ({ id: b.id ?? `msg-${++messageSeq}`, timestamp: new Date(), attempts: b.attempts ?? 1, body: b.body })),
  );
  // The delay each retry asked for (the queue result records which messages retried).
  const delays: Record<string, number | undefined> = {};
  for (const m of batch.messages) {
    const retry = m.retry.bind(m);
    m.retry = (options?: QueueRetryOptions) => {
      delays[m.id] = options?.delaySeconds;
      retry(options);
    };
  }
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...bindings }, ctx);
  const result = await getQueueResult(batch, ctx);
  return { ...result, retryMessages: result.retryMessages.map((r) => ({ msgId: r.msgId, delaySeconds: delays[r.msgId] })) };
}

/** Enqueues `events` through the route and returns the one message body it produced. */
async function enqueue(events: EventInput[]): Promise<unknown> {
  const { queue, sent } = capturingQueue();
  const res = await postVia({ EVENTS_QUEUE: queue }, { events });
  expect(res.status).toBe(202);
  expect(sent).toHaveLength(1);
  expect(sent[0].contentType).toBe("bytes");
  return sent[0].body;
}

beforeEach(() => {
  vi.spyOn(console, "log").mockImplementation(() => {});
  vi.spyOn(console, "warn").mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

describe("producer: POST /api/events with EVENTS_QUEUE", () => {
  it("validates and authorizes as always, enqueues the request as one message, answers 202 queued, stores nothing yet", async () => {
    const { queue, sent } = capturingQueue();
    const res = await postVia({ EVENTS_QUEUE: queue }, { events: [ev("q-1", "qorg"), ev("q-2", "qorg", { user_id: "u2" }), ev("q-1", "qorg")] });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 3, duplicates: null, queued: true });
    expect(await stored("qorg")).toEqual([]);
    expect(sent).toHaveLength(1);
    const message = await decodeMessage(sent[0].body);
    expect(message.events.map((e) => [e.id, e.userId, e.org])).toEqual([
      ["q-1", "u1", "qorg"],
      ["q-2", "u2", "qorg"],
      ["q-1", "u1", "qorg"],
    ]);

    // a bad batch is refused exactly as without a queue, and nothing is enqueued
    const bad = await postVia({ EVENTS_QUEUE: queue }, { events: [ev("q-3", "qorg"), ev("q-4", "qorg", { created_at: "yesterday" })] });
    await expectErrorBody(bad, 400, "BAD_REQUEST");
    const foreign = await requestWith({ EVENTS_QUEUE: queue }, "/api/events", {
      method: "POST",
      token: await ingestToken("other-org"),
      headers: { "content-type": "application/json" },
      body: JSON.stringify(ev("q-5", "qorg")),
    });
    await expectErrorBody(foreign, 403, "FORBIDDEN");
    expect(sent).toHaveLength(1);
  });

  it("works with a real Queue binding", async () => {
    const res = await postVia({ EVENTS_QUEUE: env.TEST_EVENTS_QUEUE }, ev("q-real", "qreal"));
    expect(await res.json()).toEqual({ accepted: 1, duplicates: null, queued: true });
  });

  it("a request that does not fit one message even compressed is stored directly, with the usual answer", async () => {
    const { queue, sent } = capturingQueue();
    // 1000 events with 360 random hex characters each: ~180 KB even compressed, over a message
    const noise = () => Array.from({ length: 10 }, () => crypto.randomUUID()).join("");
    const events = Array.from({ length: 1000 }, (_, i) => ev(`big-${i}`, "qbig", { user_id: `u${i}`, user_agent: noise() }));
    const res = await postVia({ EVENTS_QUEUE: queue }, { events });
    expect(await res.json()).toEqual({ accepted: 1000, duplicates: 0 });
    expect(sent).toHaveLength(0);
    expect((await stored("qbig")).length).toBe(1000);
    expect(MAX_MESSAGE_BYTES).toBeLessThanOrEqual(128_000);
  });
});

describe("consumer", () => {
  it("stores a message once; redelivery and duplicate copies change nothing", async () => {
    const body = await enqueue([ev("c-1", "corg"), ev("c-2", "corg", { user_id: "u2" }), ev("c-1", "corg")]);
    const first = await deliver(EVENTS_QUEUE, [{ body, id: "m-1" }]);
    expect(first.explicitAcks).toEqual(["m-1"]);
    expect(first.retryMessages).toEqual([]);
    expect(await stored("corg")).toEqual(["c-1", "c-2"]);
    // at-least-once: the same message again, twice in one batch
    const again = await deliver(EVENTS_QUEUE, [{ body, id: "m-1", attempts: 2 }, { body, id: "m-1b" }]);
    expect(again.explicitAcks.sort()).toEqual(["m-1", "m-1b"]);
    expect(await stored("corg")).toEqual(["c-1", "c-2"]);
    expect(await countEverywhere("SELECT COUNT(*) AS n FROM identities i JOIN organizations o ON o.id = i.org_id WHERE o.slug = 'corg'")).toBe(2);
  });

  it("a message that fails twice is retried with growing delays, then stored exactly once", async () => {
    const body = await enqueue([ev("f-1", "forg"), ev("f-2", "forg")]);
    let failuresLeft = 2;
    // forg's database fails its first two batches
    const home = await orgShard("forg");
    const real = env[home as "DB"];
    const flaky = {
      [home]: {
        prepare: (q: string) => real.prepare(q),
        batch: (s: D1PreparedStatement[]) => (failuresLeft-- > 0 ? Promise.reject(new Error("D1_ERROR: Network connection lost.")) : real.batch(s)),
        withSession: () => real.withSession(),
      } as unknown as D1Database,
    };
    const one = await deliver(EVENTS_QUEUE, [{ body, id: "f", attempts: 1 }], flaky);
    expect(one.retryMessages).toEqual([{ msgId: "f", delaySeconds: retryDelaySeconds(1) }]);
    expect(one.explicitAcks).toEqual([]);
    const two = await deliver(EVENTS_QUEUE, [{ body, id: "f", attempts: 2 }], flaky);
    expect(two.retryMessages).toEqual([{ msgId: "f", delaySeconds: retryDelaySeconds(2) }]);
    expect(retryDelaySeconds(2)).toBeGreaterThan(retryDelaySeconds(1));
    expect(await stored("forg")).toEqual([]);
    const three = await deliver(EVENTS_QUEUE, [{ body, id: "f", attempts: 3 }], flaky);
    expect(three.explicitAcks).toEqual(["f"]);
    expect(await stored("forg")).toEqual(["f-1", "f-2"]);
  });

  it("one failing message does not hold back the others in its batch", async () => {
    const good = await enqueue([ev("g-1", "gorg")]);
    const res = await deliver(EVENTS_QUEUE, [{ body: new TextEncoder().encode("not gzip").buffer, id: "poison" }, { body: good, id: "good" }]);
    expect(res.explicitAcks).toEqual(["good"]);
    expect(res.retryMessages.map((r) => r.msgId)).toEqual(["poison"]);
    expect(await stored("gorg")).toEqual(["g-1"]);
  });
});

describe("dead letters", () => {
  it("are parked once, listed for the platform owner, replayed through the same path; a poison message stays parked", async () => {
    const owner = await platformToken();
    const lost = await enqueue([ev("d-1", "dorg"), ev("d-2", "dorg", { user_id: "u2" })]);
    const poison = new TextEncoder().encode("{not gzip").buffer;
    const parked = await deliver(DLQ, [{ body: lost, id: "dead-1", attempts: 6 }, { body: poison, id: "dead-2", attempts: 6 }]);
    expect(parked.explicitAcks.sort()).toEqual(["dead-1", "dead-2"]);
    // redelivered by the DLQ: parked once
    await deliver(DLQ, [{ body: lost, id: "dead-1", attempts: 7 }]);

    const list = await requestWith({}, "/api/platform/dead-letters", { token: owner });
    const listed = (await list.json()) as { total: number; dead_letters: { message_id: string; queue: string; attempts: number; bytes: number }[] };
    expect(listed.total).toBe(2);
    expect(listed.dead_letters.map((d) => [d.message_id, d.queue, d.attempts])).toEqual([
      ["dead-1", DLQ, 6],
      ["dead-2", DLQ, 6],
    ]);
    expect(listed.dead_letters[0].bytes).toBe((lost as ArrayBuffer).byteLength);
    expect(await stored("dorg")).toEqual([]);

    const replay = await requestWith({}, "/api/platform/dead-letters/replay", { method: "POST", token: owner });
    const result = (await replay.json()) as { replayed: number; accepted: number; duplicates: number; failed: { message_id: string }[]; remaining: number };
    expect({ ...result, failed: result.failed.map((f) => f.message_id) }).toEqual({ replayed: 1, accepted: 2, duplicates: 0, failed: ["dead-2"], remaining: 1 });
    expect(await stored("dorg")).toEqual(["d-1", "d-2"]);

    // replaying again changes nothing; the poison message is still reported
    const again = (await (await requestWith({}, "/api/platform/dead-letters/replay", { method: "POST", token: owner })).json()) as { replayed: number; remaining: number };
    expect(again).toMatchObject({ replayed: 0, remaining: 1 });
    expect(await stored("dorg")).toEqual(["d-1", "d-2"]);

    // only the platform owner
    await expectErrorBody(await requestWith({}, "/api/platform/dead-letters/replay", { method: "POST", token: await ingestToken() }), 403, "FORBIDDEN");
  });
});
