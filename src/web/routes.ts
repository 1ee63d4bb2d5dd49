import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { ApiError, errorSchema } from "../errors";
import { surface } from "./headers";

/**
 * The dashboard (`/`), the API reference (`/docs`) and their bundles (`/assets/…`): static
 * files built by `npm run build:web` into dist/web and served through the ASSETS binding,
 * so they leave through the same middleware as the API and carry their own CSP.
 */
const webRoutesBase = new OpenAPIHono<AppEnv>();
webRoutesBase.use("/", surface("dashboard"));
webRoutesBase.use("/docs", surface("docs"));
webRoutesBase.use("/assets/*", surface("asset"));

const html = (description: string) => ({ content: { "text/html": { schema: z.string() } }, description });
const notFound = { content: { "application/json": { schema: errorSchema } }, description: "Not found (error_code: NOT_FOUND)" };

async function fromAssets(c: { env: AppEnv["Bindings"]; req: { url: string; raw: Request } }, path: string): Promise<Response> {
  const headers = new Headers();
  for (const name of ["if-none-match", "if-modified-since"]) {
    const value = c.req.raw.headers.get(name);
    if (value) headers.set(name, value);
  }
  const res = await c.env.ASSETS.fetch(new Request(new URL(path, c.req.url), { headers }));
  if (res.status === 404) throw new ApiError("NOT_FOUND", `No route for GET ${new URL(c.req.url).pathname}`);
  // A copy with mutable headers: the security middleware sets CSP and caching on it.
  return new Response(res.body, { status: res.status, headers: new Headers(res.headers) });
}

/** Asset file names: the build's own flat names (dashboard.js, docs.css, favicon.svg, …). */
const assetParams = z.object({
  file: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]*\.(js|css|svg)$/)
    .openapi({ param: { name: "file", in: "path" }, example: "dashboard.js" }),
});

/** Hosts a development token may be handed to: the machine running `npm run dev`. */
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

/** The routes as one chain, so their types reach the typed client (`AppType`, src/app.ts). */
export const webRoutes = webRoutesBase
  .openapi(
    createRoute({
      method: "get",
      path: "/",
      summary: "Dashboard",
      description:
        "The analytics dashboard (HTML). It calls this API with a bearer token the user pastes once (kept in sessionStorage); " +
        "under `npm run dev` it receives a development token from `/api/dev/token`.",
      tags: ["Web"],
      responses: { 200: html("The dashboard page") },
    }),
    (c) => fromAssets(c, "/index.html"),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/docs",
      summary: "Interactive API reference",
      description: "Swagger UI over `/openapi.json` (HTML).",
      tags: ["Web"],
      responses: { 200: html("The API reference page") },
    }),
    (c) => fromAssets(c, "/docs.html"),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/assets/{file}",
      summary: "Dashboard and reference bundles",
      description: "The scripts, stylesheets and icon of the pages above, from this origin only.",
      tags: ["Web"],
      request: { params: assetParams },
      responses: {
        200: {
          content: { "text/javascript": { schema: z.string() }, "text/css": { schema: z.string() }, "image/svg+xml": { schema: z.string() } },
          description: "The file",
        },
        400: { content: { "application/json": { schema: errorSchema } }, description: "Not an asset file name (error_code: BAD_REQUEST)" },
        404: notFound,
      },
    }),
    (c) => fromAssets(c, `/assets/${c.req.valid("param").file}`),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/api/dev/token",
      summary: "Development token for the dashboard",
      description:
        "Only under `npm run dev`: the token the local dashboard signs in with (a platform-owner token from the local signing key, " +
        "passed in `.dev.vars`). Answers 404 unless `ENVIRONMENT` is `development`, `DEV_DASHBOARD_TOKEN` is set and the request is for a " +
        "loopback host; a deployed worker has neither variable, so it never serves a token.",
      tags: ["Development"],
      responses: {
        200: { content: { "application/json": { schema: z.object({ token: z.string() }) } }, description: "The development token" },
        404: notFound,
      },
    }),
    (c) => {
      const token = c.env.DEV_DASHBOARD_TOKEN?.trim();
      if (c.env.ENVIRONMENT !== "development" || !token || !LOOPBACK.test(new URL(c.req.url).hostname)) {
        throw new ApiError("NOT_FOUND", `No route for GET ${new URL(c.req.url).pathname}`);
      }
      return c.json({ token }, 200);
    },
  );
