import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { validator } from "hono/validator";
import { assertCanWriteEvents, authenticate } from "../../auth/middleware";
import { ingestRateLimit } from "../../auth/rate-limit";
import type { AppEnv } from "../../env";
import { ApiError, errorResponses, invalidInput, zodDetails } from "../../errors";
import { type IngestBody, ingestBodySchema, ingestResultSchema, parseIngestBody } from "../../ingest/event-schema";
import { acceptEvents } from "../../ingest/ingest";

export const MAX_BODY_BYTES = 1024 * 1024;

const postEvents = createRoute({
  method: "post",
  path: "/api/events",
  summary: "Ingest login events",
  description:
    'One event, or `{ "events": [...] }` with 1..1000 events. Idempotent on (org, id); all-or-nothing per request. ' +
    "Needs a token with scope `events:write`; a token with an `org` claim may only write that organization's events.",
  security: [{ bearerAuth: [] }],
  request: { body: { content: { "application/json": { schema: ingestBodySchema } }, required: true } },
  responses: {
    202: {
      content: { "application/json": { schema: ingestResultSchema } },
      description: "Stored (duplicates ignored), or enqueued when EVENTS_QUEUE is configured (`queued: true`, `duplicates: null`)",
    },
    ...errorResponses({
      400: "Invalid event; nothing was stored",
      403: "Missing events:write scope, or writing another organization's events",
      413: "Body over 1 MiB",
      415: "Body is not JSON",
      429: "Too many requests for this token (per-token rate limit); see Retry-After",
      503: "Database or signing keys temporarily unavailable; see Retry-After. Retrying the same events is safe",
    }),
  },
});

const eventsRoutesBase = new OpenAPIHono<AppEnv>();
// Documented from the zod schemas; validated by parseIngestBody so a failing batch
// reports the batch's issues rather than a union's.
eventsRoutesBase.openAPIRegistry.registerPath(postEvents);

/** The routes as one chain, so their types reach the typed client (`AppType`, src/app.ts). */
export const eventsRoutes = eventsRoutesBase.post(
  "/api/events",
  authenticate,
  async (c, next) => {
    assertCanWriteEvents(c.get("principal"));
    await next();
  },
  ingestRateLimit,
  async (c, next) => {
    // The media type hono's JSON validator reads: application/json or application/<x>+json.
    const mediaType = (c.req.header("content-type") ?? "").split(";")[0].trim();
    if (!/^application\/([\w.-]+\+)?json$/i.test(mediaType)) {
      throw new ApiError("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json");
    }
    await next();
  },
  bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new ApiError("PAYLOAD_TOO_LARGE", `Request body exceeds ${MAX_BODY_BYTES} bytes`);
    },
  }),
  // Typed for clients (AppType) as the documented request body, not the parsed result.
  validator("json", (body) => {
    const parsed = parseIngestBody(body);
    if (!parsed.success) throw invalidInput("event", zodDetails(parsed.issues));
    return parsed.data;
  }) as MiddlewareHandler<AppEnv, "/api/events", { in: { json: z.input<typeof ingestBodySchema> }; out: { json: IngestBody } }>,
  async (c) => {
    const ctx = { now: Date.now(), edgeCountry: c.req.raw.cf?.country as string | undefined };
    return c.json(await acceptEvents(c.get("dbs"), c.get("principal"), c.req.valid("json"), ctx, c.env.EVENTS_QUEUE), 202);
  },
);
