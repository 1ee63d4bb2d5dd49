import { hc } from "hono/client";
import type { AppType } from "./app";

export type { AppType };

/**
 * A typed client for this API: every path, query parameter and JSON response as the
 * routes declare them.
 *
 *   const api = loginpulseClient("https://loginpulse.example.com", { headers: { authorization: `Bearer ${token}` } });
 *   const res = await api.api.organizations[":org_slug"].analytics.summary.$get({ param: { org_slug: "acme-corp" }, query: {} });
 *   if (res.ok) console.log((await res.json()).metrics.logins.current);
 *
 * Typed once here (the instantiation is precomputed), so editors stay fast.
 */
export type LoginpulseClient = ReturnType<typeof hc<AppType>>;
export const loginpulseClient = (...args: Parameters<typeof hc>): LoginpulseClient => hc<AppType>(...args);
