import { createRoute, OpenAPIHono, z, type RouteConfig } from "@hono/zod-openapi";
import { assertCanReadOrg, authenticate } from "../../auth/middleware";
import type { AppEnv } from "../../env";
import { errorResponses, invalidInput } from "../../errors";
import * as q from "../../analytics/org-queries";
import { previousRange, resolveRange, resolveWeekRange } from "../../analytics/range";
import { dayToDate, formatTimestamp } from "../../lib/dates";
import { changePct, dateRangeQuery, foundOrg as found, identityTypeFilter as identityType, identityTypeParam, orgDatabase, orgSlugParam } from "../shared";
import { withGovernanceAnalytics } from "../governance/analytics";
import * as s from "./schemas";
import { activeUsersDays, decodeCursor, encodeCursor, lifecycleWeeks, retentionMatrix, userGrowthDays } from "./shape";

const BASE = "/api/organizations/{org_slug}/analytics";

const analyticsRoutesBase = new OpenAPIHono<AppEnv>();

// Authentication and organization access come before any parameter validation,
// so an unauthorized caller learns nothing about the parameters or the org.
analyticsRoutesBase.use(
  "/api/organizations/:org_slug/analytics/*",
  authenticate,
  async (c, next) => {
    assertCanReadOrg(c.get("principal"), c.req.param("org_slug")!);
    await next();
  },
  orgDatabase(),
);

function orgRoute<P extends string, Q extends z.ZodObject, R extends z.ZodType>(path: P, summary: string, description: string, query: Q, response: R) {
  return createRoute({
    method: "get",
    // the literal path, so the typed client (AppType) knows each route
    path: `${BASE}/${path}` as `${typeof BASE}/${P}`,
    summary,
    description,
    tags: ["Organization analytics"],
    security: [{ bearerAuth: [] }],
    request: { params: orgSlugParam, query },
    responses: {
      200: { content: { "application/json": { schema: response } }, description: "OK" },
      ...errorResponses({ 400: "Invalid query parameter", 403: "Token not authorized for this organization", 404: "Organization not found" }),
    },
  } satisfies RouteConfig);
}

// ---- the seed reference's endpoints ---------------------------------------------------------

export const MAX_RECENT_LIMIT = 1000;

const recentQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_RECENT_LIMIT)
    .default(10)
    .openapi({ description: `Number of logins, 1..${MAX_RECENT_LIMIT} (default 10)`, type: "integer" }),
  cursor: z.string().optional().openapi({ description: 'Opaque; from the previous page\'s `Link: <…>; rel="next"` header' }),
});

// ---- engagement ------------------------------------------------------------------------------

const engagementQuery = dateRangeQuery.extend({ identity_type: identityTypeParam });

/** The routes as one chain, so their types reach the typed client (`AppType`, src/app.ts). */
const analyticsRoutesChain = analyticsRoutesBase
  .openapi(
    orgRoute(
      "login-trends",
      "Daily login counts",
      "Successful logins per UTC day, ascending; days without logins are omitted.",
      dateRangeQuery,
      s.loginTrendSchema,
    ),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      const rows = found(await q.loginTrends(c.get("db"), org_slug, resolveRange(c.req.valid("query"), Date.now())), org_slug);
      return c.json(
        rows.map((r) => ({ date: dayToDate(r.day), count: r.count })),
        200,
      );
    },
  )

  .openapi(
    orgRoute(
      "logins-by-service",
      "Logins by service",
      "Successful logins per service, most first (ties by service_id). service_name falls back to service_id when no name was ever sent.",
      dateRangeQuery,
      s.loginsByServiceSchema,
    ),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      return c.json(found(await q.loginsByService(c.get("db"), org_slug, resolveRange(c.req.valid("query"), Date.now())), org_slug), 200);
    },
  )

  .openapi(
    orgRoute(
      "logins-by-provider",
      "Logins by provider",
      "Successful logins per provider, most first (ties by provider name).",
      dateRangeQuery,
      s.loginsByProviderSchema,
    ),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      return c.json(found(await q.loginsByProvider(c.get("db"), org_slug, resolveRange(c.req.valid("query"), Date.now())), org_slug), 200);
    },
  )

  .openapi(
    orgRoute(
      "recent-logins",
      "Most recent logins",
      'Successful logins, newest first. When more exist, a `Link: <…>; rel="next"` header (RFC 8288) carries the URL of the next page, relative to this one (`</api/…?limit=…&cursor=…>`).',
      recentQuery,
      s.recentLoginsSchema,
    ),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      const { limit, cursor } = c.req.valid("query");
      const rows = found(await q.recentLogins(c.get("db"), org_slug, limit, cursor ? decodeCursor(cursor) : undefined), org_slug);
      const page = rows.slice(0, limit);
      if (rows.length > limit) {
        const last = page[page.length - 1];
        // A relative reference (RFC 8288 resolves it against the request URL), so the Host
        // header is never reflected, and only the parameters this route defines.
        const next = new URLSearchParams({ limit: String(limit), cursor: encodeCursor({ createdAt: last.created_at, seq: last.seq }) });
        c.header("Link", `<${new URL(c.req.url).pathname}?${next}>; rel="next"`);
      }
      return c.json(
        page.map((r) => ({ id: r.id, user_id: r.user_id, service_id: r.service_id, provider: r.provider, created_at: formatTimestamp(r.created_at) })),
        200,
      );
    },
  )

  .openapi(
    orgRoute(
      "active-users",
      "Daily, weekly and monthly active identities",
      "For every day d in the range: dau = identities with a login on d; wau = with a login in [d−6, d]; mau = in [d−29, d]. " +
        "summary.active_users = distinct identities with a login in the range; average_stickiness = mean DAU/MAU over days with MAU > 0. " +
        "Failed logins never make an identity active. `service_id` restricts activity to one service (not combinable with identity_type).",
      engagementQuery.extend({ service_id: z.string().min(1).max(64).optional() }),
      s.activeUsersSchema,
    ),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      const query = c.req.valid("query");
      if (query.service_id && query.identity_type !== "all") {
        throw invalidInput("query", [{ path: "service_id", message: "cannot be combined with identity_type" }]);
      }
      const range = resolveRange(query, Date.now());
      const result = found(
        await q.activeUsers(c.get("db"), org_slug, range, { identityType: identityType(query.identity_type), serviceId: query.service_id }),
        org_slug,
      );
      const { days, averageStickiness } = activeUsersDays(range, result.days);
      return c.json(
        {
          start_date: dayToDate(range.start),
          end_date: dayToDate(range.end),
          days,
          summary: { active_users: result.activeUsers, average_stickiness: averageStickiness },
        },
        200,
      );
    },
  )

  .openapi(
    orgRoute(
      "user-growth",
      "New and returning identities per day",
      "new_users on d = identities whose first login ever (in this organization) is on d; returning_users = identities with a login on d " +
        "and a first login before d (new + returning = DAU); total_users = identities whose first login is on or before d.",
      engagementQuery,
      s.userGrowthSchema,
    ),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      const query = c.req.valid("query");
      const range = resolveRange(query, Date.now());
      const result = found(await q.userGrowth(c.get("db"), org_slug, range, identityType(query.identity_type)), org_slug);
      const days = userGrowthDays(range, result.days, result.knownBefore);
      return c.json({ start_date: dayToDate(range.start), end_date: dayToDate(range.end), days }, 200);
    },
  )

  .openapi(
    orgRoute(
      "summary",
      "Totals for the range and the previous range of equal length",
      "logins and failed_logins are event counts; active_users = distinct identities with a login in the range; new_users = identities whose " +
        "first login ever falls in the range; returning_users = active in the range with a first login before it; machine_identities_active = " +
        "active identities of type machine. previous_range ends the day before start_date and has the same number of days.",
      engagementQuery,
      s.summarySchema,
    ),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      const query = c.req.valid("query");
      const range = resolveRange(query, Date.now());
      const previous = previousRange(range);
      const { current, previous: prev } = found(await q.summaryTotals(c.get("db"), org_slug, range, previous, identityType(query.identity_type)), org_slug);
      const metric = (a: number, b: number) => ({ current: a, previous: b, change_pct: changePct(a, b) });
      return c.json(
        {
          range: { start_date: dayToDate(range.start), end_date: dayToDate(range.end) },
          previous_range: { start_date: dayToDate(previous.start), end_date: dayToDate(previous.end) },
          metrics: {
            logins: metric(current.logins, prev.logins),
            active_users: metric(current.active_users, prev.active_users),
            new_users: metric(current.new_users, prev.new_users),
            returning_users: metric(current.active_users - current.new_users, prev.active_users - prev.new_users),
            failed_logins: metric(current.failed_logins, prev.failed_logins),
            machine_identities_active: metric(current.machine_active, prev.machine_active),
          },
        },
        200,
      );
    },
  )

  .openapi(
    orgRoute(
      "lifecycle",
      "Weekly lifecycle of identities (new, returning, resurrecting, dormant)",
      "Per ISO week W (the range widened to whole weeks): new = first login ever in W; returning = active in W and in W−1; " +
        "resurrecting = active in W, not in W−1, first login before W; dormant = active in W−1, not in W.",
      engagementQuery,
      s.lifecycleSchema,
    ),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      const query = c.req.valid("query");
      const weeks = resolveWeekRange(query, Date.now());
      const rows = found(await q.lifecycle(c.get("db"), org_slug, weeks.first, weeks.last, identityType(query.identity_type)), org_slug);
      return c.json({ start_date: weeks.start_date, end_date: weeks.end_date, weeks: lifecycleWeeks(weeks, rows) }, 200);
    },
  )

  .openapi(
    orgRoute(
      "retention",
      "Weekly sign-up cohorts and their retention",
      "Cohort W = identities whose first login ever falls in ISO week W (weeks of the range, widened to whole weeks). For k = 1.. up to the " +
        "range's last week: active = cohort members with a login in week W+k; rate = active / size (4 decimals).",
      engagementQuery,
      s.retentionSchema,
    ),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      const query = c.req.valid("query");
      const weeks = resolveWeekRange(query, Date.now());
      const result = found(await q.retention(c.get("db"), org_slug, weeks.first, weeks.last, identityType(query.identity_type)), org_slug);
      return c.json({ start_date: weeks.start_date, end_date: weeks.end_date, cohorts: retentionMatrix(weeks, result.cohorts, result.activity) }, 200);
    },
  );


/** The chain plus the governance reads under …/analytics (dormancy, reactivations: src/routes/governance/analytics.ts), on the same router so they share its access rule. */
export const analyticsRoutes = withGovernanceAnalytics(analyticsRoutesChain);
