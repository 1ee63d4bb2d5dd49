import { z } from "@hono/zod-openapi";
import { sql, type SQL } from "drizzle-orm";
import { namedBatch } from "../db/client";
import { organizations, orgSettings } from "../db/schema";
import type { Db } from "../env";
import { invalidInput } from "../errors";

/**
 * Per-organization governance settings: dormancy thresholds per identity type, which
 * identity types the scheduled report covers, and the report webhook (URL and signing
 * secret). An organization that never saved settings has the defaults.
 */

export type IdentityType = "human" | "machine";
export const IDENTITY_TYPES: readonly IdentityType[] = ["human", "machine"];

export const DEFAULT_THRESHOLDS: readonly number[] = [30, 60, 90];
/**
 * The shortest gap between two login days the rollup records as a possible reactivation
 * (src/governance/reactivations.ts); reads keep the gaps of at least the organization's
 * threshold, so thresholds start here and can change without losing history.
 */
export const REACTIVATION_MIN_GAP_DAYS = 7;
export const MIN_THRESHOLD_DAYS = REACTIVATION_MIN_GAP_DAYS;
export const MAX_THRESHOLD_DAYS = 3650;
export const MAX_THRESHOLDS = 5;
/** After a secret rotation, the previous secret keeps signing deliveries this long. */
export const SECRET_ROTATION_OVERLAP_MS = 24 * 3_600_000;

export interface WebhookSettings {
  url: string | null;
  secret: string | null;
  /** The secret before the last rotation, while it is still valid (`previousSecretExpiresAt`). */
  previousSecret: string | null;
  previousSecretExpiresAt: number | null;
  /** The endpoint answered 410 Gone at this time; deliveries wait until the settings are saved again. */
  disabledAt: number | null;
}

export interface OrgSettings {
  orgId: number;
  thresholds: Record<IdentityType, number[]>;
  reportIdentityTypes: "all" | IdentityType;
  webhook: WebhookSettings;
  updatedAt: number | null;
}

/** The organization's first (default) threshold for one identity type. */
export const firstThreshold = (s: OrgSettings, type: IdentityType) => s.thresholds[type][0];

/** Identity types the scheduled report includes. */
export const reportTypes = (s: OrgSettings): IdentityType[] => (s.reportIdentityTypes === "all" ? [...IDENTITY_TYPES] : [s.reportIdentityTypes]);

// ---- validation ------------------------------------------------------------------------------

const thresholdList = z
  .array(z.int().min(MIN_THRESHOLD_DAYS).max(MAX_THRESHOLD_DAYS))
  .min(1)
  .max(MAX_THRESHOLDS)
  .refine((list) => list.every((v, i) => i === 0 || v > list[i - 1]), "must be strictly ascending")
  .openapi({ description: `1..${MAX_THRESHOLDS} thresholds in days (${MIN_THRESHOLD_DAYS}..${MAX_THRESHOLD_DAYS}), strictly ascending; the first is the default`, example: [30, 60, 90] });

/** Standard Webhooks secrets: `whsec_` + base64 of 24..64 random bytes. */
const WEBHOOK_SECRET = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

export function secretKeyBytes(secret: string): Uint8Array | undefined {
  const m = WEBHOOK_SECRET.exec(secret);
  if (!m) return undefined;
  try {
    const raw = atob(m[1]);
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

export const settingsUpdateSchema = z
  .object({
    human_thresholds: thresholdList.optional(),
    machine_thresholds: thresholdList.optional(),
    report_identity_types: z.enum(["all", "human", "machine"]).optional().openapi({ description: "Identity types the scheduled report includes" }),
    webhook_url: z
      .string()
      .max(2048)
      .nullable()
      .optional()
      .openapi({ description: "https URL receiving the signed daily report; null removes the webhook (and its secrets)", example: "https://hooks.example.com/loginpulse" }),
    webhook_secret: z
      .string()
      .refine((s) => {
        const key = secretKeyBytes(s);
        return key !== undefined && key.length >= 24 && key.length <= 64;
      }, "must be whsec_ followed by the base64 of 24 to 64 random bytes")
      .optional()
      .openapi({ description: "Write-only signing secret (Standard Webhooks `whsec_…`). A new one rotates: the previous secret also signs for 24 h" }),
  })
  .strict()
  .openapi("SettingsUpdate");

export type SettingsUpdate = z.infer<typeof settingsUpdateSchema>;

// ---- storage ---------------------------------------------------------------------------------

interface SettingsRow {
  org_id: number;
  human_thresholds: string | null;
  machine_thresholds: string | null;
  report_identity_types: "all" | IdentityType | null;
  webhook_url: string | null;
  webhook_secret: string | null;
  previous_webhook_secret: string | null;
  previous_secret_expires_at: number | null;
  webhook_disabled_at: number | null;
  updated_at: number | null;
}

/**
 * The organization's settings row (defaults where it has none), or no row when the
 * organization does not exist: a statement to run in a read's batch.
 */
export function settingsSql(orgSlug: string): SQL {
  return sql`SELECT o.id AS org_id, s.human_thresholds, s.machine_thresholds, s.report_identity_types, s.webhook_url,
      s.webhook_secret, s.previous_webhook_secret, s.previous_secret_expires_at, s.webhook_disabled_at, s.updated_at
    FROM ${organizations} o LEFT JOIN ${orgSettings} s ON s.org_id = o.id WHERE o.slug = ${orgSlug}`;
}

/** Settings of every organization (for the daily job), keyed by organization id. */
export const allSettingsSql = sql`SELECT o.id AS org_id, s.human_thresholds, s.machine_thresholds, s.report_identity_types, s.webhook_url,
    s.webhook_secret, s.previous_webhook_secret, s.previous_secret_expires_at, s.webhook_disabled_at, s.updated_at
  FROM ${organizations} o LEFT JOIN ${orgSettings} s ON s.org_id = o.id`;

export function parseSettings(row: SettingsRow, now: number): OrgSettings {
  const previousValid = row.previous_secret_expires_at !== null && row.previous_secret_expires_at > now;
  return {
    orgId: row.org_id,
    thresholds: {
      human: row.human_thresholds ? (JSON.parse(row.human_thresholds) as number[]) : [...DEFAULT_THRESHOLDS],
      machine: row.machine_thresholds ? (JSON.parse(row.machine_thresholds) as number[]) : [...DEFAULT_THRESHOLDS],
    },
    reportIdentityTypes: row.report_identity_types ?? "all",
    webhook: {
      url: row.webhook_url,
      secret: row.webhook_secret,
      previousSecret: previousValid ? row.previous_webhook_secret : null,
      previousSecretExpiresAt: previousValid ? row.previous_secret_expires_at : null,
      disabledAt: row.webhook_disabled_at,
    },
    updatedAt: row.updated_at,
  };
}

/** The settings of `orgSlug`, or null when the organization does not exist. One D1 round trip. */
export async function readSettings(db: Db, orgSlug: string, now: number): Promise<OrgSettings | null> {
  const { settings } = await namedBatch(db, { settings: settingsSql(orgSlug) });
  const row = settings.results[0] as SettingsRow | undefined;
  return row ? parseSettings(row, now) : null;
}

export function parseSettingsRows(rows: unknown[], now: number): Map<number, OrgSettings> {
  return new Map((rows as SettingsRow[]).map((r) => [r.org_id, parseSettings(r, now)]));
}

/**
 * Applies an update in one statement (so two concurrent saves cannot lose a rotated secret):
 * fields left out keep their value; `webhook_url: null` removes the webhook and its secrets;
 * a new `webhook_secret` rotates, keeping the current one valid for SECRET_ROTATION_OVERLAP_MS;
 * saving re-enables an endpoint that answered 410. Returns the saved settings, or null when
 * the organization does not exist. A webhook URL without any secret is refused (400).
 */
export async function saveSettings(db: Db, orgSlug: string, update: SettingsUpdate, now: number): Promise<OrgSettings | null> {
  const json = (v: number[] | undefined) => (v === undefined ? null : JSON.stringify(v));
  const human = json(update.human_thresholds);
  const machine = json(update.machine_thresholds);
  const types = update.report_identity_types ?? null;
  const clear = update.webhook_url === null ? 1 : 0;
  const urlGiven = update.webhook_url !== undefined ? 1 : 0;
  const url = update.webhook_url ?? null;
  const secret = update.webhook_secret ?? null;
  const rotates = sql`(${secret} IS NOT NULL AND ${orgSettings.webhookSecret} IS NOT NULL AND ${orgSettings.webhookSecret} <> ${secret})`;
  try {
    const { saved } = await namedBatch(db, {
      upsert: sql`INSERT INTO ${orgSettings} (org_id, human_thresholds, machine_thresholds, report_identity_types, webhook_url, webhook_secret,
          previous_webhook_secret, previous_secret_expires_at, webhook_disabled_at, updated_at)
        SELECT o.id, COALESCE(${human}, ${JSON.stringify(DEFAULT_THRESHOLDS)}), COALESCE(${machine}, ${JSON.stringify(DEFAULT_THRESHOLDS)}),
          COALESCE(${types}, 'all'), ${url}, CASE WHEN ${clear} = 1 THEN NULL ELSE ${secret} END, NULL, NULL, NULL, ${now}
        FROM ${organizations} o WHERE o.slug = ${orgSlug}
        ON CONFLICT (org_id) DO UPDATE SET
          human_thresholds = COALESCE(${human}, ${orgSettings.humanThresholds}),
          machine_thresholds = COALESCE(${machine}, ${orgSettings.machineThresholds}),
          report_identity_types = COALESCE(${types}, ${orgSettings.reportIdentityTypes}),
          webhook_url = CASE WHEN ${urlGiven} = 1 THEN ${url} ELSE ${orgSettings.webhookUrl} END,
          previous_webhook_secret = CASE WHEN ${clear} = 1 THEN NULL WHEN ${rotates} THEN ${orgSettings.webhookSecret}
            ELSE ${orgSettings.previousWebhookSecret} END,
          previous_secret_expires_at = CASE WHEN ${clear} = 1 THEN NULL WHEN ${rotates} THEN ${now + SECRET_ROTATION_OVERLAP_MS}
            ELSE ${orgSettings.previousSecretExpiresAt} END,
          webhook_secret = CASE WHEN ${clear} = 1 THEN NULL ELSE COALESCE(${secret}, ${orgSettings.webhookSecret}) END,
          webhook_disabled_at = NULL,
          updated_at = ${now}`,
      saved: settingsSql(orgSlug),
    });
    const row = saved.results[0] as SettingsRow | undefined;
    return row ? parseSettings(row, now) : null;
  } catch (err) {
    if (/org_settings_webhook_has_secret/.test((err as Error)?.message ?? "")) {
      throw invalidInput("json", [{ path: "webhook_secret", message: "is required to configure a webhook_url (none is stored yet)" }]);
    }
    throw err;
  }
}
