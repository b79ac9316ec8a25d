// The tokensmith demo web app (GET /): sign in, see the user, the access token's countdown and
// the sessions, revoke them, log out. Everything goes through the browser client with cookie
// transport, so the refresh token never reaches this script.

import { AuthError, createAuthClient, isAuthError } from "../tokensmith.js";

const auth = createAuthClient({ baseUrl: location.origin, transport: "cookie" });
// For poking around in the console: `tokensmith.tokenInfo()`, `await tokensmith.refresh()`.
window.tokensmith = auth;

const $ = (id) => document.getElementById(id);

const views = {
  loading: $("loading-view"),
  auth: $("auth-view"),
  account: $("account-view"),
  forgot: $("forgot-view"),
  reset: $("reset-view"),
};

// The token of a mailed reset link, kept here once it is out of the address bar.
let resetToken = null;

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "long" });
const clockFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

let refreshCount = 0;
let countdownTimer = null;
let statusTimer = null;

// ---- status and activity ---------------------------------------------------------------------

/** Announce a message in the polite live region; success messages fade after a while. */
function announce(message, tone = "info") {
  const status = $("status");
  clearTimeout(statusTimer);
  status.dataset.tone = tone;
  status.textContent = message;
  if (tone !== "error") {
    statusTimer = setTimeout(() => {
      status.textContent = "";
    }, 8000);
  }
}

function clearStatus() {
  clearTimeout(statusTimer);
  $("status").textContent = "";
}

function logActivity(message) {
  const list = $("activity");
  const item = document.createElement("li");
  const time = document.createElement("time");
  const at = new Date();
  time.dateTime = at.toISOString();
  time.textContent = clockFormat.format(at);
  const text = document.createElement("span");
  text.textContent = message;
  item.append(time, text);
  list.prepend(item);
  while (list.children.length > 50) list.lastElementChild.remove();
}

/** A sentence for an error a person can act on. */
function describeError(error) {
  if (!isAuthError(error)) return "Something went wrong. Please try again.";
  switch (error.code) {
    case "INVALID_CREDENTIALS":
      return "Wrong email or password.";
    case "EMAIL_TAKEN":
      return "An account with this email already exists. Try signing in.";
    case "VALIDATION_ERROR":
      return validationMessage(error) ?? error.message;
    case "RATE_LIMITED":
      return error.retryAfter
        ? `Too many attempts. Try again in ${error.retryAfter} s.`
        : "Too many attempts. Try again in a moment.";
    case "NETWORK_ERROR":
      return "Could not reach the server. Check your connection.";
    case "SERVICE_UNAVAILABLE":
      return "The service is unavailable right now. Try again shortly.";
    case "INVALID_RESET_TOKEN":
      return "This link is not valid any more: it was used, it expired, or it is wrong. Ask for a new one.";
    case "EMAIL_NOT_VERIFIED":
      return "Verify your email address first: open the link we mailed you.";
    default:
      return error.message;
  }
}

function validationMessage(error) {
  if (!Array.isArray(error.details) || error.details.length === 0) return null;
  return error.details
    .map((d) => {
      const field = Array.isArray(d.loc) ? d.loc[d.loc.length - 1] : d.field;
      const msg = d.msg ?? d.message ?? "";
      return field ? `${field}: ${msg}` : msg;
    })
    .filter(Boolean)
    .join(" ");
}

const SESSION_END_REASONS = {
  TOKEN_REUSE_DETECTED: "a refresh token was used twice, so the session was ended to be safe",
  SESSION_REVOKED: "it was revoked",
  TOKEN_REVOKED: "it was revoked",
  REFRESH_TOKEN_EXPIRED: "it expired",
  INVALID_REFRESH_TOKEN: "it is no longer valid",
  REFRESH_TOKEN_REQUIRED: "it is no longer valid",
};

// ---- views -----------------------------------------------------------------------------------

function show(name) {
  for (const [key, element] of Object.entries(views)) element.hidden = key !== name;
}

function showAuth({ focus = false } = {}) {
  show("auth");
  $("whoami").hidden = true;
  stopCountdown();
  document.title = "Sign in · tokensmith";
  if (focus) $("auth-title").focus();
}

function showAccount(user, { focus = false } = {}) {
  show("account");
  renderUser(user);
  startCountdown();
  loadSessions();
  document.title = "Your account · tokensmith";
  if (focus) $("account-title").focus();
}

function renderUser(user) {
  if (!user) return;
  const name = user.name || user.email.split("@")[0];
  $("user-name").textContent = name;
  $("user-email").textContent = user.email;
  $("user-id").textContent = user.id;
  $("user-created").textContent = user.createdAt ? dayFormat.format(new Date(user.createdAt)) : "–";
  $("user-avatar").textContent = initials(name);
  $("verify-banner").hidden = user.emailVerified !== false;
  const whoami = $("whoami");
  whoami.textContent = `Signed in as ${user.email}`;
  whoami.hidden = false;
}

function initials(name) {
  const parts = name.trim().split(/[\s._-]+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[1][0] : name.slice(0, 2);
  return letters.toUpperCase();
}

// ---- countdown -------------------------------------------------------------------------------

function formatDuration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0");
  const ss = String(s).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function formatSpan(ms) {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

function tick() {
  const info = auth.tokenInfo();
  const value = $("countdown");
  const bar = $("countdown-bar");
  if (!info) {
    value.textContent = "--:--";
    bar.style.transform = "scaleX(0)";
    return;
  }
  value.textContent = formatDuration(info.expiresInMs);
  value.dataset.state = info.expiresInMs <= info.refreshLeadMs + 1000 ? "soon" : "ok";
  bar.style.transform = `scaleX(${info.lifetimeMs ? info.expiresInMs / info.lifetimeMs : 0})`;
  $("token-lifetime").textContent = formatSpan(info.lifetimeMs);
  renderClaims(info);
  $("session-id").textContent = info.sessionId ?? "–";
  $("token-lead").textContent = `about ${formatSpan(info.refreshLeadMs)} before expiry`;
}

/** What the access token says about the login: its scopes and when the user authenticated. */
function renderClaims(info) {
  const scopes = $("token-scopes");
  const text = info.scopes.length ? info.scopes.join(" ") : "none";
  if (scopes.textContent !== text) scopes.textContent = text;
  const authTime = $("token-auth-time");
  const iso = info.authTime ? info.authTime.toISOString() : "";
  if (authTime.dateTime !== iso) {
    authTime.dateTime = iso;
    authTime.textContent = info.authTime ? dateFormat.format(info.authTime) : "–";
  }
}

function startCountdown() {
  stopCountdown();
  tick();
  countdownTimer = setInterval(tick, 250);
}

function stopCountdown() {
  clearInterval(countdownTimer);
  countdownTimer = null;
}

// ---- sessions --------------------------------------------------------------------------------

const ICONS = {
  desktop:
    '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"><rect x="3" y="4" width="18" height="12" rx="2"/><path d="M8 20h8M12 16v4"/></svg>',
  mobile:
    '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"><rect x="7" y="2.5" width="10" height="19" rx="2.5"/><path d="M11 18.5h2"/></svg>',
  tool:
    '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"><rect x="3" y="4" width="18" height="16" rx="2"/><path d="m7 9 3 3-3 3M13 15h4"/></svg>',
};

/** A short, human name for a User-Agent: "Chrome on Linux", "Python httpx 0.28". */
function describeAgent(ua) {
  if (!ua) return { label: "Unknown device", kind: "desktop" };
  const tools = [
    [/^tokensmith\S*\/([\w.]+)/i, "tokensmith"],
    [/^python-httpx\/([\w.]+)/i, "Python httpx"],
    [/^python-requests\/([\w.]+)/i, "Python requests"],
    [/^curl\/([\w.]+)/i, "curl"],
    [/^(?:node|undici)/i, "Node.js"],
  ];
  for (const [pattern, name] of tools) {
    const match = ua.match(pattern);
    if (match) return { label: match[1] ? `${name} ${match[1]}` : name, kind: "tool" };
  }
  const browsers = [
    [/Edg\//, "Edge"],
    [/OPR\//, "Opera"],
    [/Firefox\//, "Firefox"],
    [/HeadlessChrome\//, "Headless Chrome"],
    [/Chrome\//, "Chrome"],
    [/Safari\//, "Safari"],
  ];
  const systems = [
    [/Windows/, "Windows"],
    [/Android/, "Android"],
    [/iPhone|iPad|iPod/, "iOS"],
    [/Mac OS X|Macintosh/, "macOS"],
    [/CrOS/, "ChromeOS"],
    [/Linux/, "Linux"],
  ];
  const browser = browsers.find(([p]) => p.test(ua))?.[1];
  const system = systems.find(([p]) => p.test(ua))?.[1];
  const kind = /Mobile|Android|iPhone|iPad/.test(ua) ? "mobile" : "desktop";
  if (browser && system) return { label: `${browser} on ${system}`, kind };
  if (browser || system) return { label: browser ?? system, kind };
  return { label: ua.length > 48 ? `${ua.slice(0, 47)}…` : ua, kind: "tool" };
}

function relativeTime(iso) {
  if (!iso) return null;
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  if (abs < 2700) return relativeFormat.format(Math.round(seconds / 60), "minute");
  if (abs < 64800) return relativeFormat.format(Math.round(seconds / 3600), "hour");
  return relativeFormat.format(Math.round(seconds / 86400), "day");
}

function timeElement(prefix, iso) {
  const span = document.createElement("span");
  if (!iso) return span;
  span.append(`${prefix} `);
  const time = document.createElement("time");
  time.dateTime = iso;
  time.title = dateFormat.format(new Date(iso));
  time.textContent = relativeTime(iso);
  span.append(time);
  return span;
}

function renderSessions(sessions) {
  const list = $("sessions");
  list.replaceChildren();
  const sorted = [...sessions].sort((a, b) => {
    if (a.current !== b.current) return a.current ? -1 : 1;
    return String(b.lastUsedAt ?? b.createdAt).localeCompare(String(a.lastUsedAt ?? a.createdAt));
  });
  for (const session of sorted) {
    const agent = describeAgent(session.userAgent);
    const item = document.createElement("li");
    item.className = "session";
    item.dataset.sessionId = session.id;
    item.dataset.current = String(Boolean(session.current));

    const icon = document.createElement("div");
    icon.className = "session-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.innerHTML = ICONS[agent.kind] ?? ICONS.desktop; // constant markup, never user data

    const body = document.createElement("div");
    body.className = "session-body";
    const title = document.createElement("p");
    title.className = "session-title";
    title.append(agent.label);
    if (session.current) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "This browser";
      title.append(badge);
    }
    const meta = document.createElement("p");
    meta.className = "session-meta";
    const ip = document.createElement("span");
    ip.textContent = session.ip ? `IP ${session.ip}` : "IP unknown";
    meta.append(ip, timeElement("Signed in", session.createdAt));
    if (session.lastUsedAt) meta.append(timeElement("active", session.lastUsedAt));
    body.append(title, meta);

    const revoke = document.createElement("button");
    revoke.type = "button";
    revoke.className = "btn btn-small btn-danger";
    revoke.textContent = "Revoke";
    revoke.setAttribute(
      "aria-label",
      `Revoke session: ${agent.label}${session.ip ? `, ${session.ip}` : ""}${session.current ? " (this browser, logs you out)" : ""}`,
    );
    revoke.addEventListener("click", () => revokeSession(session, revoke));

    item.append(icon, body, revoke);
    list.append(item);
  }
  $("sessions-empty").hidden = sessions.length > 0;
}

let sessionsLoad = 0;

async function loadSessions() {
  const list = $("sessions");
  const load = ++sessionsLoad;
  list.setAttribute("aria-busy", "true");
  try {
    const response = await auth.fetch("/auth/sessions");
    if (load !== sessionsLoad) return;
    if (!response.ok) {
      if (response.status !== 401) announce("Could not load your sessions.", "error");
      return;
    }
    const body = await response.json();
    renderSessions(body.sessions ?? []);
  } catch (error) {
    announce(describeError(error), "error");
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

async function revokeSession(session, button) {
  await busy(button, async () => {
    const response = await auth.fetch(`/auth/sessions/${encodeURIComponent(session.id)}`, {
      method: "DELETE",
    });
    if (!response.ok && response.status !== 404) {
      announce("Could not revoke that session.", "error");
      return;
    }
    if (session.current) {
      await auth.logout(); // the server already ended it; this clears this browser's cookies
      return;
    }
    const agent = describeAgent(session.userAgent).label;
    announce(`Revoked the session of ${agent}.`, "success");
    logActivity(`Revoked a session (${agent})`);
    await loadSessions();
  });
}

// ---- forms -----------------------------------------------------------------------------------

async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await fn();
  } catch (error) {
    announce(describeError(error), "error");
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

function formError(id, message) {
  const element = $(id);
  element.textContent = message ?? "";
  element.hidden = !message;
}

/** Mark fields invalid; returns the first invalid input (for focus) or null. */
function checkFields(fields) {
  let first = null;
  for (const [input, valid] of fields) {
    input.setAttribute("aria-invalid", String(!valid));
    if (!valid && !first) first = input;
  }
  return first;
}

function setupTabs() {
  const tabs = [$("tab-login"), $("tab-register")];
  const select = (tab, focus) => {
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute("aria-selected", String(selected));
      t.tabIndex = selected ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
  };
  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab, false));
    tab.addEventListener("keydown", (event) => {
      const i = tabs.indexOf(tab);
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        event.preventDefault();
        const next = tabs[(i + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
        select(next, true);
      }
    });
  }
  return select;
}

function setupForms(selectTab) {
  const loginForm = $("login-form");
  loginForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError("login-error", null);
    const email = $("login-email");
    const password = $("login-password");
    const invalid = checkFields([
      [email, email.value.trim() !== ""],
      [password, password.value !== ""],
    ]);
    if (invalid) {
      formError("login-error", "Enter your email and password.");
      invalid.focus();
      return;
    }
    const button = loginForm.querySelector("button[type=submit]");
    await busy(button, async () => {
      try {
        const remember = $("login-remember").checked;
        const user = await auth.login(email.value.trim(), password.value, { remember });
        loginForm.reset();
        showAccount(user, { focus: true });
        announce(`Signed in as ${user.email}.`, "success");
        logActivity("Signed in");
      } catch (error) {
        formError("login-error", describeError(error));
        password.select();
      }
    });
  });

  const registerForm = $("register-form");
  registerForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError("register-error", null);
    const name = $("register-name");
    const email = $("register-email");
    const password = $("register-password");
    const invalid = checkFields([
      [email, email.validity.valid && email.value.trim() !== ""],
      [password, password.value.length >= 8],
    ]);
    if (invalid) {
      formError(
        "register-error",
        invalid === email ? "Enter a valid email address." : "Choose a password of at least 8 characters.",
      );
      invalid.focus();
      return;
    }
    const button = registerForm.querySelector("button[type=submit]");
    await busy(button, async () => {
      try {
        await auth.register(email.value.trim(), password.value, name.value.trim() || undefined);
        const user = await auth.login(email.value.trim(), password.value);
        registerForm.reset();
        selectTab($("tab-login"), false);
        showAccount(user, { focus: true });
        announce(`Welcome, ${user.name || user.email}! Your account is ready.`, "success");
        logActivity("Account created and signed in");
      } catch (error) {
        formError("register-error", describeError(error));
      }
    });
  });
}

function setupAccountActions() {
  $("logout-button").addEventListener("click", (event) =>
    busy(event.currentTarget, () => auth.logout()),
  );
  $("logout-all-button").addEventListener("click", (event) =>
    busy(event.currentTarget, async () => {
      const { revoked } = await auth.logoutAll();
      announce(`Signed out everywhere: ${revoked} ${revoked === 1 ? "session" : "sessions"} ended.`, "success");
    }),
  );
  $("refresh-button").addEventListener("click", (event) =>
    busy(event.currentTarget, async () => {
      if (await auth.refresh()) announce("Access token refreshed.", "success");
    }),
  );
  $("sessions-reload").addEventListener("click", (event) =>
    busy(event.currentTarget, () => loadSessions()),
  );
}

// ---- client events ---------------------------------------------------------------------------

auth.on("tokenRefreshed", ({ source }) => {
  refreshCount += 1;
  $("token-refreshes").textContent = String(refreshCount);
  logActivity(source === "this-tab" ? "Access token refreshed" : "Access token refreshed by another tab");
  tick();
});

auth.on("loggedOut", ({ source, everywhere }) => {
  const where = source === "other-tab" ? " in another tab" : "";
  if (!everywhere || source === "other-tab") {
    announce(everywhere ? `You were signed out everywhere${where}.` : `You are signed out${where}.`, "success");
  }
  showAuth({ focus: true });
});

auth.on("sessionExpired", ({ code }) => {
  const reason = SESSION_END_REASONS[code] ?? "it ended";
  announce(`Your session has ended: ${reason}. Please sign in again.`, "error");
  showAuth({ focus: true });
});

auth.on("loggedIn", async ({ source, user }) => {
  if (source !== "other-tab") return;
  const current = user ?? (await auth.getUser().catch(() => null));
  if (current) {
    showAccount(current);
    announce(`Signed in as ${current.email} in another tab.`, "success");
  }
});

// ---- account recovery (forgot password, reset link, email verification) ----------------------

/** POST JSON to the API without a token; an error answer becomes an AuthError. */
async function postJson(path, body) {
  let response;
  try {
    response = await fetch(new URL(path, location.origin), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (cause) {
    throw new AuthError("Could not reach the server", { code: "NETWORK_ERROR", cause });
  }
  if (!response.ok) throw await AuthError.fromResponse(response);
  return response.status === 204 ? null : response.json();
}

function showForgot() {
  show("forgot");
  $("forgot-done").hidden = true;
  formError("forgot-error", null);
  document.title = "Reset your password · tokensmith";
  $("forgot-title").focus();
}

function showReset() {
  show("reset");
  document.title = "Choose a new password · tokensmith";
  $("reset-title").focus();
}

function leaveRecovery() {
  resetToken = null;
  history.replaceState(null, "", location.pathname + location.search);
}

/** The app's routes live in the fragment, which never reaches a server (nor its logs). */
async function route({ booting = false } = {}) {
  const hash = location.hash;
  const query = new URLSearchParams(hash.split("?")[1] ?? "");
  if (hash.startsWith("#/reset-password")) {
    if (query.get("token")) {
      resetToken = query.get("token");
      history.replaceState(null, "", `${location.pathname}#/reset-password`);
    }
    if (resetToken) {
      showReset();
      return true;
    }
  }
  if (hash.startsWith("#/forgot-password")) {
    showForgot();
    return true;
  }
  if (hash.startsWith("#/verify-email") && query.get("token")) {
    const token = query.get("token");
    history.replaceState(null, "", location.pathname + location.search);
    try {
      const user = await postJson("/auth/email/verify", { token });
      announce(`Email verified: ${user.email}.`, "success");
      logActivity("Email verified");
      if (!views.account.hidden) renderUser(user);
    } catch (error) {
      announce(describeError(error), "error");
    }
    return false;
  }
  if (!booting && (!views.forgot.hidden || !views.reset.hidden)) {
    const user = await auth.getUser().catch(() => null);
    if (user) showAccount(user);
    else showAuth({ focus: true });
  }
  return false;
}

function setupRecovery() {
  const forgotForm = $("forgot-form");
  forgotForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError("forgot-error", null);
    const email = $("forgot-email");
    const invalid = checkFields([[email, email.validity.valid && email.value.trim() !== ""]]);
    if (invalid) {
      formError("forgot-error", "Enter a valid email address.");
      invalid.focus();
      return;
    }
    await busy(forgotForm.querySelector("button[type=submit]"), async () => {
      try {
        await postJson("/auth/password/forgot", { email: email.value.trim() });
        const done = $("forgot-done");
        done.textContent = `If an account uses ${email.value.trim()}, a link to reset its password is on its way. Check your mail.`;
        done.hidden = false;
      } catch (error) {
        formError("forgot-error", describeError(error));
      }
    });
  });

  const resetForm = $("reset-form");
  resetForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError("reset-error", null);
    const password = $("reset-password");
    const confirm = $("reset-confirm");
    const invalid = checkFields([
      [password, password.value.length >= 8],
      [confirm, confirm.value === password.value],
    ]);
    if (invalid) {
      formError(
        "reset-error",
        invalid === password ? "Choose a password of at least 8 characters." : "The two passwords differ.",
      );
      invalid.focus();
      return;
    }
    await busy(resetForm.querySelector("button[type=submit]"), async () => {
      try {
        await postJson("/auth/password/reset", { token: resetToken, newPassword: password.value });
        resetForm.reset();
        leaveRecovery();
        showAuth({ focus: true });
        announce("Your password is changed. Sign in with the new one.", "success");
      } catch (error) {
        formError("reset-error", describeError(error));
      }
    });
  });

  for (const id of ["forgot-back", "reset-back"]) {
    $(id).addEventListener("click", (event) => {
      event.preventDefault();
      leaveRecovery();
      route();
    });
  }
  window.addEventListener("hashchange", () => route());

  $("verify-button").addEventListener("click", (event) =>
    busy(event.currentTarget, async () => {
      const response = await auth.fetch("/auth/email/verify/request", { method: "POST" });
      if (!response.ok) throw await AuthError.fromResponse(response);
      announce("A verification link is on its way. Check your mail.", "success");
    }),
  );
}

// ---- boot ------------------------------------------------------------------------------------

async function boot() {
  const selectTab = setupTabs();
  setupForms(selectTab);
  setupAccountActions();
  setupRecovery();
  try {
    const routed = await route({ booting: true });
    const user = await auth.restore();
    if (routed) {
      // A recovery page stays in front; the session (if any) is restored behind it.
    } else if (user) {
      showAccount(user);
      logActivity("Session restored");
    } else if (views.auth.hidden) {
      showAuth();
    }
  } catch (error) {
    showAuth();
    announce(describeError(error), "error");
  }
  document.body.dataset.ready = "true";
}

boot();
