// A React page built on the package, as an app would write it; bundled by tests/browser with
// esbuild and opened in Chromium. window.auth exposes useAuth()'s latest value to the test.

import { createRoot } from "react-dom/client";
import { createAuthClient } from "@tokensmith/client";
import { AuthProvider, useAuth } from "@tokensmith/client/react";

const client = createAuthClient({ baseUrl: location.origin, transport: "cookie" });
window.client = client;

function Account() {
  const auth = useAuth();
  window.auth = auth;
  if (auth.status === "loading") return <p id="status">loading</p>;
  if (auth.status === "signedOut") return <p id="status">signedOut</p>;
  return (
    <div>
      <p id="status">signedIn</p>
      <p id="email">{auth.user.email}</p>
      <button id="logout" type="button" onClick={() => auth.logout()}>
        Log out
      </button>
    </div>
  );
}

createRoot(document.getElementById("root")).render(
  <AuthProvider client={client}>
    <Account />
  </AuthProvider>,
);
