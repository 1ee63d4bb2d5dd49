// loginpulse dashboard: a token gate, the controls (view, organization, range, identity
// type) and the two views. All data comes from the JSON API with the user's token.
import { ApiFailure, api, devToken, forgetToken, onAuthFailure, readClaims, servedPaths, storedToken, storeToken, type Claims } from "./api";
import { clear, h } from "./dom";
import { daysBetween, formatRange, todayUtc } from "./format";
import { renderOrgView } from "./org";
import { renderPlatformView } from "./platform";
import { PRESETS, presetRange, readState, type State, writeState } from "./state";
import "./styles.css";

const main = document.getElementById("content") as HTMLElement;
const controls = document.getElementById("controls") as HTMLElement;
const session = document.getElementById("session") as HTMLElement;
const MAX_DAYS = 3660;

let state: State = readState();
let claims: Claims = {};
let orgs: string[] = [];
let served: Set<string> = new Set();
let inFlight: AbortController | null = null;
const cleanups: (() => void)[] = [];

const loopback = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(location.hostname);

function stopView() {
  inFlight?.abort();
  inFlight = null;
  for (const c of cleanups.splice(0)) c();
}

function showGate(message?: string, tone: "info" | "error" = "info") {
  stopView();
  controls.hidden = true;
  clear(session);
  const input = h("textarea", { id: "token-input", name: "token", rows: 4, required: true, spellcheck: "false", autocomplete: "off", placeholder: "eyJhbGciOi…" });
  const form = h(
    "form",
    { class: "gate-form", "aria-describedby": "gate-hint" },
    h("label", { for: "token-input" }, "Bearer token (JWT)"),
    input,
    h("button", { type: "submit", class: "btn primary" }, "Open the dashboard"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const token = input.value.trim().replace(/^Bearer\s+/i, "");
    if (!token) return;
    storeToken(token);
    void start(token);
  });
  clear(
    main,
    h(
      "section",
      { class: "gate", "data-state": tone === "error" ? "error" : "signin", "aria-labelledby": "gate-title" },
      h("h1", { id: "gate-title" }, tone === "error" ? "Sign in again" : "Sign in with a token"),
      message ? h("p", { class: `notice ${tone}`, role: "alert" }, message) : null,
      form,
      h(
        "p",
        { id: "gate-hint", class: "hint" },
        "An organization token shows that organization; a platform-owner token shows every organization. The token stays in this tab (sessionStorage) and is sent only to this API. Locally: ",
        h("code", {}, "npm run -s token -- --org acme-corp"),
        " or ",
        h("code", {}, "--platform"),
        ".",
      ),
    ),
  );
  input.focus();
}

onAuthFailure((failure: ApiFailure) => {
  if (!storedToken()) return; // already handled by another panel's failure
  forgetToken();
  if (failure.code === "TOKEN_EXPIRED") showGate("Your token has expired. Paste a new one to continue.", "error");
  else showGate(`The API did not accept this token: ${failure.message} (${failure.code}). Paste another one.`, "error");
});

async function start(token: string) {
  const c = readClaims(token);
  if (!c) {
    forgetToken();
    return showGate("That is not a JWT: a token has three dot-separated parts.", "error");
  }
  claims = c;
  if (!c.is_platform_owner && !c.org) {
    forgetToken();
    return showGate("This token cannot read analytics: it has no org claim and is not a platform-owner token.", "error");
  }
  clear(main, h("p", { class: "loading-page", role: "status" }, "Loading…"));
  served = await servedPaths();
  orgs = c.org ? [c.org] : [];
  if (c.is_platform_owner) {
    try {
      const { body } = await api<{ organizations: { org: string }[] }>("/api/platform/analytics/organizations?sort=slug&order=asc&limit=1000");
      orgs = body.organizations.map((o) => o.org);
    } catch (err) {
      if (err instanceof ApiFailure && err.isAuth) return; // the gate is showing
      orgs = c.org ? [c.org] : [];
    }
  }
  if (!c.is_platform_owner) state.view = "org";
  if (!state.org || !orgs.includes(state.org)) state.org = c.org ?? orgs[0] ?? null;
  if (!state.org) state.view = "platform";
  renderSession();
  render();
}

function renderSession() {
  const who = claims.is_platform_owner ? "Platform owner" : `Organization ${claims.org}`;
  const signOut = h("button", { type: "button", class: "btn ghost", "data-action": "sign-out" }, "Change token");
  signOut.addEventListener("click", () => {
    forgetToken();
    showGate("Signed out. Paste a token to continue.");
  });
  clear(session, h("span", { class: "who", title: claims.sub ? `sub: ${claims.sub}` : undefined }, who), signOut);
}

function setState(patch: Partial<State>) {
  state = { ...state, ...patch };
  render();
}

function renderControls() {
  controls.hidden = false;
  const tabs = h("div", { class: "tabs", role: "group", "aria-label": "View" });
  for (const [view, label] of [
    ["org", "Organization"],
    ["platform", "Platform"],
  ] as const) {
    if (view === "platform" && !claims.is_platform_owner) continue;
    if (view === "org" && !state.org) continue;
    const b = h("button", { type: "button", class: "tab", "aria-pressed": String(state.view === view), "data-view": view }, label);
    b.addEventListener("click", () => setState({ view }));
    tabs.append(b);
  }

  const orgPicker =
    state.view === "org" && orgs.length > 1
      ? (() => {
          const select = h("select", { id: "org-select", "aria-label": "Organization" }, orgs.map((o) => h("option", { value: o, selected: o === state.org }, o)));
          select.addEventListener("change", () => setState({ org: select.value }));
          return h("div", { class: "control" }, h("label", { for: "org-select" }, "Organization"), select);
        })()
      : state.view === "org"
        ? h("div", { class: "control" }, h("span", { class: "control-label" }, "Organization"), h("strong", { class: "org-name" }, state.org))
        : null;

  const presets = h("div", { class: "segmented", role: "group", "aria-label": "Date range" });
  for (const days of PRESETS) {
    const b = h("button", { type: "button", "aria-pressed": String(state.days === days), "data-days": days }, days === 365 ? "1 year" : `${days} days`);
    b.addEventListener("click", () => setState(presetRange(days)));
    presets.append(b);
  }
  const today = todayUtc();
  const from = h("input", { type: "date", id: "range-start", value: state.start, max: today, required: true });
  const to = h("input", { type: "date", id: "range-end", value: state.end, max: today, required: true });
  const problem = h("span", { class: "form-problem", role: "alert" });
  const custom = h(
    "form",
    { class: "custom-range", "aria-label": "Custom range" },
    h("label", { for: "range-start" }, "From"),
    from,
    h("label", { for: "range-end" }, "to"),
    to,
    h("button", { type: "submit", class: "btn" }, "Apply"),
    problem,
  );
  custom.addEventListener("submit", (e) => {
    e.preventDefault();
    const [start, end] = [from.value, to.value];
    if (!start || !end) return;
    if (start > end) problem.textContent = "The start must not be after the end.";
    else if (daysBetween(start, end) > MAX_DAYS) problem.textContent = `At most ${MAX_DAYS} days.`;
    else setState({ days: null, start, end });
  });

  const identity =
    state.view === "org"
      ? (() => {
          const select = h(
            "select",
            { id: "identity-select" },
            h("option", { value: "all", selected: state.identity === "all" }, "All identities"),
            h("option", { value: "human", selected: state.identity === "human" }, "People"),
            h("option", { value: "machine", selected: state.identity === "machine" }, "Machines"),
          );
          select.addEventListener("change", () => setState({ identity: select.value as State["identity"] }));
          return h("div", { class: "control" }, h("label", { for: "identity-select" }, "Identity type"), select);
        })()
      : null;

  clear(
    controls,
    h("div", { class: "controls-row" }, tabs, orgPicker, identity),
    h("div", { class: "controls-row" }, presets, custom),
    h("p", { class: "range-text", id: "range-text", "data-start": state.start, "data-end": state.end }, formatRange(state.start, state.end)),
  );
}

function render() {
  stopView();
  writeState(state);
  renderControls();
  inFlight = new AbortController();
  const title = state.view === "platform" ? "Platform" : state.org ?? "";
  document.title = `${title} · loginpulse`;
  if (state.view === "platform") {
    renderPlatformView(main, state, served, inFlight.signal, cleanups, (org) => setState({ view: "org", org }));
  } else if (state.org) {
    renderOrgView(main, state.org, state, served, inFlight.signal, cleanups);
  }
}

async function boot() {
  let token = storedToken();
  if (!token && loopback) {
    token = await devToken();
    if (token) storeToken(token);
  }
  if (!token) return showGate();
  await start(token);
}

void boot();
