import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** The closed set of error codes of the contract, each with its one HTTP status. */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  TOKEN_EXPIRED: 401,
  JWT_ERROR: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  DATABASE_UNAVAILABLE: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorDetail {
  path: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
    this.status = ERROR_STATUS[code];
  }
}

export function errorBody(code: ErrorCode, message: string, details?: ErrorDetail[]) {
  return {
    error: message,
    error_code: code,
    timestamp: new Date().toISOString(),
    ...(details ? { details } : {}),
  };
}

/** zod issues → contract details, with paths like `events[3].created_at`. */
export function zodDetails(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): ErrorDetail[] {
  return issues.map((issue) => ({
    path: issue.path
      .map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`))
      .join(""),
    message: issue.message,
  }));
}

const HTTP_EXCEPTION_CODES: Partial<Record<number, ErrorCode>> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "RATE_LIMITED",
};

function isD1Unavailable(err: Error): boolean {
  // D1 surfaces overload / network trouble as plain Errors with these messages.
  return /D1_ERROR.*(overloaded|timed out|network|unavailable|reset)|Network connection lost|storage caused object to be reset/i.test(
    err.message,
  );
}

/** The one error handler: every failure leaves as the contract's JSON, never a stack trace. */
export function handleError(err: Error, c: Context): Response {
  if (err instanceof ApiError) {
    return c.json(errorBody(err.code, err.message, err.details), err.status);
  }
  if (err instanceof HTTPException) {
    // Hono's own failures (e.g. malformed JSON from the validator) in the same shape.
    const code = HTTP_EXCEPTION_CODES[err.status] ?? (err.status < 500 ? "BAD_REQUEST" : "INTERNAL_ERROR");
    return c.json(errorBody(code, err.message || "Request failed"), ERROR_STATUS[code]);
  }
  if (isD1Unavailable(err)) {
    return c.json(errorBody("DATABASE_UNAVAILABLE", "Database temporarily unavailable"), 503, {
      "Retry-After": "5",
    });
  }
  console.error("unhandled error", err);
  return c.json(errorBody("INTERNAL_ERROR", "Internal server error"), 500);
}
