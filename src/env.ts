import { z } from "zod";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type * as schema from "./db/schema";
import type { Principal } from "./auth/principal";

/** Bindings and vars as wrangler.toml declares them. */
export interface Bindings {
  DB: D1Database;
  JWKS_URL?: string;
  JWT_PUBLIC_JWKS?: string;
  JWT_ISSUER?: string;
  JWT_AUDIENCE?: string;
  /** Comma-separated origins allowed to call the API from a browser (CORS); empty allows none. */
  CORS_ALLOWED_ORIGINS?: string;
  /** Cloudflare rate-limiting binding for POST /api/events, keyed per token (wrangler.toml `[[ratelimits]]`). */
  INGEST_RATE_LIMITER?: RateLimit;
}

export type Db = DrizzleD1Database<typeof schema> & { $client: D1Database };

export interface AppEnv {
  Bindings: Bindings;
  Variables: {
    db: Db;
    config: Config;
    principal: Principal;
  };
}

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v && v.trim() !== "" ? v.trim() : undefined));

/** Vars and secrets, validated once per isolate (see `loadConfig`). */
export const configSchema = z
  .object({
    JWKS_URL: optionalString.pipe(z.url().optional()),
    JWT_PUBLIC_JWKS: optionalString,
    JWT_ISSUER: optionalString,
    JWT_AUDIENCE: optionalString,
    CORS_ALLOWED_ORIGINS: z
      .string()
      .optional()
      .transform((v) => (v ?? "").split(",").map((o) => o.trim()).filter(Boolean))
      .pipe(
        z.array(
          z.string().refine((o) => {
            try {
              return new URL(o).origin === o && !o.includes("*");
            } catch {
              return false;
            }
          }, "each CORS_ALLOWED_ORIGINS entry must be an origin like https://login.example.com (scheme, host, optional port; no path or trailing slash)"),
        ),
      ),
  })
  .refine((c) => c.JWKS_URL || c.JWT_PUBLIC_JWKS, {
    message: "Set JWKS_URL (remote JWKS) or JWT_PUBLIC_JWKS (a JWKS JSON string)",
  });

export type Config = z.infer<typeof configSchema>;

let cached: { source: Bindings; config: Config } | undefined;

export function loadConfig(env: Bindings): Config {
  if (cached?.source === env) return cached.config;
  const config = configSchema.parse({
    JWKS_URL: env.JWKS_URL,
    JWT_PUBLIC_JWKS: env.JWT_PUBLIC_JWKS,
    JWT_ISSUER: env.JWT_ISSUER,
    JWT_AUDIENCE: env.JWT_AUDIENCE,
    CORS_ALLOWED_ORIGINS: env.CORS_ALLOWED_ORIGINS,
  });
  cached = { source: env, config };
  return config;
}
