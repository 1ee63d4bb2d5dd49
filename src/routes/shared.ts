import { z } from "@hono/zod-openapi";
import { ApiError } from "../errors";
import type { DayRange } from "../analytics/org-queries";
import { dayOf, parseDate } from "../lib/dates";

/** Longest accepted range: a guard against accidental centuries, far above any dashboard's. */
export const MAX_RANGE_DAYS = 3660;
/** Default range: today − 30 days .. today, inclusive (31 calendar days), as the reference. */
export const DEFAULT_RANGE_BACK_DAYS = 30;

/** A strict YYYY-MM-DD calendar date (2025-02-30 and date-times are refused). */
export const dateParam = z
  .string()
  .refine((s) => parseDate(s) !== undefined, { message: "must be a calendar date in YYYY-MM-DD format" })
  .optional();

export const dateRangeQuery = z.object({
  start_date: dateParam.openapi({ description: "Start date, YYYY-MM-DD, inclusive (UTC). Default: today − 30 days", example: "2025-01-01" }),
  end_date: dateParam.openapi({ description: "End date, YYYY-MM-DD, inclusive (UTC). Default: today", example: "2025-01-31" }),
});

export const identityTypeParam = z
  .enum(["human", "machine", "all"])
  .default("all")
  .openapi({ description: "Restrict to human or machine identities (default all)" });

/** Applies the reference's defaults (each bound independently) and checks order and length. */
export function resolveRange(query: { start_date?: string; end_date?: string }, now: number): DayRange {
  const today = dayOf(now);
  const start = query.start_date ? parseDate(query.start_date)! : today - DEFAULT_RANGE_BACK_DAYS;
  const end = query.end_date ? parseDate(query.end_date)! : today;
  if (start > end) {
    throw new ApiError("BAD_REQUEST", "start_date must not be after end_date", [
      { path: "start_date", message: "must not be after end_date" },
    ]);
  }
  if (end - start + 1 > MAX_RANGE_DAYS) {
    throw new ApiError("BAD_REQUEST", `Date range may span at most ${MAX_RANGE_DAYS} days`, [
      { path: "start_date", message: `range longer than ${MAX_RANGE_DAYS} days` },
    ]);
  }
  return { start, end };
}

export const orgSlugParam = z.object({
  org_slug: z.string().openapi({ param: { name: "org_slug", in: "path" }, example: "acme-corp" }),
});

export const errorSchema = z
  .object({
    error: z.string(),
    error_code: z.string(),
    timestamp: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Error");

export const errorResponse = (description: string) => ({ content: { "application/json": { schema: errorSchema } }, description });

export const readErrors = {
  400: errorResponse("Invalid query parameter"),
  401: errorResponse("Missing or invalid JWT token"),
  403: errorResponse("Token not authorized for this organization"),
  404: errorResponse("Organization not found"),
} as const;

/** Percentage change, 1 decimal; null when there is nothing to compare with. */
export const changePct = (current: number, previous: number) =>
  previous === 0 ? null : Math.round(((current - previous) * 1000) / previous) / 10;

export function notFoundOrg(slug: string): never {
  throw new ApiError("NOT_FOUND", `Organization "${slug}" not found`);
}

