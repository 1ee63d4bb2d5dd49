import { invalidInput } from "../errors";
import { dayOf, dayToDate, isoWeekStart, parseDate } from "../lib/dates";

/** An inclusive range of UTC day numbers (see lib/dates). */
export interface DayRange {
  start: number;
  end: number;
}

/** Longest accepted range: a guard against accidental centuries, far above any dashboard's. */
export const MAX_RANGE_DAYS = 3660;
/** Default range: today − 30 days .. today, inclusive (31 calendar days), as the reference. */
export const DEFAULT_RANGE_BACK_DAYS = 30;
/** Window of the platform's organizations view (and organization health), in days. */
export const ORG_WINDOW_DAYS = 28;

export interface DateRangeQuery {
  start_date?: string;
  end_date?: string;
}

/** Applies the reference's defaults (each bound independently) and checks order and length. */
export function resolveRange(query: DateRangeQuery, now: number): DayRange {
  const today = dayOf(now);
  const start = query.start_date ? parseDate(query.start_date)! : today - DEFAULT_RANGE_BACK_DAYS;
  const end = query.end_date ? parseDate(query.end_date)! : today;
  if (start > end) {
    throw invalidInput("query", [{ path: "start_date", message: "must not be after end_date" }]);
  }
  if (end - start + 1 > MAX_RANGE_DAYS) {
    throw invalidInput("query", [{ path: "start_date", message: `must be within ${MAX_RANGE_DAYS} days of end_date (inclusive)` }]);
  }
  return { start, end };
}

/** The range of equal length that ends the day before `range` starts. */
export function previousRange(range: DayRange): DayRange {
  const length = range.end - range.start + 1;
  return { start: range.start - length, end: range.start - 1 };
}

/** The ORG_WINDOW_DAYS-day window ending `end` (the organizations view and organization health). */
export function orgWindow(end: number): DayRange {
  return { start: end - ORG_WINDOW_DAYS + 1, end };
}

/** The last day a YYYY-MM-DD date can name. */
const LAST_DAY = parseDate("9999-12-31")!;

export interface WeekRange {
  /** Monday of the first and of the last ISO week. */
  first: number;
  last: number;
  start_date: string;
  end_date: string;
}

/** The resolved range widened to whole ISO weeks (Monday..Sunday, UTC), for the weekly endpoints. */
export function resolveWeekRange(query: DateRangeQuery, now: number): WeekRange {
  const range = resolveRange(query, now);
  const first = isoWeekStart(range.start);
  const last = isoWeekStart(range.end);
  // 9999-12-27..31 widen to a week ending in the year 10000, which YYYY-MM-DD cannot write.
  if (last + 6 > LAST_DAY) {
    throw invalidInput("query", [{ path: "end_date", message: "must be in an ISO week that ends by 9999-12-31" }]);
  }
  return { first, last, start_date: dayToDate(first), end_date: dayToDate(last + 6) };
}
