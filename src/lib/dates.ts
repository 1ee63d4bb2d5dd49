/** UTC day numbers: days since 1970-01-01. All date math in the service goes through here. */
export const DAY_MS = 86_400_000;

export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

export function dayToDate(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** Parses a strict `YYYY-MM-DD` calendar date; undefined for anything else (2025-02-30 included). */
export function parseDate(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return dayOf(ms);
}

/** ISO week start (Monday) of a day number. 1970-01-01 was a Thursday. */
export function isoWeekStart(day: number): number {
  return day - ((day + 3) % 7 + 7) % 7;
}

/** ISO 8601 week label (e.g. 2025-W01) for the week starting on `monday`. */
export function isoWeekLabel(monday: number): string {
  const thursday = new Date((monday + 3) * DAY_MS);
  const year = thursday.getUTCFullYear();
  // Not Date.UTC(year, 0, 1): it reads years 0..99 as 1900..1999 (weeks of 0100-01-01 fall in 0099).
  const jan1 = new Date(0).setUTCFullYear(year, 0, 1) / DAY_MS;
  const week = Math.floor((monday + 3 - jan1) / 7) + 1;
  return `${String(year).padStart(4, "0")}-W${String(week).padStart(2, "0")}`;
}

/** RFC 3339 with seconds precision when there are no milliseconds, as the reference prints. */
export function formatTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, 19)}Z` : iso;
}
