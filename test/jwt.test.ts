import { base64url, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { verifyBearer } from "../src/auth/jwt";
import type { ApiError } from "../src/errors";
import { AUDIENCE, ISSUER, testKeys } from "./helpers";

/**
 * The algorithm allow-list on its own, not only "no key matched". Real JWKS often
 * publish keys without an `alg` member; such an RSA key would verify RS384 or
 * PS256 signatures, and only the allow-list (RS256, ES256, EdDSA) stops them.
 * HS256 with a published symmetric key and alg "none" are refused as well.
 */
describe("verifyBearer algorithm allow-list", () => {
  const secret = new TextEncoder().encode("a-shared-secret-that-must-never-be-accepted");
  const rsa = testKeys.find((k) => k.alg === "RS256")!;
  const { alg: _alg, ...rsaWithoutAlg } = rsa.publicJwk;
  const config = {
    JWT_PUBLIC_JWKS: JSON.stringify({
      keys: [
        { kty: "oct", kid: "hmac", k: base64url.encode(secret), alg: "HS256" },
        { ...rsaWithoutAlg, kid: "no-alg" },
        ...testKeys.map((k) => k.publicJwk),
      ],
    }),
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
  };

  const claims = { sub: "x", iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600 };

  it("refuses RSA algorithms outside the list even when the published key would verify them", async () => {
    const { importJWK } = await import("jose");
    for (const alg of ["RS384", "RS512", "PS256"]) {
      const jwt = await new SignJWT(claims).setProtectedHeader({ alg, kid: "no-alg" }).sign(await importJWK(rsa.privateJwk, alg));
      await expect(verifyBearer(`Bearer ${jwt}`, config), alg).rejects.toMatchObject({ code: "JWT_ERROR", status: 401 });
    }
    // the same key is accepted with the allowed algorithm
    const ok = await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "no-alg" }).sign(await importJWK(rsa.privateJwk, "RS256"));
    await expect(verifyBearer(`Bearer ${ok}`, config)).resolves.toMatchObject({ subject: "x" });
  });

  it("refuses HS256 even with a published symmetric key", async () => {
    const jwt = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "hmac" }).sign(secret);
    await expect(verifyBearer(`Bearer ${jwt}`, config)).rejects.toMatchObject({ code: "JWT_ERROR", status: 401 } satisfies Partial<ApiError>);
  });

  it("refuses alg none", async () => {
    const none = `${base64url.encode(JSON.stringify({ alg: "none", kid: "hmac" }))}.${base64url.encode(JSON.stringify(claims))}.`;
    await expect(verifyBearer(`Bearer ${none}`, config)).rejects.toMatchObject({ code: "JWT_ERROR" });
  });

  it("accepts each allowed asymmetric algorithm with the same configuration", async () => {
    const { importJWK } = await import("jose");
    for (const key of testKeys) {
      const jwt = await new SignJWT({ ...claims, org: "acme" }).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(await importJWK(key.privateJwk, key.alg));
      const principal = await verifyBearer(`Bearer ${jwt}`, config);
      expect(principal).toMatchObject({ subject: "x", org: "acme", isPlatformOwner: false });
    }
  });
});
