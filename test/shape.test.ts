import { describe, expect, it } from "vitest";
import { resolveWeekRange } from "../src/analytics/range";
import { ApiError } from "../src/errors";
import { parseDate } from "../src/lib/dates";
import {
  activeUsersDays,
  averageStickiness,
  decodeCursor,
  denseDays,
  encodeCursor,
  lifecycleWeeks,
  retentionMatrix,
  userGrowthDays,
} from "../src/routes/analytics/shape";

/** Response shaping, without a database: hand-computed inputs and answers. */

const d = (date: string) => parseDate(date)!;
const NOW = Date.parse("2025-03-20T12:00:00Z");

describe("dense days", () => {
  it("lists every day of an inclusive range, one day included", () => {
    expect(denseDays({ start: d("2025-02-27"), end: d("2025-03-02") }).length).toBe(4); // 2025 is not a leap year
    expect(denseDays({ start: d("2024-02-28"), end: d("2024-03-01") }).length).toBe(3); // 2024 is
    expect(denseDays({ start: 10, end: 10 })).toEqual([10]);
  });
});

describe("active users", () => {
  it("fills missing days with zeros and averages DAU/MAU over days with MAU > 0 (4 decimals)", () => {
    const range = { start: d("2025-03-01"), end: d("2025-03-04") };
    const { days, averageStickiness: s } = activeUsersDays(range, [
      { day: d("2025-03-01"), dau: 1, wau: 1, mau: 3 },
      { day: d("2025-03-03"), dau: 2, wau: 2, mau: 3 },
      { day: d("2025-03-04"), dau: 0, wau: 2, mau: 3 },
    ]);
    expect(days).toEqual([
      { date: "2025-03-01", dau: 1, wau: 1, mau: 3 },
      { date: "2025-03-02", dau: 0, wau: 0, mau: 0 },
      { date: "2025-03-03", dau: 2, wau: 2, mau: 3 },
      { date: "2025-03-04", dau: 0, wau: 2, mau: 3 },
    ]);
    // (1/3 + 2/3 + 0/3) / 3 = 1/3
    expect(s).toBe(0.3333);
  });

  it("stickiness is null when no day has MAU", () => {
    expect(averageStickiness([{ dau: 0, mau: 0 }])).toBeNull();
    expect(averageStickiness([])).toBeNull();
  });
});

describe("user growth", () => {
  it("runs the total from the identities known before the range", () => {
    const range = { start: d("2025-03-01"), end: d("2025-03-03") };
    expect(userGrowthDays(range, [{ day: d("2025-03-02"), new_users: 2, returning_users: 5 }], 10)).toEqual([
      { date: "2025-03-01", new_users: 0, returning_users: 0, total_users: 10 },
      { date: "2025-03-02", new_users: 2, returning_users: 5, total_users: 12 },
      { date: "2025-03-03", new_users: 0, returning_users: 0, total_users: 12 },
    ]);
  });
});

describe("weekly shapes", () => {
  // 2025-03-03 is a Monday (2025-W10); 2025-03-12 a Wednesday of W11.
  const weeks = resolveWeekRange({ start_date: "2025-03-05", end_date: "2025-03-12" }, NOW);

  it("widens the range to whole ISO weeks", () => {
    expect(weeks).toEqual({ first: d("2025-03-03"), last: d("2025-03-10"), start_date: "2025-03-03", end_date: "2025-03-16" });
  });

  it("refuses a range whose last ISO week ends after 9999-12-31", () => {
    expect(() => resolveWeekRange({ start_date: "9999-12-30", end_date: "9999-12-31" }, NOW)).toThrow(ApiError);
  });

  it("lifecycle has one entry per week, zeros where no row", () => {
    expect(lifecycleWeeks(weeks, [{ week: d("2025-03-10"), new_users: 1, returning_users: 2, resurrecting_users: 3, dormant_users: 4 }])).toEqual([
      { week: "2025-W10", week_start: "2025-03-03", new: 0, returning: 0, resurrecting: 0, dormant: 0 },
      { week: "2025-W11", week_start: "2025-03-10", new: 1, returning: 2, resurrecting: 3, dormant: 4 },
    ]);
  });

  it("retention: cohorts ascending, periods up to the last week, rates to 4 decimals, missing periods 0", () => {
    const three = resolveWeekRange({ start_date: "2025-03-03", end_date: "2025-03-17" }, NOW);
    const matrix = retentionMatrix(
      three,
      [
        { week: d("2025-03-10"), size: 4 },
        { week: d("2025-03-03"), size: 3 },
      ],
      [
        { week: d("2025-03-03"), period: 2, active: 1 },
        { week: d("2025-03-10"), period: 1, active: 3 },
      ],
    );
    expect(matrix).toEqual([
      { cohort: "2025-W10", week_start: "2025-03-03", size: 3, retention: [{ week: 1, active: 0, rate: 0 }, { week: 2, active: 1, rate: 0.3333 }] },
      { cohort: "2025-W11", week_start: "2025-03-10", size: 4, retention: [{ week: 1, active: 3, rate: 0.75 }] },
    ]);
  });
});

describe("recent-logins cursor", () => {
  it("round-trips and is URL-safe", () => {
    for (const c of [{ createdAt: 0, seq: 1 }, { createdAt: 1_741_000_000_123, seq: 999_999_999_999_999 }]) {
      const text = encodeCursor(c);
      expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(text)).toEqual(c);
    }
  });

  it("refuses anything it did not issue with a 400 naming the cursor", () => {
    for (const bad of ["", "!!!", btoa("1.2.3"), btoa("-1.2"), btoa("1234567890123456.1")]) {
      let caught: unknown;
      try {
        decodeCursor(bad);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ApiError);
      expect((caught as ApiError).status).toBe(400);
      expect((caught as ApiError).details).toEqual([{ path: "cursor", message: "is not a cursor this API issued" }]);
    }
  });
});
