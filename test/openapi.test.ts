import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ingest, platformToken, request } from "./helpers";
import { prepareRouteData } from "./route-data";
import { pathFor, type RouteKind, servedRoutes } from "./routes";

/**
 * The API reference (/docs renders /openapi.json) against the router: every served route is
 * documented with its success response and the errors its access rule implies, every
 * documented example satisfies its schema, and real answers satisfy the documented schemas.
 */

type Json = Record<string, unknown>;
let doc: Json;

/** The error statuses each kind of route must document (besides any of its own). */
const ERRORS: Record<RouteKind, number[]> = {
  org: [400, 401, 403, 404, 503],
  "org-admin": [400, 401, 403, 404, 415, 503],
  inventory: [400, 401, 403, 404, 413, 415, 503],
  platform: [401, 403, 503],
  ingest: [400, 401, 403, 413, 415, 429, 503],
  public: [],
  page: [],
  dev: [404],
};

const openapiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}");
const operation = (method: string, path: string) => ((doc.paths as Json)[openapiPath(path)] as Json | undefined)?.[method.toLowerCase()] as Json | undefined;

/** Inlines `#/components/...` references (the document has no cycles). */
function deref(node: unknown, seen: string[] = []): unknown {
  if (Array.isArray(node)) return node.map((n) => deref(n, seen));
  if (node === null || typeof node !== "object") return node;
  const ref = (node as Json).$ref;
  if (typeof ref === "string") {
    if (seen.includes(ref)) throw new Error(`cyclic $ref ${ref}`);
    const target = ref
      .replace(/^#\//, "")
      .split("/")
      .reduce<unknown>((o, k) => (o as Json)[k], doc);
    return deref(target, [...seen, ref]);
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, deref(v, seen)]));
}

/** A validator for a documented JSON Schema (OpenAPI 3.1 schemas are JSON Schema 2020-12). */
const validatorFor = (schema: unknown) => z.fromJSONSchema(deref(schema) as Parameters<typeof z.fromJSONSchema>[0]);

function responsesOf(op: Json): Record<string, Json> {
  return (op.responses ?? {}) as Record<string, Json>;
}

beforeAll(async () => {
  const res = await request("/openapi.json");
  expect(res.status).toBe(200);
  doc = (await res.json()) as Json;
  await ingest([
    { id: "doc-1", org: "doc-org", user_id: "ana", service_id: "web", service_name: "Web", provider: "github" },
    { id: "doc-2", org: "doc-org", user_id: "bot", identity_type: "machine", service_id: "api", provider: "client-credentials" },
  ]);
  await prepareRouteData("doc-org");
});

describe("every served route is in the OpenAPI document", () => {
  it("with a summary, its success response and content, and the errors of its access rule", () => {
    const routes = servedRoutes();
    expect(routes.length).toBeGreaterThan(15);
    for (const route of routes) {
      const op = operation(route.method, route.path);
      expect(op, `${route.label} is documented`).toBeDefined();
      expect(typeof op!.summary, `${route.label} summary`).toBe("string");
      const responses = responsesOf(op!);
      const success = Object.keys(responses).filter((s) => /^2\d\d$/.test(s));
      expect(success.length, `${route.label} documents a success response`).toBeGreaterThan(0);
      for (const s of success) expect(Object.keys((responses[s].content ?? {}) as Json).length, `${route.label} ${s} has content`).toBeGreaterThan(0);
      for (const status of ERRORS[route.kind]) {
        const r = responses[String(status)];
        expect(r, `${route.label} documents ${status}`).toBeDefined();
        expect(((r.content as Json)["application/json"] as Json).schema, `${route.label} ${status} is the contract's error`).toEqual({ $ref: "#/components/schemas/Error" });
      }
      if (route.kind !== "public" && route.kind !== "page" && route.kind !== "dev") expect(op!.security, `${route.label} needs a bearer token`).toEqual([{ bearerAuth: [] }]);
    }
  });

  it("documents nothing the router does not serve", () => {
    const served = new Set(servedRoutes().map((r) => `${r.method} ${openapiPath(r.path)}`));
    for (const [path, ops] of Object.entries(doc.paths as Json)) {
      for (const method of Object.keys(ops as Json)) expect(served, `${method.toUpperCase()} ${path}`).toContain(`${method.toUpperCase()} ${path}`);
    }
  });
});

describe("documented examples and real answers match the documented schemas", () => {
  it("every example in the document validates against its schema", () => {
    const examples: { where: string; schema: unknown; value: unknown }[] = [];
    const visit = (node: unknown, where: string) => {
      if (Array.isArray(node)) {
        for (const [i, n] of node.entries()) visit(n, `${where}[${i}]`);
        return;
      }
      if (node === null || typeof node !== "object") return;
      const n = node as Json;
      // a parameter or media type: { schema, example | examples }
      if (n.schema && "example" in n) examples.push({ where, schema: n.schema, value: n.example });
      if (n.schema && n.examples && typeof n.examples === "object") {
        for (const [name, ex] of Object.entries(n.examples as Json)) examples.push({ where: `${where}.examples.${name}`, schema: n.schema, value: (ex as Json).value });
      }
      // a schema carrying its own example(s)
      if ((n.type || n.$ref || n.anyOf || n.enum) && "example" in n && !n.schema) examples.push({ where, schema: { ...n, example: undefined }, value: n.example });
      if ((n.type || n.anyOf) && Array.isArray(n.examples)) for (const [i, v] of (n.examples as unknown[]).entries()) examples.push({ where: `${where}.examples[${i}]`, schema: { ...n, examples: undefined }, value: v });
      for (const [k, v] of Object.entries(n)) visit(v, `${where}.${k}`);
    };
    visit(doc.paths, "paths");
    visit(doc.components, "components");
    expect(examples.length, "the document has examples").toBeGreaterThan(10);
    // the validator is not vacuous: it refuses what the schemas forbid
    expect(validatorFor({ $ref: "#/components/schemas/Error" }).safeParse({ error: "x", timestamp: "t" }).success).toBe(false);
    expect(validatorFor({ $ref: "#/components/schemas/Error" }).safeParse({ error: "x", error_code: "NOPE", timestamp: "t" }).success).toBe(false);
    expect(examples.some((e) => e.value === "2025-01-01"), "the start_date example is among them").toBe(true);
    for (const ex of examples) {
      const result = validatorFor(ex.schema).safeParse(ex.value);
      expect(result.success, `${ex.where}: ${JSON.stringify(ex.value)} — ${result.error?.message ?? ""}`).toBe(true);
    }
  });

  it("parameter examples are accepted by the routes themselves (the zod checks behind the document)", async () => {
    const owner = await platformToken();
    let sent = 0;
    for (const route of servedRoutes().filter((r) => r.method === "GET")) {
      const params = ((operation(route.method, route.path)!.parameters ?? []) as Json[]).filter((p) => p.in === "query");
      const query = new URLSearchParams();
      for (const p of params) {
        const example = (p.schema as Json | undefined)?.example ?? p.example;
        if (example !== undefined) query.set(p.name as string, String(example));
      }
      if ([...query].length === 0) continue;
      const res = await request(`${pathFor(route, "doc-org")}?${query}`, { token: owner });
      expect(res.status, `${route.label}?${query} → ${await res.text()}`).toBe(200);
      sent++;
    }
    expect(sent).toBeGreaterThan(5);
  });

  it("each GET route's real success answer and a real error satisfy the documented response schemas", async () => {
    const owner = await platformToken();
    let checked = 0;
    for (const route of servedRoutes().filter((r) => r.method === "GET")) {
      const op = operation(route.method, route.path)!;
      const responses = responsesOf(op);
      const res = await request(pathFor(route, "doc-org"), { token: owner });
      const documented = responses[String(res.status)];
      expect(documented, `${route.label} answered ${res.status}, which is documented`).toBeDefined();
      const type = (res.headers.get("content-type") ?? "").split(";")[0];
      const media = (documented.content as Json)[type] as Json | undefined;
      expect(media, `${route.label} ${res.status} ${type} is documented`).toBeDefined();
      if (type === "application/json") {
        const body = await res.json();
        const result = validatorFor(media!.schema).safeParse(body);
        expect(result.success, `${route.label} ${res.status}: ${result.error?.message ?? ""}`).toBe(true);
        checked++;
      } else await res.arrayBuffer();
      if (route.kind === "org" || route.kind === "platform") {
        const refused = await request(pathFor(route, "doc-org"));
        expect(refused.status).toBe(401);
        const result = validatorFor(((responses["401"].content as Json)["application/json"] as Json).schema).safeParse(await refused.json());
        expect(result.success, `${route.label} 401`).toBe(true);
      }
    }
    expect(checked).toBeGreaterThan(12);
  });
});
