import { z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { namedBatch } from "../db/client";
import { identities, identityInventory, organizations } from "../db/schema";
import type { Db } from "../env";
import type { IdentityType } from "./settings";

/**
 * The identity inventory: the identity provider's list of who and what exists (SCIM-like),
 * so reports can name owners, show display names and find identities that never logged in
 * (`never_seen`). Optional: without it, every identity is known from its logins.
 */

export const MAX_INVENTORY_BATCH = 1000;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((v) => !LONE_SURROGATE.test(v), "must be well-formed unicode (no lone surrogates)");

export const inventoryIdentitySchema = z
  .object({
    user_id: text(128).openapi({ description: "The identity's user_id, as login events send it" }),
    identity_type: z.enum(["human", "machine"]).default("human"),
    display_name: text(200).optional(),
    owner: text(200).optional().openapi({ description: "The person or team accountable (for machine identities)" }),
    created_at: z.iso
      .datetime({ offset: true })
      .refine((v) => Date.parse(v) <= Date.now() + 5 * 60_000, "must not be in the future")
      .optional()
      .openapi({ description: "When the provider created it (RFC 3339); default: when first registered here" }),
  })
  .strict()
  .openapi("InventoryIdentity");

export const inventoryBodySchema = z
  .object({
    identities: z
      .array(inventoryIdentitySchema)
      .min(1)
      .max(MAX_INVENTORY_BATCH)
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((identity, i) => {
          const key = `${identity.identity_type}\u0000${identity.user_id}`;
          if (seen.has(key)) ctx.addIssue({ code: "custom", path: [i, "user_id"], message: "appears twice with the same identity_type" });
          seen.add(key);
        });
      }),
  })
  .strict()
  .openapi("InventoryBatch");

export type InventoryIdentity = z.infer<typeof inventoryIdentitySchema>;

/**
 * Registers (or updates) identities in one D1 batch: all or nothing, idempotent. The whole
 * list is bound as ONE JSON parameter and unpacked by json_each (D1 binds at most 100
 * parameters per statement). The organization is created if it has no events yet, as
 * ingest does; a re-registered identity is no longer deprovisioned; fields left out keep
 * their value (`created_at`: the first registration time).
 */
export async function putInventory(db: Db, orgSlug: string, list: InventoryIdentity[], now: number) {
  const json = JSON.stringify(
    list.map((i) => [i.user_id, i.identity_type, i.display_name ?? null, i.owner ?? null, i.created_at === undefined ? null : Date.parse(i.created_at)]),
  );
  const rows = sql`rows AS (SELECT j.value ->> 0 AS user_id, j.value ->> 1 AS identity_type, j.value ->> 2 AS display_name,
      j.value ->> 3 AS owner, j.value ->> 4 AS created_at FROM json_each(${json}) j)`;
  const org = sql`(SELECT id FROM ${organizations} WHERE slug = ${orgSlug})`;
  // The request's identities with their keys. CROSS JOIN walks the request and looks each
  // identity up by its unique index; MATERIALIZED keeps the planner from scanning the
  // whole inventory once per request row.
  const matched = sql`${rows}, matched AS MATERIALIZED (
      SELECT i.id AS identity_id, i.org_id, r.display_name, r.owner, r.created_at
      FROM rows r CROSS JOIN ${identities} i ON i.org_id = ${org} AND i.user_id = r.user_id AND i.identity_type = r.identity_type)`;
  const { known } = await namedBatch(db, {
    organization: sql`INSERT INTO ${organizations} (slug, created_at) VALUES (${orgSlug}, ${now}) ON CONFLICT (slug) DO NOTHING`,
    identities: sql`WITH ${rows} INSERT INTO ${identities} (org_id, user_id, identity_type)
      SELECT ${org}, user_id, identity_type FROM rows WHERE true ON CONFLICT (org_id, user_id, identity_type) DO NOTHING`,
    known: sql`WITH ${matched} SELECT COUNT(*) AS n FROM matched m JOIN ${identityInventory} v ON v.identity_id = m.identity_id`,
    added: sql`WITH ${matched} INSERT INTO ${identityInventory} (identity_id, org_id, display_name, owner, created_at, deprovisioned_at, updated_at)
      SELECT identity_id, org_id, display_name, owner, COALESCE(created_at, ${now}), NULL, ${now} FROM matched
      WHERE true ON CONFLICT (identity_id) DO NOTHING`,
    updated: sql`WITH ${matched} UPDATE ${identityInventory} SET
        display_name = COALESCE(m.display_name, ${identityInventory.displayName}),
        owner = COALESCE(m.owner, ${identityInventory.owner}),
        created_at = COALESCE(m.created_at, ${identityInventory.createdAt}),
        deprovisioned_at = NULL,
        updated_at = ${now}
      FROM matched m WHERE ${identityInventory.identityId} = m.identity_id`,
  });
  const already = (known.results as { n: number }[])[0].n;
  return { received: list.length, added: list.length - already };
}

export interface Deprovisioned {
  identity_type: IdentityType;
  deprovisioned_at: number;
}

/**
 * Marks an organization's identities with this user_id (of one type, or both) deprovisioned:
 * from now on they leave every report, and their history stays. Identities known only from
 * their logins join the inventory as deprovisioned. Repeating it keeps the first time.
 * Null when the organization does not exist; an empty list when it has no such identity.
 */
export async function deprovisionIdentity(db: Db, orgSlug: string, userId: string, type: IdentityType | undefined, now: number) {
  const typeFilter = type ? sql`AND i.identity_type = ${type}` : sql``;
  const matching = sql`SELECT i.id, i.org_id FROM ${identities} i
    WHERE i.org_id = (SELECT id FROM ${organizations} WHERE slug = ${orgSlug}) AND i.user_id = ${userId} ${typeFilter}`;
  const { org, result } = await namedBatch(db, {
    org: sql`SELECT id FROM ${organizations} WHERE slug = ${orgSlug}`,
    mark: sql`INSERT INTO ${identityInventory} (identity_id, org_id, display_name, owner, created_at, deprovisioned_at, updated_at)
      SELECT id, org_id, NULL, NULL, ${now}, ${now}, ${now} FROM (${matching}) WHERE true
      ON CONFLICT (identity_id) DO UPDATE SET
        deprovisioned_at = COALESCE(${identityInventory.deprovisionedAt}, excluded.deprovisioned_at),
        updated_at = CASE WHEN ${identityInventory.deprovisionedAt} IS NULL THEN excluded.updated_at ELSE ${identityInventory.updatedAt} END`,
    result: sql`SELECT i.identity_type, v.deprovisioned_at FROM (${matching}) m
      JOIN ${identities} i ON i.id = m.id JOIN ${identityInventory} v ON v.identity_id = m.id ORDER BY i.identity_type`,
  });
  if (org.results.length === 0) return null;
  return result.results as unknown as Deprovisioned[];
}
