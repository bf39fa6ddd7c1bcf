// Starts Swagger UI on /docs over this server's OpenAPI schema (a file, not an inline script: the
// pages' content security policy runs only this server's scripts).
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
