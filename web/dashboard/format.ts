// Numbers and dates for people. Every date in the API is a UTC calendar day, and the
// page says so: dates are formatted in UTC, never in the viewer's zone.

const integer = new Intl.NumberFormat("en-US");
const oneDecimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 1 });
const dayFormat = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", day: "numeric", month: "short", year: "numeric" });
const shortDay = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", day: "numeric", month: "short" });
const timestampFormat = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

export const DAY_MS = 86_400_000;

export const formatInt = (n: number) => integer.format(n);
export const formatNumber = (n: number) => (Number.isInteger(n) ? integer.format(n) : oneDecimal.format(n));
export const formatPercent = (ratio: number | null) => (ratio === null ? "–" : percent.format(ratio));

/** "+12.5%" / "−3%" / "new" (previous was 0) for change_pct values. */
export function formatChange(pct: number | null, current: number): string {
  if (pct === null) return current > 0 ? "new" : "–";
  if (pct === 0) return "±0%";
  return `${pct > 0 ? "+" : "−"}${oneDecimal.format(Math.abs(pct))}%`;
}

/** YYYY-MM-DD → ms at 00:00 UTC. */
export const dateMs = (date: string) => Date.parse(`${date}T00:00:00Z`);
export const todayUtc = () => new Date().toISOString().slice(0, 10);
export const addDays = (date: string, n: number) => new Date(dateMs(date) + n * DAY_MS).toISOString().slice(0, 10);
export const daysBetween = (start: string, end: string) => Math.round((dateMs(end) - dateMs(start)) / DAY_MS) + 1;

export const formatDay = (date: string) => dayFormat.format(dateMs(date));
export const formatShortDay = (date: string) => shortDay.format(dateMs(date));
export const formatTimestamp = (ts: string) => `${timestampFormat.format(Date.parse(ts))} UTC`;

/** "3 days ago" style age of a timestamp, for recent activity. */
export function formatAge(ts: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(ts)) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  const d = Math.floor(s / 86_400);
  return `${d} day${d === 1 ? "" : "s"} ago`;
}

/** A range in words: "3 Mar – 1 Apr 2026 (30 days, UTC)". */
export function formatRange(start: string, end: string): string {
  const days = daysBetween(start, end);
  return `${formatDay(start)} – ${formatDay(end)} (${formatInt(days)} day${days === 1 ? "" : "s"}, UTC)`;
}

/** A value of unknown shape from an endpoint the page renders generically. */
export function formatValue(key: string, value: unknown): string {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return /(share|rate|ratio|stickiness)$/.test(key) && value <= 1 ? formatPercent(value) : formatNumber(value);
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "string") {
    if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return formatDay(value);
    if (/^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value))) return formatTimestamp(value);
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => formatValue(key, v)).join(", ");
  if (typeof value === "object" && "label" in (value as object)) return String((value as { label: unknown }).label);
  return JSON.stringify(value);
}

/** snake_case field names as column titles. */
export const humanize = (key: string) => key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
