// Side-effect CSS imports, bundled by esbuild into the page's stylesheet.
declare module "*.css";

// swagger-ui-dist ships no types; the reference page uses only this call.
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const SwaggerUIBundle: (options: Record<string, unknown>) => unknown;
  export default SwaggerUIBundle;
}
