// The page calls the same JSON API as any client, with the same bearer token. The token
// lives in sessionStorage only (this tab, until it closes): never in a URL or a cookie.

const TOKEN_KEY = "loginpulse.token";

export const storedToken = () => sessionStorage.getItem(TOKEN_KEY);
export const storeToken = (token: string) => sessionStorage.setItem(TOKEN_KEY, token);
export const forgetToken = () => sessionStorage.removeItem(TOKEN_KEY);

/** An error answer of the API, in the contract's shape. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
  /** The token itself is the problem: missing, malformed, expired or not accepted. */
  get isAuth(): boolean {
    return this.status === 401;
  }
}

export interface Answer<T> {
  body: T;
  /** The `Link: <…>; rel="next"` target, when the API has a next page. */
  next: string | null;
}

/** Listeners for authentication failures (an expired token ends the session everywhere). */
const authListeners = new Set<(failure: ApiFailure) => void>();
export const onAuthFailure = (listener: (failure: ApiFailure) => void) => authListeners.add(listener);

export async function api<T>(path: string, init: { signal?: AbortSignal; token?: string | null } = {}): Promise<Answer<T>> {
  const token = init.token === undefined ? storedToken() : init.token;
  const res = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: init.signal });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiFailure(res.status, "NOT_JSON", `The server answered ${res.status} without JSON`);
  }
  if (!res.ok) {
    const err = body as { error?: string; error_code?: string };
    const failure = new ApiFailure(res.status, err.error_code ?? "UNKNOWN", err.error ?? `HTTP ${res.status}`);
    if (failure.isAuth) for (const listener of authListeners) listener(failure);
    throw failure;
  }
  const link = res.headers.get("link");
  const next = link ? (/<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1] ?? null) : null;
  return { body: body as T, next };
}

export interface Claims {
  sub?: string;
  org?: string;
  is_platform_owner?: boolean;
  service?: string;
  scope?: string;
  exp?: number;
}

/**
 * The token's claims, read without verification only to choose what to show (the server
 * verifies every request). Undefined when it is not a JWT.
 */
export function readClaims(token: string): Claims | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
    return claims && typeof claims === "object" ? (claims as Claims) : undefined;
  } catch {
    return undefined;
  }
}

/** The development token `npm run dev` hands out; null anywhere else (the route answers 404). */
export async function devToken(): Promise<string | null> {
  try {
    const { body } = await api<{ token: string }>("/api/dev/token", { token: null });
    return body.token;
  } catch {
    return null;
  }
}

/** Paths of the OpenAPI document: which optional endpoints this deployment serves. */
export async function servedPaths(): Promise<Set<string>> {
  try {
    const { body } = await api<{ paths?: Record<string, unknown> }>("/openapi.json", { token: null });
    return new Set(Object.keys(body.paths ?? {}));
  } catch {
    return new Set();
  }
}
