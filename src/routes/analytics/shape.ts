/**
 * Response shaping for the organization reads: pure functions from query rows to the
 * documented JSON, tested directly (test/shape.test.ts). No I/O, no clock.
 */
import type { DayRange, WeekRange } from "../../analytics/range";
import type { LifecycleRow, RecentLoginsCursor } from "../../analytics/org-queries";
import { invalidInput } from "../../errors";
import { dayToDate, isoWeekLabel } from "../../lib/dates";

/** Every day of the range, ascending. */
export function denseDays({ start, end }: DayRange): number[] {
  return Array.from({ length: end - start + 1 }, (_, i) => start + i);
}

/** One entry per day of the range: the row of that day, or `empty` when the query had none. */
function fillDays<R extends { day: number }, T>(range: DayRange, rows: R[], entry: (day: number, row: R | undefined) => T): T[] {
  const byDay = new Map(rows.map((r) => [r.day, r]));
  return denseDays(range).map((day) => entry(day, byDay.get(day)));
}

/** Ratio rounded to 4 decimals. */
const ratio4 = (n: number, d: number) => Math.round((n / d) * 10_000) / 10_000;

export function activeUsersDays(range: DayRange, rows: { day: number; dau: number; wau: number; mau: number }[]) {
  const days = fillDays(range, rows, (day, r) => ({ date: dayToDate(day), dau: r?.dau ?? 0, wau: r?.wau ?? 0, mau: r?.mau ?? 0 }));
  return { days, averageStickiness: averageStickiness(days) };
}

/** Mean DAU/MAU over the days with MAU > 0, 4 decimals; null when there are none. */
export function averageStickiness(days: { dau: number; mau: number }[]): number | null {
  const withMau = days.filter((d) => d.mau > 0);
  if (withMau.length === 0) return null;
  return Math.round((withMau.reduce((sum, d) => sum + d.dau / d.mau, 0) / withMau.length) * 10_000) / 10_000;
}

/** Dense days with a running total of known identities, starting from those known before the range. */
export function userGrowthDays(range: DayRange, rows: { day: number; new_users: number; returning_users: number }[], knownBefore: number) {
  let total = knownBefore;
  return fillDays(range, rows, (day, r) => {
    total += r?.new_users ?? 0;
    return { date: dayToDate(day), new_users: r?.new_users ?? 0, returning_users: r?.returning_users ?? 0, total_users: total };
  });
}

/** One entry per ISO week of the range, zeros for weeks without rows. */
export function lifecycleWeeks(weeks: WeekRange, rows: LifecycleRow[]) {
  const byWeek = new Map(rows.map((r) => [r.week, r]));
  const out = [];
  for (let w = weeks.first; w <= weeks.last; w += 7) {
    const r = byWeek.get(w);
    out.push({
      week: isoWeekLabel(w),
      week_start: dayToDate(w),
      new: r?.new_users ?? 0,
      returning: r?.returning_users ?? 0,
      resurrecting: r?.resurrecting_users ?? 0,
      dormant: r?.dormant_users ?? 0,
    });
  }
  return out;
}

/** Cohorts ascending, each with one entry per later week of the range (k = 1..). */
export function retentionMatrix(
  weeks: WeekRange,
  cohorts: { week: number; size: number }[],
  activity: { week: number; period: number; active: number }[],
) {
  const active = new Map(activity.map((r) => [`${r.week}:${r.period}`, r.active]));
  return [...cohorts]
    .sort((a, b) => a.week - b.week)
    .map((cohort) => {
      const retention = [];
      for (let k = 1; cohort.week + 7 * k <= weeks.last; k++) {
        const n = active.get(`${cohort.week}:${k}`) ?? 0;
        retention.push({ week: k, active: n, rate: ratio4(n, cohort.size) });
      }
      return { cohort: isoWeekLabel(cohort.week), week_start: dayToDate(cohort.week), size: cohort.size, retention };
    });
}

/** recent-logins' opaque cursor: base64url of "<created_at>.<seq>". */
export function encodeCursor(c: RecentLoginsCursor): string {
  return btoa(`${c.createdAt}.${c.seq}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor(text: string): RecentLoginsCursor {
  let decoded = "";
  try {
    decoded = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    // fall through to the error below
  }
  const m = /^(\d{1,15})\.(\d{1,15})$/.exec(decoded);
  if (!m) throw invalidInput("query", [{ path: "cursor", message: "is not a cursor this API issued" }]);
  return { createdAt: Number(m[1]), seq: Number(m[2]) };
}
