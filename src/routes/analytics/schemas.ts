import { z } from "@hono/zod-openapi";

export const loginTrendSchema = z.array(z.object({ date: z.string(), count: z.number().int() })).openapi("LoginTrends");

export const loginsByServiceSchema = z
  .array(z.object({ service_id: z.string(), service_name: z.string(), count: z.number().int() }))
  .openapi("LoginsByService");

export const loginsByProviderSchema = z
  .array(z.object({ provider: z.string(), count: z.number().int() }))
  .openapi("LoginsByProvider");

export const recentLoginsSchema = z
  .array(
    z.object({
      id: z.string(),
      user_id: z.string(),
      service_id: z.string(),
      provider: z.string(),
      created_at: z.string(),
    }),
  )
  .openapi("RecentLogins");

export const activeUsersSchema = z
  .object({
    start_date: z.string(),
    end_date: z.string(),
    days: z.array(z.object({ date: z.string(), dau: z.number().int(), wau: z.number().int(), mau: z.number().int() })),
    summary: z.object({
      active_users: z.number().int().openapi({ description: "Distinct identities with a login in the range" }),
      average_stickiness: z.number().nullable().openapi({ description: "Mean of DAU/MAU over days with MAU > 0 (4 decimals)" }),
    }),
  })
  .openapi("ActiveUsers");

export const userGrowthSchema = z
  .object({
    start_date: z.string(),
    end_date: z.string(),
    days: z.array(
      z.object({
        date: z.string(),
        new_users: z.number().int(),
        returning_users: z.number().int(),
        total_users: z.number().int().openapi({ description: "Identities with a first login on or before this date" }),
      }),
    ),
  })
  .openapi("UserGrowth");

const metricSchema = z.object({
  current: z.number().int(),
  previous: z.number().int(),
  change_pct: z.number().nullable().openapi({ description: "(current − previous) / previous × 100, 1 decimal; null when previous is 0" }),
});

export const summarySchema = z
  .object({
    range: z.object({ start_date: z.string(), end_date: z.string() }),
    previous_range: z.object({ start_date: z.string(), end_date: z.string() }),
    metrics: z.object({
      logins: metricSchema,
      active_users: metricSchema,
      new_users: metricSchema,
      returning_users: metricSchema,
      failed_logins: metricSchema,
      machine_identities_active: metricSchema,
    }),
  })
  .openapi("Summary");

export const lifecycleSchema = z
  .object({
    start_date: z.string(),
    end_date: z.string(),
    weeks: z.array(
      z.object({
        week: z.string().openapi({ example: "2025-W03" }),
        week_start: z.string(),
        new: z.number().int(),
        returning: z.number().int(),
        resurrecting: z.number().int(),
        dormant: z.number().int(),
      }),
    ),
  })
  .openapi("Lifecycle");

export const retentionSchema = z
  .object({
    start_date: z.string(),
    end_date: z.string(),
    cohorts: z.array(
      z.object({
        cohort: z.string().openapi({ example: "2025-W03" }),
        week_start: z.string(),
        size: z.number().int(),
        retention: z.array(z.object({ week: z.number().int(), active: z.number().int(), rate: z.number() })),
      }),
    ),
  })
  .openapi("Retention");
