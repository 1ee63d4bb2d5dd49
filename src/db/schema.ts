import { sql } from "drizzle-orm";
import {
  blob,
  check,
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex,
} from "drizzle-orm/sqlite-core";

/**
 * Storage model.
 *
 * Raw events reference organizations, services and identities by small integer
 * keys: at millions of events per org the indexes stay a fraction of the size
 * they would be with UUID strings, and every rollup groups on integers.
 *
 * Times are stored as integer milliseconds since the epoch and days as integer
 * UTC day numbers (ms / 86_400_000), so every date filter is an index range
 * scan and no query ever wraps a column in DATE().
 */

export const organizations = sqliteTable("organizations", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  slug: text("slug").notNull().unique(),
  createdAt: integer("created_at").notNull(),
});

export const services = sqliteTable(
  "services",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    orgId: integer("org_id").notNull().references(() => organizations.id),
    /** The service id the customer sends (often a UUID). */
    externalId: text("external_id").notNull(),
    name: text("name"),
  },
  (t) => [uniqueIndex("services_org_external").on(t.orgId, t.externalId)],
);

/**
 * An identity is (org, user_id, identity_type): a person or a machine
 * (service account, API client) that authenticates. first/last login are
 * maintained by the rollup from sealed events, so new-vs-returning and dormancy
 * never scan raw events.
 */
export const identities = sqliteTable(
  "identities",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    orgId: integer("org_id").notNull().references(() => organizations.id),
    userId: text("user_id").notNull(),
    identityType: text("identity_type", { enum: ["human", "machine"] }).notNull(),
    firstLoginAt: integer("first_login_at"),
    firstDay: integer("first_day"),
    lastLoginAt: integer("last_login_at"),
    lastServiceId: integer("last_service_id"),
    lastProvider: text("last_provider"),
    loginCount: integer("login_count").notNull().default(0),
  },
  (t) => [
    uniqueIndex("identities_org_user").on(t.orgId, t.userId, t.identityType),
    // new users per day and "known identities up to day d" are range counts on first_day.
    index("identities_org_first_day").on(t.orgId, t.firstDay),
    // dormancy ("last login before d - N", counted per type from the index alone) and last
    // activity per org: range/max on last_login_at.
    index("identities_org_last_login_type").on(t.orgId, t.lastLoginAt, t.identityType),
  ],
);

export const loginEvents = sqliteTable(
  "login_events",
  {
    /** Ingest order. AUTOINCREMENT guarantees it never goes back, which the rollup watermark relies on. */
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    orgId: integer("org_id").notNull().references(() => organizations.id),
    /** The client's idempotency key, unique per organization. */
    eventId: text("event_id").notNull(),
    identityId: integer("identity_id").notNull().references(() => identities.id),
    serviceId: integer("service_id").notNull().references(() => services.id),
    provider: text("provider").notNull(),
    outcome: text("outcome", { enum: ["success", "failure"] }).notNull(),
    createdAt: integer("created_at").notNull(),
    receivedAt: integer("received_at").notNull(),
    ipAddress: text("ip_address"),
    userAgent: text("user_agent"),
    country: text("country"),
  },
  (t) => [
    // Idempotency: the same id twice in one org is stored once. Per org, so one
    // tenant can never suppress another tenant's events by reusing its ids.
    uniqueIndex("login_events_org_event").on(t.orgId, t.eventId),
    // recent-logins (newest successes first, rowid breaks ties) and any raw
    // date-range read: equality on org and outcome, range on created_at.
    index("login_events_org_outcome_created").on(t.orgId, t.outcome, t.createdAt),
  ],
);

/**
 * The sealed activity of one identity on one day through one service and
 * provider. Maintained incrementally from the event stream, exactly once per
 * event (the watermark advances in the same batch). Every daily table below is
 * recomputed from it, and live reads use it together with the unsealed tail.
 */
export const dailyActivity = sqliteTable(
  "daily_activity",
  {
    orgId: integer("org_id").notNull(),
    day: integer("day").notNull(),
    identityId: integer("identity_id").notNull(),
    serviceId: integer("service_id").notNull(),
    provider: text("provider").notNull(),
    identityType: text("identity_type", { enum: ["human", "machine"] }).notNull(),
    logins: integer("logins").notNull(),
    failures: integer("failures").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.day, t.identityId, t.serviceId, t.provider] }),
    // an identity's login days: its previous and next login around a day (the fold's window deltas)
    index("daily_activity_identity_day").on(t.identityId, t.day),
  ],
);

/**
 * Distinct active identities over trailing windows of the preset lengths
 * (`ACTIVE_WINDOW_LENGTHS`), kept as difference arrays: the number of identities of a type
 * with a login in [e − L + 1, e] is SUM(delta) over rows with day <= e. An identity's login
 * days x₁ < x₂ < … cover disjoint spans of window ends [xᵢ, min(xᵢ + L, xᵢ₊₁) − 1], each a
 * +1 at its start and a −1 after its end; the fold adds a new login day by adding its span
 * and shortening its predecessor's, so a late event in a gap is exact too.
 */
export const activeWindowDeltas = sqliteTable(
  "active_window_deltas",
  {
    orgId: integer("org_id").notNull(),
    identityType: text("identity_type", { enum: ["human", "machine"] }).notNull(),
    windowDays: integer("window_days").notNull(),
    day: integer("day").notNull(),
    delta: integer("delta").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.identityType, t.windowDays, t.day] }),
    // rows whose delta cancelled out, which the fold deletes so the table stays canonical
    index("active_window_deltas_zero").on(t.orgId).where(sql`delta = 0`),
  ],
);

/**
 * Retention cells: for identities of a type whose first login ever falls in ISO week
 * `cohort_week` (a Monday's day number), how many have a login in ISO week `week`. The cell
 * week = cohort_week is the cohort's size (a first login is a login). Maintained by the fold
 * like the window deltas: a chunk adds the (identity, week) pairs it makes newly active,
 * and an identity whose first login moves to an earlier week moves all its weeks to the new
 * cohort. Exact at the watermark; reads add the unsealed tail's identities live.
 */
export const weeklyCohortActivity = sqliteTable(
  "weekly_cohort_activity",
  {
    orgId: integer("org_id").notNull(),
    identityType: text("identity_type", { enum: ["human", "machine"] }).notNull(),
    cohortWeek: integer("cohort_week").notNull(),
    week: integer("week").notNull(),
    active: integer("active").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.identityType, t.cohortWeek, t.week] }),
    // cells that cancelled out (an identity moved to an earlier cohort), which the fold deletes
    index("weekly_cohort_activity_zero").on(t.orgId).where(sql`active = 0`),
  ],
);

/**
 * Successful logins per organization and day, added by the fold (exact at the watermark,
 * independent of the recompute's dirty days): the organizations view's window sums.
 */
export const dailyOrgLogins = sqliteTable(
  "daily_org_logins",
  {
    orgId: integer("org_id").notNull(),
    day: integer("day").notNull(),
    logins: integer("logins").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.day] })],
);

/**
 * The daily tables: the same metrics per (org, day) broken down by one dimension
 * each — identity type, service, provider. For day d: logins and failed logins
 * on d; dau = identities with a login on d; new = of those, first login ever on
 * d; returning = dau - new; wau / mau = identities with a login in [d-6, d] /
 * [d-29, d]. A row exists for every day with activity in its 30-day window, so
 * days after the last login still carry their WAU/MAU — except in
 * daily_provider_stats: nothing reads windows per provider, so it holds 0 there
 * and a row only for days with logins or failures (`DAILY_TABLE`, src/metrics/day-stats.ts).
 */
const dailyMetrics = {
  logins: integer("logins").notNull(),
  failedLogins: integer("failed_logins").notNull(),
  dau: integer("dau").notNull(),
  newUsers: integer("new_users").notNull(),
  returningUsers: integer("returning_users").notNull(),
  wau: integer("wau").notNull(),
  mau: integer("mau").notNull(),
};

/** By identity type; organization totals are the sum of both types (an identity has one type). */
export const dailyOrgStats = sqliteTable(
  "daily_org_stats",
  {
    orgId: integer("org_id").notNull(),
    day: integer("day").notNull(),
    identityType: text("identity_type", { enum: ["human", "machine"] }).notNull(),
    ...dailyMetrics,
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.day, t.identityType] }),
    // platform-wide reads by day across organizations
    index("daily_org_stats_day").on(t.day),
  ],
);

export const dailyServiceStats = sqliteTable(
  "daily_service_stats",
  {
    orgId: integer("org_id").notNull(),
    day: integer("day").notNull(),
    serviceId: integer("service_id").notNull(),
    ...dailyMetrics,
  },
  (t) => [primaryKey({ columns: [t.orgId, t.day, t.serviceId] })],
);

export const dailyProviderStats = sqliteTable(
  "daily_provider_stats",
  {
    orgId: integer("org_id").notNull(),
    day: integer("day").notNull(),
    provider: text("provider").notNull(),
    ...dailyMetrics,
  },
  (t) => [primaryKey({ columns: [t.orgId, t.day, t.provider] })],
);

/**
 * Logins and failed logins per day over every organization: the sum of daily_org_stats
 * for the day, so platform-wide day series read one row per day instead of one per
 * organization and type. A day is only read from here while none of its (org, day) pairs
 * is dirty; the rollup rewrites a day's row whenever it recomputes any pair of that day.
 */
export const dailyPlatformStats = sqliteTable("daily_platform_stats", {
  day: integer("day").primaryKey(),
  logins: integer("logins").notNull(),
  failedLogins: integer("failed_logins").notNull(),
});

/** (org, day) pairs whose daily rows must be recomputed: by the next rollup pass, or the first on or after the day. */
export const dirtyDays = sqliteTable(
  "dirty_days",
  {
    orgId: integer("org_id").notNull(),
    day: integer("day").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.day] }),
    // platform reads look dirty days up by day: the days a login dirtied ahead (its WAU/MAU
    // windows) stay until they come, so the table holds up to ~29 per active organization
    index("dirty_days_day").on(t.day),
  ],
);

/** Small key/value state; `events_watermark` = highest login_events.seq folded into daily_activity. */
export const rollupState = sqliteTable("rollup_state", {
  key: text("key").primaryKey(),
  value: integer("value").notNull(),
});

export const WATERMARK_KEY = "events_watermark";
/**
 * How many identities have a sealed first login (identities.first_day set): kept by the fold, in
 * the batch that sets first_day, so the platform overview counts identities without a pass over them.
 */
export const IDENTITIES_WITH_LOGIN_KEY = "identities_with_login";

/**
 * Messages the ingest queue gave up on (after its retries), parked by the dead-letter
 * queue's consumer until an operator replays them (POST /api/platform/dead-letters/replay).
 * `body` is the message as enqueued (gzipped JSON of one request's events).
 */
export const deadLetters = sqliteTable("dead_letters", {
  messageId: text("message_id").primaryKey(),
  queue: text("queue").notNull(),
  body: blob("body", { mode: "buffer" }).notNull(),
  attempts: integer("attempts").notNull(),
  parkedAt: integer("parked_at").notNull(),
});

// ---- scale-out (src/db/shards.ts) ---------------------------------------------------------

/**
 * Which D1 database (binding name: `DB`, `DB_SHARD_1`, …) holds each organization, when
 * organizations are sharded. Read and written in the primary database (`DB`) only; an
 * organization with no row lives in `DB` (every organization created before sharding was
 * turned on). A row never changes once written: moving an organization is an operator
 * procedure (README, "Scaling out").
 */
export const orgDirectory = sqliteTable("org_directory", {
  slug: text("slug").primaryKey(),
  shard: text("shard").notNull(),
  placedAt: integer("placed_at").notNull(),
});

// ---- governance (src/governance/) ----------------------------------------------------------

/**
 * Per-organization governance settings; an organization without a row has the defaults
 * (src/governance/settings.ts). Thresholds are JSON arrays of days, ascending. The webhook
 * secrets are write-only: no API response ever carries them. After a rotation the previous
 * secret also signs deliveries until `previous_secret_expires_at`, so a receiver can switch
 * keys within 24 h without dropping a report.
 */
export const orgSettings = sqliteTable("org_settings", {
  orgId: integer("org_id").primaryKey().references(() => organizations.id),
  humanThresholds: text("human_thresholds").notNull(),
  machineThresholds: text("machine_thresholds").notNull(),
  reportIdentityTypes: text("report_identity_types", { enum: ["all", "human", "machine"] }).notNull(),
  webhookUrl: text("webhook_url"),
  webhookSecret: text("webhook_secret"),
  previousWebhookSecret: text("previous_webhook_secret"),
  previousSecretExpiresAt: integer("previous_secret_expires_at"),
  /** Set when the endpoint answered 410 Gone: no delivery until the settings are saved again. */
  webhookDisabledAt: integer("webhook_disabled_at"),
  updatedAt: integer("updated_at").notNull(),
}, (t) => [
  // A webhook is never configured without a key to sign its deliveries.
  check("org_settings_webhook_has_secret", sql`${t.webhookUrl} IS NULL OR ${t.webhookSecret} IS NOT NULL`),
]);

/**
 * The identity provider's inventory (PUT …/identities): who exists, whether or not they
 * ever logged in. One row per identity; `deprovisioned_at` takes it out of every report
 * from then on while its history stays. `created_at` is the provider's creation time, or
 * the time it was first registered here.
 */
export const identityInventory = sqliteTable(
  "identity_inventory",
  {
    identityId: integer("identity_id").primaryKey().references(() => identities.id),
    orgId: integer("org_id").notNull().references(() => organizations.id),
    displayName: text("display_name"),
    owner: text("owner"),
    createdAt: integer("created_at").notNull(),
    deprovisionedAt: integer("deprovisioned_at"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("identity_inventory_org").on(t.orgId)],
);

/**
 * Logins that end a long silence: the first login of an identity on `day` when its
 * previous login day, `previous_day`, is at least REACTIVATION_MIN_GAP_DAYS earlier. The
 * rollup maintains them as it folds events (src/governance/reactivations.ts), late events
 * included (a login inside a gap splits it), so a read never scans history; reads apply
 * the organization's threshold to `gap_days`.
 */
export const reactivations = sqliteTable(
  "reactivations",
  {
    identityId: integer("identity_id").notNull(),
    day: integer("day").notNull(),
    orgId: integer("org_id").notNull(),
    previousDay: integer("previous_day").notNull(),
    gapDays: integer("gap_days").notNull(),
    loginAt: integer("login_at").notNull(),
    previousLoginAt: integer("previous_login_at").notNull(),
    /** Null only when the login's raw event was past retention when a later-arriving event made it a reactivation. */
    serviceId: integer("service_id"),
    provider: text("provider"),
    ipAddress: text("ip_address"),
    country: text("country"),
  },
  (t) => [
    primaryKey({ columns: [t.identityId, t.day] }),
    // reads walk an organization's newest logins first and stop after a page (a row's login is its day's first)
    index("reactivations_org_login").on(t.orgId, t.loginAt),
  ],
);

/**
 * Organization health as labelled by the daily job (src/governance/health.ts): one row per
 * organization and day, never rewritten, so the history shows when an organization changed
 * trajectory. `inputs` is the JSON of the numbers that decided the label.
 */
export const orgHealth = sqliteTable(
  "org_health",
  {
    orgId: integer("org_id").notNull(),
    day: integer("day").notNull(),
    label: text("label").notNull(),
    signupWithoutReturn: integer("signup_without_return").notNull(),
    inputs: text("inputs").notNull(),
    recordedAt: integer("recorded_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.day] })],
);

/**
 * Scheduled reports (src/governance/reports.ts): one per organization per day, and one
 * platform report per day (`scope` 'platform', `org_id` 0). Kept as history; `body` is the
 * report's JSON as delivered.
 */
export const reports = sqliteTable(
  "reports",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    scope: text("scope", { enum: ["org", "platform"] }).notNull(),
    orgId: integer("org_id").notNull(),
    day: integer("day").notNull(),
    createdAt: integer("created_at").notNull(),
    body: text("body").notNull(),
  },
  (t) => [uniqueIndex("reports_scope_org_day").on(t.scope, t.orgId, t.day)],
);

/**
 * Webhook delivery of one report (Standard Webhooks): its state, the attempts so far and
 * when the next is due. `webhook_attempts` logs every attempt.
 */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    reportId: integer("report_id").primaryKey().references(() => reports.id),
    orgId: integer("org_id").notNull(),
    /** pending (an attempt is due at next_attempt_at) | delivered | failed (attempts exhausted) | disabled (410) */
    state: text("state", { enum: ["pending", "delivered", "failed", "disabled"] }).notNull(),
    attempts: integer("attempts").notNull(),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    nextAttemptAt: integer("next_attempt_at"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("webhook_deliveries_due").on(t.state, t.nextAttemptAt)],
);

export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    reportId: integer("report_id").notNull(),
    attempt: integer("attempt").notNull(),
    attemptedAt: integer("attempted_at").notNull(),
    /** HTTP status, or null when no response came (timeout, network error). */
    status: integer("status"),
    error: text("error"),
    durationMs: integer("duration_ms").notNull(),
  },
  (t) => [primaryKey({ columns: [t.reportId, t.attempt] })],
);
