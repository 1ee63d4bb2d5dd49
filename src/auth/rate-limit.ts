import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import type { Principal } from "./principal";

/**
 * Must equal `period` of the INGEST_RATE_LIMITER binding in wrangler.toml: the binding
 * answers only allowed/refused, so this is the longest a refused client has to wait.
 */
export const INGEST_RATE_LIMIT_PERIOD_SECONDS = 10;

/** One budget per credential: the verified token's issuer-scoped subject and its bindings. */
function rateLimitKey(p: Principal): string {
  return JSON.stringify(["ingest", p.subject, p.org ?? null, p.service ?? null]);
}

/**
 * Per-token rate limiting on ingest with Cloudflare's rate-limiting binding. It runs
 * after authentication (an anonymous flood is refused by the signature check and never
 * reaches the counter) and before the body is read, so refused requests cost little.
 * If the limiter itself fails, events are still taken: losing logins is worse than a
 * moment without a limit.
 */
export const ingestRateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const limiter = c.env.INGEST_RATE_LIMITER;
  if (limiter) {
    let allowed = true;
    try {
      ({ success: allowed } = await limiter.limit({ key: rateLimitKey(c.get("principal")) }));
    } catch (err) {
      console.warn(`ingest rate limiter unavailable, request let through: ${(err as Error)?.message}`);
    }
    if (!allowed) {
      throw new ApiError(
        "RATE_LIMITED",
        `Too many ingest requests for this token; retry after ${INGEST_RATE_LIMIT_PERIOD_SECONDS} s`,
        { retryAfter: INGEST_RATE_LIMIT_PERIOD_SECONDS },
      );
    }
  }
  await next();
});
