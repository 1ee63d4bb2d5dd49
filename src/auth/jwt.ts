import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors as joseErrors,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import { z } from "zod";
import type { Config } from "../env";
import { ApiError } from "../errors";
import type { Principal } from "./principal";
import { parseScopes } from "./scopes";

/** Asymmetric algorithms only: never `none`, never HMAC (an HMAC "key" could be the public key). */
export const ALLOWED_ALGORITHMS = ["RS256", "ES256", "EdDSA"];
const CLOCK_TOLERANCE_SECONDS = 30;
/** Real tokens are well under 2 KiB; anything longer is refused before it is parsed. */
export const MAX_TOKEN_LENGTH = 8192;
/** How long a JWKS_URL fetch may take before the request fails closed (503). */
export const JWKS_TIMEOUT_MS = 3000;
/**
 * Retry-After for AUTH_UNAVAILABLE. A failed fetch is not cached (the next request tries
 * again, so recovery is immediate); clients are asked to back off meanwhile.
 */
const JWKS_RETRY_AFTER_SECONDS = 30;

function keysUnavailable(reason: string): ApiError {
  return new ApiError("AUTH_UNAVAILABLE", `Signing keys are unavailable (${reason}); retry later`, { retryAfter: JWKS_RETRY_AFTER_SECONDS });
}

/**
 * jose's fetch for JWKS_URL, failing closed: an unreachable, slow, non-200 or
 * non-JWKS answer becomes a 503, never a 401 (the token may be fine) and never
 * an accepted token. jose keeps the last good key set and its cooldown.
 */
async function fetchJwks(url: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw keysUnavailable((err as Error)?.name === "TimeoutError" ? "JWKS fetch timed out" : "JWKS fetch failed");
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw keysUnavailable(`JWKS endpoint answered HTTP ${res.status}`);
  }
  const text = await res.text();
  let jwks: unknown;
  try {
    jwks = JSON.parse(text);
  } catch {
    throw keysUnavailable("JWKS endpoint answered something other than JSON");
  }
  const keys = (jwks as { keys?: unknown })?.keys;
  if (!Array.isArray(keys)) throw keysUnavailable("JWKS endpoint answered JSON without a keys array");
  // An issuer never publishes an empty set on purpose: it is an outage, not "every token is
  // forged". Failing here (not caching it) means the next request fetches again.
  if (!keys.some((k) => typeof (k as { kty?: unknown })?.kty === "string")) throw keysUnavailable("JWKS endpoint answered a key set without keys");
  return new Response(text, { status: 200, headers: { "content-type": "application/json" } });
}

// Key sets live at module scope so the remote JWKS is fetched once per isolate
// and then refreshed by jose's own cooldown/cache logic.
const keySets = new Map<string, JWTVerifyGetKey>();

/** The part of the configuration that token verification reads. */
export type AuthConfig = Pick<Config, "JWKS_URL" | "JWT_PUBLIC_JWKS" | "JWT_ISSUER" | "JWT_AUDIENCE">;

function keySetFor(config: AuthConfig): JWTVerifyGetKey {
  const cacheKey = config.JWKS_URL ? `url:${config.JWKS_URL}` : `jwks:${config.JWT_PUBLIC_JWKS}`;
  let keySet = keySets.get(cacheKey);
  if (!keySet) {
    if (config.JWKS_URL) {
      keySet = createRemoteJWKSet(new URL(config.JWKS_URL), { timeoutDuration: JWKS_TIMEOUT_MS, [customFetch]: fetchJwks });
    } else {
      let jwks: unknown;
      try {
        jwks = JSON.parse(config.JWT_PUBLIC_JWKS ?? "");
      } catch {
        throw new Error("JWT_PUBLIC_JWKS is not valid JSON");
      }
      keySet = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
    }
    keySets.set(cacheKey, keySet);
  }
  return keySet;
}

const claimsSchema = z.object({
  sub: z.string().min(1),
  email: z.string().optional(),
  is_platform_owner: z.boolean().optional(),
  org: z.string().min(1).optional(),
  service: z.string().min(1).optional(),
  scope: z.string().optional(),
});

export async function verifyBearer(authorization: string | undefined, config: AuthConfig): Promise<Principal> {
  const match = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
  if (!match) {
    throw new ApiError("UNAUTHORIZED", "Missing or malformed Authorization header (expected: Bearer <jwt>)");
  }
  if (match[1].length > MAX_TOKEN_LENGTH) {
    throw new ApiError("JWT_ERROR", `Invalid token: longer than ${MAX_TOKEN_LENGTH} characters`);
  }
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(match[1], keySetFor(config), {
      algorithms: ALLOWED_ALGORITHMS,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ["exp", "sub"],
    }));
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw new ApiError("TOKEN_EXPIRED", "Token has expired");
    if (err instanceof joseErrors.JOSEError) throw new ApiError("JWT_ERROR", `Invalid token: ${describe(err)}`);
    throw err;
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) throw new ApiError("JWT_ERROR", "Invalid token: unexpected claim types");
  const { sub, email, is_platform_owner, org, service, scope } = claims.data;
  return {
    subject: sub,
    email,
    isPlatformOwner: is_platform_owner === true,
    org,
    service,
    scopes: parseScopes(scope),
  };
}

function describe(err: InstanceType<typeof joseErrors.JOSEError>): string {
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "signature verification failed";
  if (err instanceof joseErrors.JWKSNoMatchingKey) return "no key matches the token's kid";
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "algorithm not allowed";
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim "${err.claim}" ${err.reason === "check_failed" ? "is not valid" : "is missing"}`;
  return "malformed token";
}
