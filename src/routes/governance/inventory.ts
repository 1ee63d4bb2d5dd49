import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Schema } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../../env";
import { ApiError, errorResponses } from "../../errors";
import { deprovisionIdentity, inventoryBodySchema, MAX_INVENTORY_BATCH, putInventory } from "../../governance/inventory";
import { formatTimestamp } from "../../lib/dates";
import { foundOrg, orgSlugParam } from "../shared";
import { canWriteInventory } from "./access";

export const MAX_INVENTORY_BODY_BYTES = 1024 * 1024;

const limitBody = bodyLimit({
  maxSize: MAX_INVENTORY_BODY_BYTES,
  onError: () => {
    throw new ApiError("PAYLOAD_TOO_LARGE", `Request body exceeds ${MAX_INVENTORY_BODY_BYTES} bytes`);
  },
});

const writeErrors = errorResponses({
  400: "Invalid identities (nothing was stored)",
  403: "Token lacks inventory:write, or is bound to another organization",
  404: "Organization or identity not found",
  413: "Body over 1 MiB",
  415: "Body is not JSON",
});

export function withInventoryRoutes<S extends Schema, P extends string>(app: OpenAPIHono<AppEnv, S, P>) {
  return app.openapi(
    createRoute({
      method: "put",
      path: "/api/organizations/{org_slug}/identities",
      summary: "Register identities (inventory feed)",
      description:
        `Up to ${MAX_INVENTORY_BATCH} identities from the identity provider (SCIM-like): user_id, identity_type, display_name, owner, created_at. ` +
        "Idempotent and all-or-nothing; fields left out keep their value; a re-registered identity is no longer deprovisioned. Inventory identities " +
        "that never logged in are reported as never_seen. Creates the organization if it has no events yet. Needs scope `inventory:write` " +
        "(a token with an `org` claim writes only that organization's inventory).",
      tags: ["Governance"],
      security: [{ bearerAuth: [] }],
      middleware: [...canWriteInventory, limitBody],
      request: { params: orgSlugParam, body: { content: { "application/json": { schema: inventoryBodySchema } }, required: true } },
      responses: {
        200: {
          content: {
            "application/json": {
              schema: z.object({
                received: z.number().int().openapi({ description: "Identities in the request, all stored" }),
                added: z.number().int().openapi({ description: "Of those, new to the inventory" }),
              }),
            },
          },
          description: "Stored",
        },
        ...writeErrors,
      },
    }),
    async (c) => {
      const { org_slug } = c.req.valid("param");
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(org_slug)) throw new ApiError("NOT_FOUND", `Organization "${org_slug}" not found`);
      return c.json(await putInventory(c.get("db"), org_slug, c.req.valid("json").identities, Date.now()), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/api/organizations/{org_slug}/identities/{user_id}",
      summary: "Deprovision an identity",
      description:
        "Marks the organization's identities with this user_id (of `identity_type`, default both) deprovisioned: they leave every report from now on; " +
        "their history stays. Idempotent (the first time is kept). Needs scope `inventory:write`.",
      tags: ["Governance"],
      security: [{ bearerAuth: [] }],
      middleware: canWriteInventory,
      request: {
        params: orgSlugParam.extend({ user_id: z.string().min(1).max(128).openapi({ param: { name: "user_id", in: "path" } }) }),
        query: z.object({ identity_type: z.enum(["human", "machine"]).optional() }),
      },
      responses: {
        200: {
          content: {
            "application/json": {
              schema: z.object({
                user_id: z.string(),
                deprovisioned: z.array(z.object({ identity_type: z.enum(["human", "machine"]), deprovisioned_at: z.string() })),
              }),
            },
          },
          description: "Deprovisioned",
        },
        ...writeErrors,
      },
    }),
    async (c) => {
      const { org_slug, user_id } = c.req.valid("param");
      const rows = foundOrg(await deprovisionIdentity(c.get("db"), org_slug, user_id, c.req.valid("query").identity_type, Date.now()), org_slug);
      if (rows.length === 0) throw new ApiError("NOT_FOUND", `No identity "${user_id}" in this organization`);
      return c.json({ user_id, deprovisioned: rows.map((r) => ({ identity_type: r.identity_type, deprovisioned_at: formatTimestamp(r.deprovisioned_at) })) }, 200);
    },
  );
}
