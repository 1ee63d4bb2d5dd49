import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Schema } from "hono";
import type { AppEnv } from "../../env";
import { errorResponses, invalidInput } from "../../errors";
import type { IdentityType } from "../../governance/settings";
import { type DormancyCursor, type DormancyRow, dormancy, dormancyRowBody, OVERDUE_GAP_FACTOR, OVERDUE_MIN_LOGINS } from "../../governance/dormancy";
import { dayOf, dayToDate } from "../../lib/dates";
import { resolveRange } from "../../analytics/range";
import { type ReactivationRow, type ReactivationsCursor, reactivationBody, readReactivations } from "../../governance/reactivations";
import { dateRangeQuery, foundOrg, identityTypeFilter, identityTypeParam, orgSlugParam } from "../shared";
import { csvStream } from "./csv";

/**
 * Governance reads under /api/organizations/:org_slug/analytics, registered on the
 * analytics router so they share its access rule (the org's token or the platform owner).
 */

const errors = errorResponses({ 400: "Invalid query parameter", 403: "Token not authorized for this organization", 404: "Organization not found" });

export const MAX_DORMANCY_LIMIT = 1000;

const dormancyQuery = z.object({
  days: z.coerce
    .number()
    .int()
    .min(1)
    .max(3650)
    .optional()
    .openapi({ type: "integer", description: "Threshold in days for both types (default: each type's first threshold from the settings, 30)" }),
  identity_type: identityTypeParam,
  status: z
    .enum(["dormant", "never_seen", "overdue"])
    .optional()
    .openapi({ description: "Only dormant, only never_seen (inventory identities never seen logging in), or overdue machines; default dormant and never_seen" }),
  limit: z.coerce.number().int().min(1).max(MAX_DORMANCY_LIMIT).default(100).openapi({ type: "integer", description: `Rows per page, 1..${MAX_DORMANCY_LIMIT} (default 100)` }),
  cursor: z.string().optional().openapi({ description: 'Opaque; from the previous page\'s `Link: <…>; rel="next"` header' }),
  format: z.enum(["json", "csv"]).default("json").openapi({ description: "csv: the whole list (no paging) as RFC 4180 CSV" }),
});

const rowSchema = z.object({
  status: z.enum(["dormant", "never_seen", "overdue"]),
  user_id: z.string(),
  identity_type: z.enum(["human", "machine"]),
  display_name: z.string().nullable(),
  owner: z.string().nullable(),
  last_login_at: z.string().nullable(),
  days_dormant: z.number().int().nullable().openapi({ description: "Days since the last login day (null: never seen)" }),
  age_days: z.number().int().nullable().openapi({ description: "never_seen only: days since the inventory's created_at" }),
  last_service_id: z.string().nullable(),
  last_provider: z.string().nullable(),
  logins: z.number().int(),
  median_gap_days: z.number().nullable().openapi({ description: "overdue only: median gap between consecutive login days" }),
  overdue_after_days: z.number().nullable().openapi({ description: `overdue only: max(${OVERDUE_GAP_FACTOR} × median gap, 1)` }),
});

const countsSchema = z.array(z.object({ days: z.number().int(), count: z.number().int() }));

const dormancySchema = z
  .object({
    as_of: z.string(),
    days: z.object({ human: z.number().int(), machine: z.number().int(), services: z.number().int() }),
    identity_type: z.enum(["human", "machine", "all"]),
    status: z.enum(["dormant", "never_seen", "overdue"]).nullable(),
    summary: z.object({
      thresholds: z.object({ human: z.array(z.number().int()), machine: z.array(z.number().int()) }),
      dormant: z.object({ human: countsSchema, machine: countsSchema }),
      never_seen: z.object({ human: z.number().int(), machine: z.number().int() }),
      dormant_services: z.number().int(),
    }),
    identities: z.array(rowSchema),
    dormant_services: z.array(z.object({ service_id: z.string(), service_name: z.string(), last_login_date: z.string(), days_dormant: z.number().int() })),
  })
  .openapi("Dormancy");

const CSV_COLUMNS = [
  "status",
  "user_id",
  "identity_type",
  "display_name",
  "owner",
  "last_login_at",
  "days_dormant",
  "age_days",
  "last_service_id",
  "last_provider",
  "logins",
  "median_gap_days",
  "overdue_after_days",
] as const;

/** The opaque dormancy cursor: base64url of the UTF-8 JSON [sort key, user_id, identity_type]. */
function encodeCursor(r: DormancyRow): string {
  return utf8Base64(JSON.stringify([r.sort_key, r.user_id, r.identity_type])).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A cursor's [sort key, user_id, identity_type], or undefined when it is not one this API issued. */
function cursorTuple(text: string): [number, string, IdentityType] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))));
  } catch {
    return undefined;
  }
  const ok =
    Array.isArray(value) &&
    value.length === 3 &&
    Number.isSafeInteger(value[0]) &&
    typeof value[1] === "string" &&
    value[1].length <= 128 &&
    (value[2] === "human" || value[2] === "machine");
  return ok ? (value as [number, string, IdentityType]) : undefined;
}

function decodeCursor(text: string): DormancyCursor {
  const t = cursorTuple(text);
  if (!t) throw invalidInput("query", [{ path: "cursor", message: "is not a cursor this API issued" }]);
  return { sortKey: t[0], userId: t[1], identityType: t[2] };
}

function decodeReactivationsCursor(text: string): ReactivationsCursor {
  const t = cursorTuple(text);
  if (!t) throw invalidInput("query", [{ path: "cursor", message: "is not a cursor this API issued" }]);
  return { loginAt: t[0], userId: t[1], identityType: t[2] };
}

function reactivationsCursor(r: ReactivationRow): string {
  return utf8Base64(JSON.stringify([r.login_at, r.user_id, r.identity_type])).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function utf8Base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function withGovernanceAnalytics<S extends Schema, P extends string>(app: OpenAPIHono<AppEnv, S, P>) {
  return app.openapi(
    createRoute({
      method: "get",
      path: "/api/organizations/{org_slug}/analytics/dormancy",
      summary: "Dormant identities, never-seen inventory, overdue machines and dormant services",
      description:
        "As of today (UTC): identities whose last successful login day is before today − N (N = `days`, else each type's first threshold; a failed " +
        "attempt is not activity), with days_dormant, last service and provider, and owner/display_name from the inventory; inventory identities never " +
        "seen logging in (`never_seen`, with their age); `status=overdue`: machine identities with at least " +
        `${OVERDUE_MIN_LOGINS} logins whose silence exceeds max(${OVERDUE_GAP_FACTOR} × their median gap between login days, 1 day). Deprovisioned ` +
        "identities are left out. Sorted by days_dormant descending (never-seen by age), then user_id; paged by `limit` with the next page in " +
        '`Link: <…>; rel="next"`. `format=csv` returns the whole list as CSV. summary: dormant counts per threshold and type, never-seen per type; ' +
        "dormant_services: services without a login for N days (the smaller type threshold unless `days`).",
      tags: ["Governance"],
      security: [{ bearerAuth: [] }],
      request: { params: orgSlugParam, query: dormancyQuery },
      responses: {
        200: {
          content: { "application/json": { schema: dormancySchema }, "text/csv": { schema: z.string().openapi({ description: `Columns: ${CSV_COLUMNS.join(", ")}` }) } },
          description: "OK",
        },
        ...errors,
      },
    }),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      const query = c.req.valid("query");
      const asOf = dayOf(Date.now());
      const csv = query.format === "csv";
      const result = foundOrg(
        await dormancy(
          c.get("db"),
          org_slug,
          {
            asOf,
            days: query.days,
            identityType: identityTypeFilter(query.identity_type),
            status: query.status,
            cursor: query.cursor && !csv ? decodeCursor(query.cursor) : undefined,
            limit: csv ? undefined : query.limit,
          },
          Date.now(),
        ),
        org_slug,
      );
      if (csv) {
        return c.body(csvStream(CSV_COLUMNS, result.rows, (r) => Object.values(dormancyRowBody(r))), 200, {
          "content-type": "text/csv; charset=utf-8",
          "content-disposition": `attachment; filename="dormancy-${dayToDate(asOf)}.csv"`,
        });
      }
      const page = result.rows.slice(0, query.limit);
      if (result.rows.length > query.limit) {
        // Relative (RFC 8288 resolves it against the request), and only this route's own parameters.
        const next = new URLSearchParams();
        if (query.days !== undefined) next.set("days", String(query.days));
        if (query.identity_type !== "all") next.set("identity_type", query.identity_type);
        if (query.status) next.set("status", query.status);
        next.set("limit", String(query.limit));
        next.set("cursor", encodeCursor(page[page.length - 1]));
        c.header("Link", `<${new URL(c.req.url).pathname}?${next}>; rel="next"`);
      }
      const serviceDays = Math.min(result.applied.human, result.applied.machine);
      return c.json(
        {
          as_of: dayToDate(asOf),
          days: { human: result.applied.human, machine: result.applied.machine, services: serviceDays },
          identity_type: query.identity_type,
          status: query.status ?? null,
          summary: {
            thresholds: result.settings.thresholds,
            dormant: result.summary.dormant,
            never_seen: result.summary.never_seen,
            dormant_services: result.services.length,
          },
          identities: page.map(dormancyRowBody),
          dormant_services: result.services.map((s) => ({
            service_id: s.service_id,
            service_name: s.service_name,
            last_login_date: dayToDate(s.last_login_day),
            days_dormant: asOf - s.last_login_day,
          })),
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/api/organizations/{org_slug}/analytics/reactivations",
      summary: "Identities that woke up after a long sleep",
      description:
        "Every login (in the range, by login day) whose identity's previous login was at least N days earlier, N = the organization's first threshold " +
        "for the identity's type (settings; default 30); gap_days = the calendar days between the two logins. Detected by the rollup as it folds " +
        "events (a late event inside a gap splits it) and read with the unsealed tail, so exact at any moment. Newest first (then user_id); paged by " +
        '`limit` with the next page in `Link: <…>; rel="next"`. Dates as the other reads (default: today − 30 days .. today).',
      tags: ["Governance"],
      security: [{ bearerAuth: [] }],
      request: {
        params: orgSlugParam,
        query: dateRangeQuery.extend({
          identity_type: identityTypeParam,
          limit: dormancyQuery.shape.limit,
          cursor: dormancyQuery.shape.cursor,
        }),
      },
      responses: {
        200: {
          content: {
            "application/json": {
              schema: z
                .object({
                  start_date: z.string(),
                  end_date: z.string(),
                  thresholds: z.object({ human: z.number().int(), machine: z.number().int() }),
                  reactivations: z.array(
                    z.object({
                      user_id: z.string(),
                      identity_type: z.enum(["human", "machine"]),
                      gap_days: z.number().int(),
                      previous_login_at: z.string(),
                      login_at: z.string(),
                      service_id: z.string().nullable(),
                      provider: z.string().nullable(),
                      ip_address: z.string().nullable(),
                      country: z.string().nullable(),
                    }),
                  ),
                })
                .openapi("Reactivations"),
            },
          },
          description: "OK",
        },
        ...errors,
      },
    }),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      const query = c.req.valid("query");
      const range = resolveRange(query, Date.now());
      const result = foundOrg(
        await readReactivations(c.get("db"), org_slug, range, {
          identityType: identityTypeFilter(query.identity_type),
          cursor: query.cursor ? decodeReactivationsCursor(query.cursor) : undefined,
          limit: query.limit,
        }),
        org_slug,
      );
      const page = result.rows.slice(0, query.limit);
      if (result.rows.length > query.limit) {
        const next = new URLSearchParams();
        if (query.start_date) next.set("start_date", query.start_date);
        if (query.end_date) next.set("end_date", query.end_date);
        if (query.identity_type !== "all") next.set("identity_type", query.identity_type);
        next.set("limit", String(query.limit));
        next.set("cursor", reactivationsCursor(page[page.length - 1]));
        c.header("Link", `<${new URL(c.req.url).pathname}?${next}>; rel="next"`);
      }
      return c.json(
        {
          start_date: dayToDate(range.start),
          end_date: dayToDate(range.end),
          thresholds: result.thresholds,
          reactivations: page.map(reactivationBody),
        },
        200,
      );
    },
  );
}
