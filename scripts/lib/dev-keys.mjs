// Local development signing key and token minting, shared by scripts/dev.mjs and
// scripts/token.mjs. Everything lives in .dev/ and .dev.vars (both gitignored):
//
//   .dev/jwt-private.jwk.json  ES256 private JWK (kid "dev-1"), created on first use
//   .dev/jwks.json             the matching public JWKS
//   .dev.vars                  JWT_PUBLIC_JWKS / JWT_ISSUER / JWT_AUDIENCE for `wrangler dev`
//
// The worker verifies tokens against JWT_PUBLIC_JWKS and checks iss/aud because they
// are set, so every token minted here carries DEV_ISSUER and DEV_AUDIENCE.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportJWK, generateKeyPair, importJWK, SignJWT } from "jose";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const DEV_DIR = join(ROOT, ".dev");
export const PRIVATE_KEY_FILE = join(DEV_DIR, "jwt-private.jwk.json");
export const PUBLIC_JWKS_FILE = join(DEV_DIR, "jwks.json");
export const DEV_VARS_FILE = join(ROOT, ".dev.vars");

export const DEV_KID = "dev-1";
export const DEV_ALG = "ES256";
export const DEV_ISSUER = "https://auth.loginpulse.localhost";
export const DEV_AUDIENCE = "loginpulse";

/**
 * Loads the dev signing key, generating it on first use.
 * Returns { privateJwk, jwks, created }.
 */
export async function ensureDevKey() {
  if (existsSync(PRIVATE_KEY_FILE)) {
    const privateJwk = JSON.parse(readFileSync(PRIVATE_KEY_FILE, "utf8"));
    if (!privateJwk.kid || !privateJwk.alg || !privateJwk.d) {
      throw new Error(`${PRIVATE_KEY_FILE} is not a private JWK with kid and alg; delete .dev/ to regenerate`);
    }
    const jwks = { keys: [publicPart(privateJwk)] };
    // Keep the public copy in step with the private key (cheap, and repairs a deleted file).
    writeIfChanged(PUBLIC_JWKS_FILE, `${JSON.stringify(jwks, null, 2)}\n`);
    return { privateJwk, jwks, created: false };
  }
  mkdirSync(DEV_DIR, { recursive: true });
  const { privateKey } = await generateKeyPair(DEV_ALG, { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid: DEV_KID, alg: DEV_ALG, use: "sig" };
  writeFileSync(PRIVATE_KEY_FILE, `${JSON.stringify(privateJwk, null, 2)}\n`, { mode: 0o600 });
  chmodSync(PRIVATE_KEY_FILE, 0o600);
  const jwks = { keys: [publicPart(privateJwk)] };
  writeFileSync(PUBLIC_JWKS_FILE, `${JSON.stringify(jwks, null, 2)}\n`);
  return { privateJwk, jwks, created: true };
}

function publicPart(jwk) {
  // EC / OKP: drop d; RSA: drop the private CRT parameters too.
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, key_ops: _ops, ext: _ext, ...pub } = jwk;
  return { ...pub, use: "sig" };
}

function writeIfChanged(file, content) {
  if (existsSync(file) && readFileSync(file, "utf8") === content) return false;
  writeFileSync(file, content);
  return true;
}

/**
 * The vars that make the worker trust one signing key, in the dotenv format of .dev.vars
 * and `wrangler dev --env-file`: the public JWKS inline, its issuer and audience, and no JWKS_URL.
 */
export function jwtVars({ jwks, issuer, audience, comment, extra = {} }) {
  const lines = [`# ${comment}`, `JWT_PUBLIC_JWKS='${JSON.stringify(jwks)}'`, `JWT_ISSUER=${issuer}`, `JWT_AUDIENCE=${audience}`, "JWKS_URL="];
  for (const [name, value] of Object.entries(extra)) lines.push(`${name}=${value}`);
  return [...lines, ""].join("\n");
}

/** The development-only vars `npm run dev` adds to .dev.vars (see .dev.vars.example). */
const DEV_ONLY_VARS = ["ENVIRONMENT", "DEV_DASHBOARD_TOKEN"];

function currentDevOnlyVars() {
  if (!existsSync(DEV_VARS_FILE)) return {};
  const vars = {};
  for (const line of readFileSync(DEV_VARS_FILE, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m && DEV_ONLY_VARS.includes(m[1])) vars[m[1]] = m[2];
  }
  return vars;
}

/**
 * Writes .dev.vars for `wrangler dev` (overrides wrangler.toml [vars]). `devOnly` sets
 * ENVIRONMENT / DEV_DASHBOARD_TOKEN (scripts/dev.mjs); without it they are kept as they
 * are, so `npm run token` never signs a running dashboard out. Returns true when it changed.
 */
export function writeDevVars(jwks, devOnly = currentDevOnlyVars()) {
  const comment = "Written by scripts/dev.mjs from .dev/ (local development only; do not commit).";
  return writeIfChanged(DEV_VARS_FILE, jwtVars({ jwks, issuer: DEV_ISSUER, audience: DEV_AUDIENCE, comment, extra: devOnly }));
}

/** Key + .dev.vars in one call: what both scripts need before anything else. */
export async function ensureDevSetup() {
  const key = await ensureDevKey();
  const varsChanged = writeDevVars(key.jwks);
  return { ...key, varsChanged };
}

/**
 * Signs a dev token. claims: any extra claims (org, service, scope, is_platform_owner, email);
 * sub defaults to "dev-user"; ttl is a jose time span ("1h", "30m", "7d") or seconds.
 */
export async function mintToken(privateJwk, { sub = "dev-user", ttl = "24h", ...claims } = {}) {
  const key = await importJWK(privateJwk, privateJwk.alg);
  const body = Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined));
  return new SignJWT(body)
    .setProtectedHeader({ alg: privateJwk.alg, kid: privateJwk.kid, typ: "JWT" })
    .setSubject(sub)
    .setIssuer(DEV_ISSUER)
    .setAudience(DEV_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(typeof ttl === "number" ? Math.floor(Date.now() / 1000) + ttl : ttl)
    .sign(key);
}
