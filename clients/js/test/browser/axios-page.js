// A page using axios with the package's adapter; bundled by tests/browser with esbuild.

import axios from "axios";
import { createAuthClient } from "@tokensmith/client";
import { withTokensmith } from "@tokensmith/client/axios";

const client = createAuthClient({ baseUrl: location.origin, transport: "cookie", autoRefresh: false });
window.client = client;
window.api = withTokensmith(axios.create({ baseURL: location.origin }), client);
/** `n` concurrent GET /auth/me through axios, resolving to their statuses. */
window.getMe = (n) =>
  Promise.all(Array.from({ length: n }, () => window.api.get("/auth/me").then((r) => r.status)));
window.pageReady = true;
