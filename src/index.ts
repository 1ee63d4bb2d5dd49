import { createApp } from "./app";
import type { Bindings } from "./env";
import { consumeEvents, isDeadLetterQueue, parkDeadLetters } from "./ingest/queue";
import { scheduled } from "./scheduled";

const app = createApp();

export default {
  fetch: app.fetch,
  scheduled,
  /** The ingest queue's consumer, and its dead-letter queue's (told apart by name). */
  queue: (batch, env, _ctx) => (isDeadLetterQueue(batch.queue) ? parkDeadLetters(batch, env) : consumeEvents(batch, env)),
} satisfies ExportedHandler<Bindings>;
