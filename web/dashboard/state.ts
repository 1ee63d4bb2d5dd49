// What the page shows, kept in the URL fragment (never the token): a reload or a shared
// link opens the same view, organization, range and filter.
import { addDays, todayUtc } from "./format";

export type View = "org" | "platform";
export type Identity = "all" | "human" | "machine";
export const PRESETS = [7, 30, 90, 365] as const;

export interface Filters {
  /** Preset length in days, or null for a custom range. */
  days: number | null;
  start: string;
  end: string;
  identity: Identity;
}

export interface State extends Filters {
  view: View;
  org: string | null;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const validDate = (s: string | null): s is string => !!s && DATE.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`));

export function presetRange(days: number, today = todayUtc()) {
  return { days, start: addDays(today, -(days - 1)), end: today };
}

export function readState(hash = location.hash): State {
  const p = new URLSearchParams(hash.replace(/^#/, ""));
  const view: View = p.get("view") === "platform" ? "platform" : "org";
  const identity = (["human", "machine"] as const).find((t) => t === p.get("type")) ?? "all";
  const days = Number(p.get("days"));
  const start = p.get("start");
  const end = p.get("end");
  const range = validDate(start) && validDate(end) && start <= end ? { days: null, start, end } : presetRange((PRESETS as readonly number[]).includes(days) ? days : 30);
  return { view, org: p.get("org"), identity, ...range };
}

export function writeState(s: State): void {
  const p = new URLSearchParams({ view: s.view });
  if (s.org) p.set("org", s.org);
  if (s.days) p.set("days", String(s.days));
  else {
    p.set("start", s.start);
    p.set("end", s.end);
  }
  if (s.identity !== "all") p.set("type", s.identity);
  const hash = `#${p}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}
