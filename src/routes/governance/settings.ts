import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Schema } from "hono";
import type { AppEnv } from "../../env";
import { errorResponses, invalidInput } from "../../errors";
import { type OrgSettings, readSettings, saveSettings, settingsUpdateSchema } from "../../governance/settings";
import { webhookUrlProblem } from "../../governance/webhooks";
import { formatTimestamp } from "../../lib/dates";
import { foundOrg, orgSlugParam } from "../shared";
import { canAdminOrg, canReadOrg } from "./access";

const settingsSchema = z
  .object({
    human_thresholds: z.array(z.number().int()).openapi({ description: "Dormancy thresholds for people, days ascending; the first is the default" }),
    machine_thresholds: z.array(z.number().int()).openapi({ description: "Dormancy thresholds for machine identities, days ascending" }),
    report_identity_types: z.enum(["all", "human", "machine"]),
    webhook: z.object({
      url: z.string().nullable(),
      secret_configured: z.boolean().openapi({ description: "The secret itself is write-only and never returned" }),
      previous_secret_valid_until: z.string().nullable().openapi({ description: "After a rotation, the previous secret also signs deliveries until then" }),
      disabled_at: z.string().nullable().openapi({ description: "The endpoint answered 410 Gone: no deliveries until the settings are saved again" }),
    }),
    updated_at: z.string().nullable(),
  })
  .openapi("Settings");

const ts = (ms: number | null) => (ms === null ? null : formatTimestamp(ms));

/** The settings as the API shows them: never a secret. */
export function settingsBody(s: OrgSettings) {
  return {
    human_thresholds: s.thresholds.human,
    machine_thresholds: s.thresholds.machine,
    report_identity_types: s.reportIdentityTypes,
    webhook: {
      url: s.webhook.url,
      secret_configured: s.webhook.secret !== null,
      previous_secret_valid_until: ts(s.webhook.previousSecretExpiresAt),
      disabled_at: ts(s.webhook.disabledAt),
    },
    updated_at: ts(s.updatedAt),
  };
}

const PATH = "/api/organizations/{org_slug}/settings";

export function withSettingsRoutes<S extends Schema, P extends string>(app: OpenAPIHono<AppEnv, S, P>) {
  return app.openapi(
    createRoute({
      method: "get",
      path: PATH,
      summary: "Governance settings",
      description: "Dormancy thresholds per identity type, the identity types the daily report includes, and the report webhook. The signing secret is never returned.",
      tags: ["Governance"],
      security: [{ bearerAuth: [] }],
      middleware: canReadOrg,
      request: { params: orgSlugParam },
      responses: {
        200: { content: { "application/json": { schema: settingsSchema } }, description: "OK" },
        ...errorResponses({ 400: "Invalid parameter", 403: "Token not authorized for this organization", 404: "Organization not found" }),
      },
    }),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      return c.json(settingsBody(foundOrg(await readSettings(c.get("db"), org_slug, Date.now()), org_slug)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: PATH,
      summary: "Save governance settings",
      description:
        "Fields left out keep their value. `webhook_url` must be https and must not point to a loopback, private, link-local or metadata address " +
        "(allowed when ENVIRONMENT=development); `webhook_url: null` removes the webhook and its secrets. A new `webhook_secret` rotates: the previous " +
        "one keeps signing deliveries for 24 h. Saving re-enables a webhook that answered 410 Gone. Needs this organization's token with scope `org:admin`, " +
        "or a platform-owner token.",
      tags: ["Governance"],
      security: [{ bearerAuth: [] }],
      middleware: canAdminOrg,
      request: { params: orgSlugParam, body: { content: { "application/json": { schema: settingsUpdateSchema } }, required: true } },
      responses: {
        200: { content: { "application/json": { schema: settingsSchema } }, description: "Saved" },
        ...errorResponses({
          400: "Invalid settings (nothing was saved)",
          403: "Not this organization's token with org:admin, nor the platform owner",
          404: "Organization not found",
          415: "Body is not JSON",
        }),
      },
    }),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      const update = c.req.valid("json");
      if (typeof update.webhook_url === "string") {
        const problem = webhookUrlProblem(update.webhook_url, c.get("config").ENVIRONMENT === "development");
        if (problem) throw invalidInput("json", [{ path: "webhook_url", message: problem }]);
      }
      return c.json(settingsBody(foundOrg(await saveSettings(c.get("db"), org_slug, update, Date.now()), org_slug)), 200);
    },
  );
}
