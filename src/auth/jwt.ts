import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import { z } from "zod";
import type { Config } from "../env";
import { ApiError } from "../errors";
import type { Principal } from "./principal";

/** Asymmetric algorithms only: never `none`, never HMAC (an HMAC "key" could be the public key). */
export const ALLOWED_ALGORITHMS = ["RS256", "ES256", "EdDSA"];
const CLOCK_TOLERANCE_SECONDS = 30;

// Key sets live at module scope so the remote JWKS is fetched once per isolate
// and then refreshed by jose's own cooldown/cache logic.
const keySets = new Map<string, JWTVerifyGetKey>();

function keySetFor(config: Config): JWTVerifyGetKey {
  const cacheKey = config.JWKS_URL ? `url:${config.JWKS_URL}` : `jwks:${config.JWT_PUBLIC_JWKS}`;
  let keySet = keySets.get(cacheKey);
  if (!keySet) {
    if (config.JWKS_URL) {
      keySet = createRemoteJWKSet(new URL(config.JWKS_URL));
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

export async function verifyBearer(authorization: string | undefined, config: Config): Promise<Principal> {
  const match = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
  if (!match) {
    throw new ApiError("UNAUTHORIZED", "Missing or malformed Authorization header (expected: Bearer <jwt>)");
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
    scopes: new Set((scope ?? "").split(/\s+/).filter(Boolean)),
  };
}

function describe(err: InstanceType<typeof joseErrors.JOSEError>): string {
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "signature verification failed";
  if (err instanceof joseErrors.JWKSNoMatchingKey) return "no key matches the token's kid";
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "algorithm not allowed";
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim "${err.claim}" ${err.reason === "check_failed" ? "is not valid" : "is missing"}`;
  return "malformed token";
}
