// Starts Swagger UI on /docs (a file, not an inline script, so the page's CSP needs no
// 'unsafe-inline'). The validator badge is off: it would load an image from another site.
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", document.baseURI).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
  });
});
