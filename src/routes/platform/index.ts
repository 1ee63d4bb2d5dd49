import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { assertPlatformOwner, authenticate } from "../../auth/middleware";
import type { AppEnv } from "../../env";
import { loginActivityAcross, organizationsAcross, overviewAcross } from "../../analytics/across-shards";
import { ORG_SORTS } from "../../analytics/platform-queries";
import { ORG_WINDOW_DAYS, orgWindow, resolveRange } from "../../analytics/range";
import { errorResponses } from "../../errors";
import { listDeadLetters, replayDeadLetters } from "../../ingest/queue";
import { dayOf, dayToDate, formatTimestamp, parseDate } from "../../lib/dates";
import { labelHealth } from "../../governance/health";
import { healthSchema, withPlatformGovernance } from "../governance/platform";
import { changePct, dateParam, dateRangeQuery } from "../shared";

const platformRoutesBase = new OpenAPIHono<AppEnv>();

platformRoutesBase.use("/api/platform/*", authenticate, async (c, next) => {
  assertPlatformOwner(c.get("principal"));
  await next();
});

const platformErrors = errorResponses({ 400: "Invalid query parameter", 403: "Not a platform-owner token" });

const orgsQuery = z.object({
  end_date: dateParam.openapi({ description: `Last day of the ${ORG_WINDOW_DAYS}-day window (default today)` }),
  sort: z.enum(ORG_SORTS).default("active_users"),
  order: z.enum(["asc", "desc"]).default("desc"),
  limit: z.coerce.number().int().min(1).max(1000).default(50).openapi({ type: "integer" }),
  offset: z.coerce.number().int().min(0).default(0).openapi({ type: "integer" }),
});

const orgRowSchema = z.object({
  org: z.string(),
  active_users: z.number().int(),
  previous_active_users: z.number().int(),
  active_users_change_pct: z.number().nullable(),
  new_users: z.number().int(),
  returning_users: z.number().int(),
  returning_share: z.number().nullable(),
  logins: z.number().int(),
  last_activity_at: z.string().nullable(),
  health: healthSchema.openapi({ description: "Organization health over the same window (GET /api/platform/analytics/organization-health)" }),
});

// ---- ingest queue: dead letters ------------------------------------------------------------

const deadLetterSchema = z.object({
  message_id: z.string(),
  queue: z.string(),
  attempts: z.number().int(),
  parked_at: z.string(),
  bytes: z.number().int(),
});

/** The routes as one chain, so their types reach the typed client (`AppType`, src/app.ts). */
const platformRoutesChain = platformRoutesBase
  .openapi(
    createRoute({
      method: "get",
      path: "/api/platform/analytics/organizations",
      summary: "Engagement of every organization",
      description:
        `One row per organization over the ${ORG_WINDOW_DAYS} days ending end_date: active_users (distinct identities with a login), change vs the ` +
        `previous ${ORG_WINDOW_DAYS} days (%, 1 decimal; null when the previous window had none), new_users (first login ever in the window), ` +
        "returning_share = (active − new) / active, logins, last_activity_at (last login ever). Sorted by `sort`/`order`, ties by org slug; paginated by limit/offset.",
      tags: ["Platform analytics"],
      security: [{ bearerAuth: [] }],
      request: { query: orgsQuery },
      responses: {
        200: {
          content: {
            "application/json": {
              schema: z.object({
                start_date: z.string(),
                end_date: z.string(),
                total: z.number().int(),
                limit: z.number().int(),
                offset: z.number().int(),
                organizations: z.array(orgRowSchema),
              }),
            },
          },
          description: "OK",
        },
        ...platformErrors,
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const end = query.end_date ? parseDate(query.end_date)! : dayOf(Date.now());
      const current = orgWindow(end);
      const { rows, total } = await organizationsAcross(c.get("dbs"), current, query);
      return c.json(
        {
          start_date: dayToDate(current.start),
          end_date: dayToDate(current.end),
          total,
          limit: query.limit,
          offset: query.offset,
          organizations: rows.map((r) => ({
            org: r.slug,
            active_users: r.active_users,
            previous_active_users: r.previous_active_users,
            active_users_change_pct: changePct(r.active_users, r.previous_active_users),
            new_users: r.new_users,
            returning_users: r.returning_users,
            returning_share: r.active_users === 0 ? null : Math.round((r.returning_users / r.active_users) * 10_000) / 10_000,
            logins: r.logins,
            last_activity_at: r.last_activity_at === null ? null : formatTimestamp(r.last_activity_at),
            health: labelHealth(r),
          })),
        },
        200,
      );
    },
  )

  .openapi(
    createRoute({
      method: "get",
      path: "/api/platform/analytics/login-activity",
      summary: "Daily logins across all organizations",
      description: "Successful logins per UTC day over every organization, ascending; days without logins omitted.",
      tags: ["Platform analytics"],
      security: [{ bearerAuth: [] }],
      request: { query: dateRangeQuery },
      responses: {
        200: { content: { "application/json": { schema: z.array(z.object({ date: z.string(), count: z.number().int() })) } }, description: "OK" },
        ...platformErrors,
      },
    }),
    async (c) => {
      const rows = await loginActivityAcross(c.get("dbs"), resolveRange(c.req.valid("query"), Date.now()));
      return c.json(
        rows.map((r) => ({ date: dayToDate(r.day), count: r.count })),
        200,
      );
    },
  )

  .openapi(
    createRoute({
      method: "get",
      path: "/api/platform/analytics/overview",
      summary: "Platform totals",
      description:
        "organizations = known organizations; identities = identities with at least one login ever; active_identities = distinct identities " +
        "with a login in the range; logins = successful logins in the range.",
      tags: ["Platform analytics"],
      security: [{ bearerAuth: [] }],
      request: { query: dateRangeQuery },
      responses: {
        200: {
          content: {
            "application/json": {
              schema: z.object({
                start_date: z.string(),
                end_date: z.string(),
                organizations: z.number().int(),
                identities: z.number().int(),
                active_identities: z.number().int(),
                logins: z.number().int(),
              }),
            },
          },
          description: "OK",
        },
        ...platformErrors,
      },
    }),
    async (c) => {
      const range = resolveRange(c.req.valid("query"), Date.now());
      const totals = await overviewAcross(c.get("dbs"), range);
      return c.json({ start_date: dayToDate(range.start), end_date: dayToDate(range.end), ...totals }, 200);
    },
  )

  .openapi(
    createRoute({
      method: "get",
      path: "/api/platform/dead-letters",
      summary: "Ingest messages parked by the dead-letter queue",
      description:
        "With queue-buffered ingest (EVENTS_QUEUE), a message that still fails after its retries goes to the dead-letter queue, whose consumer parks it here. " +
        "Oldest first; `total` counts every parked message. Empty without a queue.",
      tags: ["Platform operations"],
      security: [{ bearerAuth: [] }],
      request: { query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100).openapi({ type: "integer" }) }) },
      responses: {
        200: { content: { "application/json": { schema: z.object({ total: z.number().int(), dead_letters: z.array(deadLetterSchema) }) } }, description: "OK" },
        ...platformErrors,
      },
    }),
    async (c) => {
      const { rows, total } = await listDeadLetters(c.get("db"), c.req.valid("query").limit);
      return c.json({ total, dead_letters: rows.map((r) => ({ ...r, parked_at: formatTimestamp(r.parked_at) })) }, 200);
    },
  )

  .openapi(
    createRoute({
      method: "post",
      path: "/api/platform/dead-letters/replay",
      summary: "Replay parked ingest messages",
      description:
        "Stores up to `limit` parked messages, oldest first, through the same idempotent path as ingest (event ids make a replay of anything already stored a no-op) " +
        "and removes each one stored. A message that still fails stays parked and is listed in `failed`.",
      tags: ["Platform operations"],
      security: [{ bearerAuth: [] }],
      request: { query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(25).openapi({ type: "integer" }) }) },
      responses: {
        200: {
          content: {
            "application/json": {
              schema: z.object({
                replayed: z.number().int(),
                accepted: z.number().int(),
                duplicates: z.number().int(),
                failed: z.array(z.object({ message_id: z.string(), error: z.string() })),
                remaining: z.number().int(),
              }),
            },
          },
          description: "OK",
        },
        ...platformErrors,
      },
    }),
    async (c) => c.json(await replayDeadLetters(c.get("dbs"), c.req.valid("query").limit), 200),
  );


/** The chain plus organization health and platform reports (src/routes/governance/platform.ts), on the same router so they share its access rule. */
export const platformRoutes = withPlatformGovernance(platformRoutesChain);
