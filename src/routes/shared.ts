import { z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { parseDate } from "../lib/dates";

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

/** The `identity_type` parameter as a query filter: undefined means both types. */
export const identityTypeFilter = (t: "human" | "machine" | "all") => (t === "all" ? undefined : t);

export const orgSlugParam = z.object({
  org_slug: z.string().openapi({ param: { name: "org_slug", in: "path" }, example: "acme-corp" }),
});

/** Percentage change, 1 decimal; null when there is nothing to compare with. */
export const changePct = (current: number, previous: number) =>
  previous === 0 ? null : Math.round(((current - previous) * 1000) / previous) / 10;

export function notFoundOrg(slug: string): never {
  throw new ApiError("NOT_FOUND", `Organization "${slug}" not found`);
}

/** An organization's rows, or 404 when the query found no such organization (null). */
export const foundOrg = <T>(value: T | null, slug: string): T => (value === null ? notFoundOrg(slug) : value);

/**
 * Organization routes run against the organization's database (src/db/shards.ts), chosen
 * after the access check so a caller without access causes no directory lookup. `place`
 * (writes that may create the organization) places a new organization on its shard.
 */
export const orgDatabase = (place = false) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const slug = c.req.param("org_slug") ?? "";
    const dbs = c.get("dbs");
    c.set("db", place ? dbs.db((await dbs.placeOrgs([slug])).get(slug)!) : await dbs.forOrg(slug));
    await next();
  });
