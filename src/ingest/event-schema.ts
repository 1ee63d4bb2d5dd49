import { z } from "@hono/zod-openapi";

export const MAX_BATCH = 1000;
/** How far in the future a created_at may be (clock skew between login pages and us). */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

export const orgSlug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be a slug: lowercase letters, digits and hyphens, 1-63 chars");

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A stored string: bounded, and well-formed unicode. A lone surrogate cannot be stored as
 * UTF-8, so "\ud800" and "\ud801" would come back as the same replacement characters.
 */
const text = (min: number, max: number) =>
  z.string().min(min).max(max).refine((v) => !LONE_SURROGATE.test(v), "must be well-formed unicode (no lone surrogates)");

export const loginEventSchema = z
  .object({
    id: text(1, 64).openapi({ description: "Idempotency key, unique per organization" }),
    org: orgSlug,
    user_id: text(1, 128),
    identity_type: z.enum(["human", "machine"]).default("human"),
    service_id: text(1, 64),
    service_name: text(1, 200).optional(),
    provider: z
      .string()
      .transform((p) => p.toLowerCase())
      .pipe(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "must be a slug of 1-32 chars (github, google, password, ...)")),
    outcome: z.enum(["success", "failure"]).default("success"),
    created_at: z.iso.datetime({ offset: true }).optional().openapi({ description: "RFC 3339; defaults to receive time" }),
    ip_address: z.union([z.ipv4(), z.ipv6()]).optional(),
    user_agent: text(0, 512).optional(),
    country: z
      .string()
      .regex(/^[A-Za-z]{2}$/, "must be an ISO 3166-1 alpha-2 code")
      .transform((c) => c.toUpperCase())
      .optional(),
  })
  .openapi("LoginEvent");

export type LoginEventInput = z.infer<typeof loginEventSchema>;

export const loginEventBatchSchema = z
  .object({ events: z.array(loginEventSchema).min(1).max(MAX_BATCH) })
  .openapi("LoginEventBatch");

/** For the OpenAPI document; requests are validated by `parseIngestBody`, which reports the failing branch's issues. */
export const ingestBodySchema = z.union([loginEventSchema, loginEventBatchSchema]);

export type IngestBody = { batch: true; events: LoginEventInput[] } | { batch: false; events: [LoginEventInput] };

/**
 * A body with an `events` key is a batch, anything else one event; a bare array
 * is refused so the two shapes never blur. Errors name the index and field
 * (`events[3].created_at`).
 */
export function parseIngestBody(body: unknown): { success: true; data: IngestBody } | { success: false; issues: z.core.$ZodIssue[] } {
  if (Array.isArray(body)) {
    return {
      success: false,
      issues: [{ code: "custom", path: [], message: 'a bare array is not accepted: send { "events": [...] }', input: body }],
    };
  }
  if (body !== null && typeof body === "object" && "events" in body) {
    const parsed = loginEventBatchSchema.safeParse(body);
    return parsed.success ? { success: true, data: { batch: true, events: parsed.data.events } } : { success: false, issues: parsed.error.issues };
  }
  const parsed = loginEventSchema.safeParse(body);
  return parsed.success ? { success: true, data: { batch: false, events: [parsed.data] } } : { success: false, issues: parsed.error.issues };
}

export const ingestResultSchema = z
  .object({
    accepted: z.number().int().openapi({ description: "Events stored (direct); events enqueued (queued)" }),
    duplicates: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Events already stored or repeated in the request (direct); null when queued, as they are not known yet" }),
    queued: z.literal(true).optional().openapi({ description: "Present when the events were enqueued (EVENTS_QUEUE) rather than stored" }),
  })
  .openapi("IngestResult");
