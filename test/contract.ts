import { expect } from "vitest";

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** The contract's error body, exactly: error, error_code, timestamp, optional details — nothing else. */
export async function expectErrorBody(res: Response, status: number, code: string) {
  const text = await res.text();
  expect({ status: res.status, text }).toMatchObject({ status });
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(text).not.toMatch(/(\\n|\n)\s*at\s/);
  const body = JSON.parse(text) as Record<string, unknown>;
  const keys = Object.keys(body).sort();
  expect(keys.filter((k) => k !== "details")).toEqual(["error", "error_code", "timestamp"]);
  expect(body.error_code).toBe(code);
  expect(typeof body.error).toBe("string");
  expect((body.error as string).length).toBeGreaterThan(0);
  expect(body.timestamp).toMatch(RFC3339);
  const ts = Date.parse(body.timestamp as string);
  expect(Number.isNaN(ts)).toBe(false);
  expect(Math.abs(ts - Date.now())).toBeLessThan(60_000);
  if ("details" in body) {
    expect(Array.isArray(body.details)).toBe(true);
    for (const d of body.details as unknown[]) {
      expect(Object.keys(d as object).sort()).toEqual(["message", "path"]);
    }
  }
  return body;
}

