// Tokens for the runtime phase. Reuses the project's dev signing key (scripts/dev-keys.mjs:
// .dev/jwt-private.jwk.json, created on first use) when that module is there; otherwise a
// throwaway ES256 key made here. Either way the worker gets the public JWKS through
// .bench/bench.vars (passed as `wrangler dev --env-file`), so the shared .dev.vars is never
// touched and a running `npm run dev` is not disturbed.
import { writeFileSync } from "node:fs";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

export async function benchKeys(varsFile) {
  let signer;
  try {
    const dev = await import("../dev-keys.mjs");
    const { privateJwk, jwks } = await dev.ensureDevKey();
    if (!dev.mintToken || !dev.DEV_ISSUER || !dev.DEV_AUDIENCE) throw new Error("unexpected dev-keys.mjs exports");
    signer = { source: "scripts/dev-keys.mjs (.dev/)", jwks, issuer: dev.DEV_ISSUER, audience: dev.DEV_AUDIENCE, mint: (claims) => dev.mintToken(privateJwk, { ttl: "2h", ...claims }) };
  } catch (err) {
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const kid = "bench-1";
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }] };
    const issuer = "https://bench.loginpulse.localhost";
    const audience = "loginpulse";
    signer = {
      source: `throwaway ES256 key (dev-keys.mjs unavailable: ${err.message})`,
      jwks,
      issuer,
      audience,
      mint: ({ sub = "bench", ...claims }) =>
        new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid, typ: "JWT" }).setSubject(sub).setIssuer(issuer).setAudience(audience).setIssuedAt().setExpirationTime("2h").sign(privateKey),
    };
  }
  writeFileSync(
    varsFile,
    [
      "# Written by scripts/bench.mjs for `wrangler dev --env-file` (bench only).",
      `JWT_PUBLIC_JWKS='${JSON.stringify(signer.jwks)}'`,
      `JWT_ISSUER=${signer.issuer}`,
      `JWT_AUDIENCE=${signer.audience}`,
      "JWKS_URL=",
      "",
    ].join("\n"),
  );
  return signer;
}
