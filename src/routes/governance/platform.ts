import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Schema } from "hono";
import type { SQL } from "drizzle-orm";
import { namedBatch } from "../../db/client";
import type { AppEnv, Db } from "../../env";
import { everyDatabase } from "../../db/shards";
import { errorResponses } from "../../errors";
import { HEALTH, HEALTH_LABELS, type Health, type HealthCountsRow, healthCountsSql, healthHistorySql, type HealthInputs, labelHealth } from "../../governance/health";
import { dayOf, dayToDate, parseDate } from "../../lib/dates";
import { compareSql } from "../../lib/order";
import { dateParam, notFoundOrg } from "../shared";
import { withPlatformReportRoutes } from "./reports";

/**
 * The platform owner's governance routes, registered on the platform router (its
 * middleware admits the platform owner only): organization health, and platform reports.
 */

export const healthInputsSchema = z
  .object({
    active: z.number().int(),
    previous_active: z.number().int(),
    active_change_pct: z.number().nullable(),
    new: z.number().int(),
    returning: z.number().int(),
    resurrecting: z.number().int(),
    newly_dormant: z.number().int(),
    quick_ratio: z.number().nullable().openapi({ description: "(new + resurrecting) ÷ newly dormant; null when none went dormant. Above 1 the organization is growing" }),
    logins: z.number().int(),
    top_identities: z.number().int(),
    top_share: z.number().nullable(),
    known: z.number().int(),
    inactive_known: z.number().int(),
  })
  .openapi("HealthInputs");

export const healthSchema = z.object({
  label: z.enum(HEALTH_LABELS),
  signup_without_return: z.boolean(),
  reason: z.string().openapi({ description: "The rule that decided the label, with its numbers" }),
  inputs: healthInputsSchema,
});

const HEALTH_SORTS = ["slug", "label", "active", "active_change_pct", "new", "quick_ratio", "logins"] as const;
type HealthSort = (typeof HEALTH_SORTS)[number];

/** Health of every organization as of `end`: one statement, labels applied here (src/governance/health.ts). */
export function healthOfAll(rows: HealthCountsRow[]): (Health & { org: string; orgId: number })[] {
  return rows.map((r) => ({ org: r.slug, orgId: r.org_id, ...labelHealth(r) }));
}

function sortKey(row: Health & { org: string }, sort: HealthSort): number | string | null {
  switch (sort) {
    case "slug":
      return row.org;
    case "label":
      return HEALTH_LABELS.indexOf(row.label);
    case "active":
      return row.inputs.active;
    case "active_change_pct":
      return row.inputs.active_change_pct;
    case "new":
      return row.inputs.new;
    case "quick_ratio":
      return row.inputs.quick_ratio;
    case "logins":
      return row.inputs.logins;
  }
}

/** NULL lowest, as SQL sorts it; ties by slug ascending. */
export function sortHealth<T extends Health & { org: string }>(rows: T[], sort: HealthSort, order: "asc" | "desc"): T[] {
  return [...rows].sort((a, b) => (order === "asc" ? 1 : -1) * compareSql(sortKey(a, sort), sortKey(b, sort)) || compareSql(a.org, b.org));
}

export function withPlatformGovernance<S extends Schema, P extends string>(app: OpenAPIHono<AppEnv, S, P>) {
  return withPlatformReportRoutes(app)
  .openapi(
    createRoute({
      method: "get",
      path: "/api/platform/analytics/organization-health",
      summary: "Organization health labels, with the numbers that decided them",
      description:
        `Every organization labelled from its last ${HEALTH.windowDays} days (ending end_date, default today) against the ${HEALTH.windowDays} before: ` +
        "dormant (no logins), expanding (active identities up ≥ 10%, or new ≥ 10% of actives), contracting (down ≥ 10%), stagnating (within ±10%, no new), " +
        "fragmenting (the top 10% of identities make ≥ 80% of logins, or more than half of the known identities inactive while the organization is active), " +
        "else stable — the first that holds, in this order; flag signup_without_return (new ≥ 20% of actives, returning share under 20%). Every row carries " +
        "its inputs (including the quick ratio) and the reason. Filter by `label`, sort, page by limit/offset. `org` returns that organization with the " +
        "history of its daily labels (as the daily job recorded them), so a change of trajectory shows.",
      tags: ["Platform analytics"],
      security: [{ bearerAuth: [] }],
      request: {
        query: z.object({
          end_date: dateParam.openapi({ description: `Last day of the ${HEALTH.windowDays}-day window (default today)` }),
          label: z.enum(HEALTH_LABELS).optional(),
          org: z.string().min(1).max(63).optional().openapi({ description: "One organization's slug: its row and the history of its labels" }),
          sort: z.enum(HEALTH_SORTS).default("slug"),
          order: z.enum(["asc", "desc"]).default("asc"),
          limit: z.coerce.number().int().min(1).max(1000).default(50).openapi({ type: "integer" }),
          offset: z.coerce.number().int().min(0).default(0).openapi({ type: "integer" }),
        }),
      },
      responses: {
        200: {
          content: {
            "application/json": {
              schema: z
                .object({
                  as_of: z.string(),
                  window: z.object({ start_date: z.string(), end_date: z.string() }),
                  previous_window: z.object({ start_date: z.string(), end_date: z.string() }),
                  total: z.number().int(),
                  limit: z.number().int(),
                  offset: z.number().int(),
                  organizations: z.array(healthSchema.extend({ org: z.string() })),
                  history: z
                    .array(healthSchema.extend({ date: z.string(), changed_from: z.enum(HEALTH_LABELS).nullable() }))
                    .optional()
                    .openapi({ description: "With `org`: its recorded daily labels, oldest first; changed_from names the previous recorded label when it differs" }),
                })
                .openapi("OrganizationHealth"),
            },
          },
          description: "OK",
        },
        ...errorResponses({ 400: "Invalid query parameter", 403: "Not a platform-owner token", 404: "Organization (org) not found" }),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const end = q.end_date ? parseDate(q.end_date)! : dayOf(Date.now());
      const start = end - HEALTH.windowDays + 1;
      // One organization: its database only. Every organization: each database's, in parallel.
      const dbs = c.get("dbs");
      const read = (db: Db) =>
        namedBatch(db, {
          counts: healthCountsSql(end, q.org),
          ...(q.org ? { history: healthHistorySql(q.org) } : {}),
        } as Record<"counts" | "history", SQL>);
      const parts = q.org ? [await read(await dbs.forOrg(q.org))] : await everyDatabase(dbs, read);
      const all = healthOfAll(parts.flatMap((p) => p.counts.results as unknown as HealthCountsRow[]));
      const { history } = parts[0];
      if (q.org && all.length === 0) notFoundOrg(q.org);
      const filtered = sortHealth(q.label ? all.filter((r) => r.label === q.label) : all, q.sort, q.order);
      return c.json(
        {
          as_of: dayToDate(end),
          window: { start_date: dayToDate(start), end_date: dayToDate(end) },
          previous_window: { start_date: dayToDate(start - HEALTH.windowDays), end_date: dayToDate(start - 1) },
          total: filtered.length,
          limit: q.limit,
          offset: q.offset,
          organizations: filtered.slice(q.offset, q.offset + q.limit).map(({ orgId, ...r }) => r),
          ...(q.org ? { history: historyBody(history.results as { day: number; label: Health["label"]; signup_without_return: number; inputs: string }[]) } : {}),
        },
        200,
      );
    },
  );
}

/** Stored daily labels, oldest first, each with the previous recorded label when it changed. */
export function historyBody(rows: { day: number; label: Health["label"]; signup_without_return: number; inputs: string }[]) {
  let previous: Health["label"] | null = null;
  return rows.map((r) => {
    const { reason, ...inputs } = JSON.parse(r.inputs) as HealthInputs & { reason: string };
    const entry = {
      date: dayToDate(r.day),
      label: r.label,
      signup_without_return: r.signup_without_return === 1,
      reason,
      inputs,
      changed_from: previous !== null && previous !== r.label ? previous : null,
    };
    previous = r.label;
    return entry;
  });
}
