// Signing keys for the runs against `wrangler dev` (the bench and the load test). The worker
// gets the public JWKS through a vars file passed as `wrangler dev --env-file`, so the shared
// .dev.vars is never touched and a running `npm run dev` is not disturbed.
import { writeFileSync } from "node:fs";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { DEV_AUDIENCE, DEV_ISSUER, ensureDevKey, jwtVars, mintToken } from "./dev-keys.mjs";

/** A fresh ES256 key that exists only for this run: { jwks, issuer, audience, mint(claims) }. */
export async function throwawaySigner(name, ttl) {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const kid = `${name}-${Date.now().toString(36)}`;
  const issuer = `https://${name}.loginpulse.localhost`;
  const audience = "loginpulse";
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }] };
  // `exp` (epoch seconds) overrides the signer's ttl, e.g. to mint an already expired token.
  const mint = ({ sub = name, exp, ...claims }) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
      .setSubject(sub)
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(exp ?? ttl)
      .sign(privateKey);
  return { jwks, issuer, audience, mint };
}

/** Writes the vars file that makes `wrangler dev --env-file <varsFile>` trust `signer`; `extra` adds vars (name → value). */
export function writeSignerVars(varsFile, signer, writer, extra = {}) {
  writeFileSync(varsFile, jwtVars({ ...signer, extra, comment: `Written by ${writer} for \`wrangler dev --env-file\` (${writer} only).` }));
}

/**
 * The bench's signer: the project's dev signing key (.dev/jwt-private.jwk.json, created on
 * first use) when it loads, otherwise a throwaway key.
 */
export async function benchKeys(varsFile) {
  let signer;
  try {
    const { privateJwk, jwks } = await ensureDevKey();
    signer = { source: "scripts/lib/dev-keys.mjs (.dev/)", jwks, issuer: DEV_ISSUER, audience: DEV_AUDIENCE, mint: (claims) => mintToken(privateJwk, { ttl: "2h", ...claims }) };
  } catch (err) {
    signer = { source: `throwaway ES256 key (the dev key did not load: ${err.message})`, ...(await throwawaySigner("bench", "2h")) };
  }
  writeSignerVars(varsFile, signer, "scripts/bench.mjs");
  return signer;
}
