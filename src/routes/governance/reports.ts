import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Schema } from "hono";
import type { AppEnv } from "../../env";
import { ApiError, errorResponses } from "../../errors";
import { type DeliveryLog, listReports, readReport, type ReportListRow, type Scope } from "../../governance/reports";
import { dayToDate, formatTimestamp, parseDate } from "../../lib/dates";
import { foundOrg, orgSlugParam } from "../shared";
import { canReadOrg } from "./access";

/**
 * Stored scheduled reports: an organization's (its token or the platform owner) and the
 * platform's (registered on the platform router). A report's id is its date.
 */

const deliverySummary = z.object({ state: z.enum(["pending", "delivered", "failed", "disabled"]), attempts: z.number().int() }).nullable();

const listSchema = z.object({
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
  reports: z.array(z.object({ id: z.string(), date: z.string(), created_at: z.string(), delivery: deliverySummary })),
});

const reportSchema = z
  .object({
    id: z.string(),
    date: z.string(),
    created_at: z.string(),
    report: z.record(z.string(), z.unknown()).openapi({ description: "The report as delivered (the webhook's `data`, without `org`)" }),
    delivery: z
      .object({
        state: z.enum(["pending", "delivered", "failed", "disabled"]),
        attempts: z.number().int(),
        last_status: z.number().int().nullable(),
        last_error: z.string().nullable(),
        next_attempt_at: z.string().nullable(),
        log: z.array(z.object({ attempt: z.number().int(), attempted_at: z.string(), status: z.number().int().nullable(), error: z.string().nullable(), duration_ms: z.number().int() })),
      })
      .nullable()
      .openapi({ description: "The webhook delivery log (null without a webhook)" }),
  })
  .openapi("Report");

const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(30).openapi({ type: "integer" }),
  offset: z.coerce.number().int().min(0).default(0).openapi({ type: "integer" }),
});

const idParam = z.object({
  id: z
    .string()
    .refine((v) => parseDate(v) !== undefined, "must be a report date, YYYY-MM-DD")
    .openapi({ param: { name: "id", in: "path" }, example: "2025-04-10" }),
});

const listBody = (rows: ReportListRow[], total: number, page: { limit: number; offset: number }) => ({
  total,
  limit: page.limit,
  offset: page.offset,
  reports: rows.map((r) => ({
    id: dayToDate(r.day),
    date: dayToDate(r.day),
    created_at: formatTimestamp(r.created_at),
    delivery: r.state === null ? null : { state: r.state as "pending", attempts: r.attempts ?? 0 },
  })),
});

function reportBody(r: { day: number; createdAt: number; body: Record<string, unknown>; delivery: DeliveryLog | null }) {
  const ts = (ms: number | null) => (ms === null ? null : formatTimestamp(ms));
  return {
    id: dayToDate(r.day),
    date: dayToDate(r.day),
    created_at: formatTimestamp(r.createdAt),
    report: r.body,
    delivery: r.delivery && {
      state: r.delivery.state as "pending",
      attempts: r.delivery.attempts,
      last_status: r.delivery.last_status,
      last_error: r.delivery.last_error,
      next_attempt_at: ts(r.delivery.next_attempt_at),
      log: r.delivery.log.map((a) => ({ ...a, attempted_at: formatTimestamp(a.attempted_at) })),
    },
  };
}

const found = <T>(report: T | undefined, id: string): T => {
  if (report === undefined) throw new ApiError("NOT_FOUND", `No report for ${id}`);
  return report;
};

export function withOrgReportRoutes<S extends Schema, P extends string>(app: OpenAPIHono<AppEnv, S, P>) {
  const errors = errorResponses({ 400: "Invalid parameter", 403: "Token not authorized for this organization", 404: "Organization or report not found" });
  return app.openapi(
    createRoute({
      method: "get",
      path: "/api/organizations/{org_slug}/reports",
      summary: "Daily governance reports",
      description: "The organization's stored daily reports, newest first, with their webhook delivery state. A report's id is its date.",
      tags: ["Governance"],
      security: [{ bearerAuth: [] }],
      middleware: canReadOrg,
      request: { params: orgSlugParam, query: pageQuery },
      responses: { 200: { content: { "application/json": { schema: listSchema } }, description: "OK" }, ...errors },
    }),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      const page = c.req.valid("query");
      const { rows, total } = foundOrg(await listReports(c.get("db"), "org", org_slug, page), org_slug);
      return c.json(listBody(rows, total, page), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/api/organizations/{org_slug}/reports/{id}",
      summary: "One daily report, with its delivery log",
      description: "The report of that date as delivered, and the webhook delivery log: attempts, each status code, the next attempt, the final state.",
      tags: ["Governance"],
      security: [{ bearerAuth: [] }],
      middleware: canReadOrg,
      request: { params: orgSlugParam.extend(idParam.shape) },
      responses: { 200: { content: { "application/json": { schema: reportSchema } }, description: "OK" }, ...errors },
    }),
    async (c) => {
      const { org_slug, id } = c.req.valid("param");
      const report = found(foundOrg(await readReport(c.get("db"), "org", org_slug, parseDate(id)!), org_slug), id);
      return c.json(reportBody(report), 200);
    },
  );
}

export function withPlatformReportRoutes<S extends Schema, P extends string>(app: OpenAPIHono<AppEnv, S, P>) {
  const errors = errorResponses({ 400: "Invalid parameter", 403: "Not a platform-owner token", 404: "Report not found" });
  const scope: Scope = "platform";
  return app.openapi(
    createRoute({
      method: "get",
      path: "/api/platform/reports",
      summary: "Daily platform reports",
      description: "The platform owner's daily reports, newest first: organizations per health label, those flagged signup_without_return, those whose label changed.",
      tags: ["Platform analytics"],
      security: [{ bearerAuth: [] }],
      request: { query: pageQuery },
      responses: { 200: { content: { "application/json": { schema: listSchema } }, description: "OK" }, ...errors },
    }),
    async (c) => {
      const page = c.req.valid("query");
      const { rows, total } = (await listReports(c.get("db"), scope, undefined, page))!;
      return c.json(listBody(rows, total, page), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/api/platform/reports/{id}",
      summary: "One daily platform report",
      description: "The platform report of that date.",
      tags: ["Platform analytics"],
      security: [{ bearerAuth: [] }],
      request: { params: idParam },
      responses: { 200: { content: { "application/json": { schema: reportSchema } }, description: "OK" }, ...errors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      return c.json(reportBody(found((await readReport(c.get("db"), scope, undefined, parseDate(id)!))!, id)), 200);
    },
  );
}
