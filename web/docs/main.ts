// The interactive API reference at /docs: Swagger UI over this worker's /openapi.json,
// bundled and served from this origin (no CDN, no inline script) under the page's CSP.
import SwaggerUIBundle from "swagger-ui-dist/swagger-ui-bundle.js";
import "swagger-ui-dist/swagger-ui.css";
import "./docs.css";

SwaggerUIBundle({
  url: "/openapi.json",
  domNode: document.getElementById("reference"),
  deepLinking: true,
  docExpansion: "list",
  defaultModelsExpandDepth: 0,
  tryItOutEnabled: false,
  persistAuthorization: false,
  // No validator badge: it would call a third-party service.
  validatorUrl: null,
});
