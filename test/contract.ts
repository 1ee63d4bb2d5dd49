import { expect } from "vitest";
import { ERROR_STATUS } from "../src/errors";

export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** A 4xx/5xx body is exactly the contract's error: keys, types, a code that matches the status, no stack trace. */
export function expectContractError(status: number, contentType: string | null, text: string, what: string) {
  const ctx = `${what} → ${status} ${text.slice(0, 300)}`;
  expect(contentType, ctx).toMatch(/^application\/json/);
  expect(text, ctx).not.toMatch(/(\\n|\n)\s*at\s/);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${ctx}: error body is not JSON`);
  }
  expect(body !== null && typeof body === "object" && !Array.isArray(body), ctx).toBe(true);
  expect(Object.keys(body).filter((k) => k !== "details").sort(), ctx).toEqual(["error", "error_code", "timestamp"]);
  expect(typeof body.error, ctx).toBe("string");
  expect((body.error as string).length, ctx).toBeGreaterThan(0);
  expect(Object.keys(ERROR_STATUS), ctx).toContain(body.error_code);
  expect(ERROR_STATUS[body.error_code as keyof typeof ERROR_STATUS], ctx).toBe(status);
  expect(body.timestamp, ctx).toMatch(RFC3339);
  expect(Math.abs(Date.parse(body.timestamp as string) - Date.now()), ctx).toBeLessThan(60_000);
  if ("details" in body) {
    expect(Array.isArray(body.details), ctx).toBe(true);
    for (const d of body.details as unknown[]) {
      expect(d !== null && typeof d === "object", ctx).toBe(true);
      expect(Object.keys(d as object).sort(), ctx).toEqual(["message", "path"]);
      expect(typeof (d as { path: unknown }).path, ctx).toBe("string");
      expect(typeof (d as { message: unknown }).message, ctx).toBe("string");
    }
  }
  return body as { error: string; error_code: string; details?: { path: string; message: string }[] };
}

/** The contract's error body for `res`, with this status and error_code; 429 and 503 carry Retry-After (seconds). */
export async function expectErrorBody(res: Response, status: number, code: string, label = `${status} ${code}`) {
  const text = await res.text();
  expect({ status: res.status, text }, label).toMatchObject({ status });
  const body = expectContractError(res.status, res.headers.get("content-type"), text, label);
  expect(body.error_code, label).toBe(code);
  if (status === 429 || status === 503) expect(res.headers.get("retry-after"), `${label}: Retry-After`).toMatch(/^[1-9]\d*$/);
  return Object.assign(body, { text }) as Record<string, unknown> & typeof body & { text: string };
}
