import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { API_CSP, DASHBOARD_CSP, DOCS_CSP } from "../src/web/headers";
import { expectErrorBody } from "./contract";
import { platformToken, request, requestWith } from "./helpers";
import { pathFor, servedRoutes } from "./routes";

/** Parses a CSP header into directive → sources. */
const directives = (csp: string) =>
  Object.fromEntries(
    csp
      .split(";")
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name, sources]),
  );

const DEV = { ENVIRONMENT: "development", DEV_DASHBOARD_TOKEN: "dev-token-value" };

describe("the dashboard and the API reference are served by the worker", () => {
  it("GET / and GET /docs are HTML pages that load only same-origin scripts and styles: no inline script, style or handler", async () => {
    for (const [path, bundle] of [
      ["/", "dashboard"],
      ["/docs", "docs"],
    ]) {
      const res = await request(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toMatch(/^text\/html/);
      const html = await res.text();
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
      expect(scripts.map((m) => /\bsrc="([^"]+)"/.exec(m[1])?.[1]), path).toEqual([`/assets/${bundle}.js`]);
      for (const m of scripts) expect(m[2].trim(), `${path}: inline script`).toBe("");
      expect(html, path).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
      const links = [...html.matchAll(/<link\b[^>]*href="([^"]+)"/gi)].map((m) => m[1]);
      expect(links, path).toContain(`/assets/${bundle}.css`);
      for (const href of [...links, ...scripts.map((m) => /\bsrc="([^"]+)"/.exec(m[1])?.[1] ?? "")]) expect(href, `${path}: same-origin`).toMatch(/^\/(?!\/)/);
      // every referenced asset is served
      for (const href of links.filter((l) => l.startsWith("/assets/"))) expect((await request(href)).status, href).toBe(200);
    }
  });

  it("assets are served with their types; unknown or malformed names get the contract's 404 / 400", async () => {
    const types: Record<string, RegExp> = { "dashboard.js": /javascript/, "dashboard.css": /^text\/css/, "docs.js": /javascript/, "docs.css": /^text\/css/, "favicon.svg": /^image\/svg\+xml/ };
    for (const [file, type] of Object.entries(types)) {
      const res = await request(`/assets/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get("content-type"), file).toMatch(type);
      expect((await res.arrayBuffer()).byteLength, file).toBeGreaterThan(0);
    }
    await expectErrorBody(await request("/assets/nope.js"), 404, "NOT_FOUND");
    await expectErrorBody(await request("/assets/..%2Fwrangler.toml"), 400, "BAD_REQUEST");
    await expectErrorBody(await request("/index.html"), 404, "NOT_FOUND");
  });

  it("pages carry their own CSP: exactly self for scripts, styles and API calls, nothing inline, no other origin, no framing", async () => {
    for (const [path, csp] of [
      ["/", DASHBOARD_CSP],
      ["/docs", DOCS_CSP],
    ] as const) {
      const res = await request(path);
      expect(res.headers.get("content-security-policy"), path).toBe(csp);
      const d = directives(csp);
      expect(d["default-src"]).toEqual(["'none'"]);
      expect(d["script-src"]).toEqual(["'self'"]);
      expect(d["style-src"]).toEqual(["'self'"]);
      expect(d["connect-src"]).toEqual(["'self'"]);
      expect(d["frame-ancestors"]).toEqual(["'none'"]);
      expect(d["base-uri"]).toEqual(["'none'"]);
      for (const sources of Object.values(d)) {
        for (const s of sources) expect(s, `${path}: ${s}`).toMatch(/^('self'|'none'|data:)$/);
      }
      expect(res.headers.get("cache-control"), path).toBe("no-cache");
      expect(res.headers.get("x-frame-options"), path).toBe("DENY");
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
    }
  });

  it("the API, /health and /openapi.json keep default-src 'none' and no-store", async () => {
    for (const path of ["/health", "/openapi.json", "/api/platform/analytics/overview", "/api/dev/token", "/nope"]) {
      const res = await request(path, { token: await platformToken() });
      expect(res.headers.get("content-security-policy"), path).toBe(API_CSP);
      expect(res.headers.get("cache-control"), path).toBe("no-store");
    }
  });
});

describe("the development token exists only under npm run dev", () => {
  const devRoute = servedRoutes().find((r) => r.kind === "dev")!;

  it("is the one dev route, and answers the contract's 404 by default (the suite runs with a deployed worker's vars)", async () => {
    expect(servedRoutes().filter((r) => r.kind === "dev").map((r) => r.label)).toEqual(["GET /api/dev/token"]);
    // unset when deployed; blank here, even after `npm run dev` wrote them to .dev.vars (vitest.config.ts)
    expect(env.ENVIRONMENT ?? "").toBe("");
    expect(env.DEV_DASHBOARD_TOKEN ?? "").toBe("");
    await expectErrorBody(await request(pathFor(devRoute, "acme")), 404, "NOT_FOUND");
    await expectErrorBody(await request("/api/dev/token", { headers: { host: "localhost:8787" } }), 404, "NOT_FOUND");
  });

  it("needs ENVIRONMENT=development, a token and a loopback host, all three", async () => {
    // requestWith sends https://loginpulse.test/…: not a loopback host
    expect((await requestWith(DEV, "/api/dev/token")).status).toBe(404);
    for (const vars of <Record<string, string>[]>[{ ENVIRONMENT: "production", DEV_DASHBOARD_TOKEN: "x" }, { ENVIRONMENT: "development" }, { ENVIRONMENT: "development", DEV_DASHBOARD_TOKEN: "  " }, { DEV_DASHBOARD_TOKEN: "x" }]) {
      const res = await devTokenAt("http://localhost:8787", vars);
      expect(res.status, JSON.stringify(vars)).toBe(404);
      expect(res.body).not.toContain('"token"');
    }
    for (const origin of ["http://localhost:8787", "http://127.0.0.1:9000", "http://[::1]:8787"]) {
      const res = await devTokenAt(origin, DEV);
      expect(res.status, origin).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ token: DEV.DEV_DASHBOARD_TOKEN });
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
    for (const origin of ["https://loginpulse.example.com", "http://localhost.evil.test", "http://127.0.0.1.nip.io"]) {
      expect((await devTokenAt(origin, DEV)).status, origin).toBe(404);
    }
  });
});

/** GET /api/dev/token as a browser at `origin` would send it, with some vars swapped. */
async function devTokenAt(origin: string, vars: Record<string, string>) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${origin}/api/dev/token`), { ...env, ...vars } as never, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, body: await res.text() };
}
