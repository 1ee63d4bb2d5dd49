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
  /** The signing keys (JWKS_URL) could not be fetched: tokens cannot be checked, so nothing is let through. */
  AUTH_UNAVAILABLE: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorDetail {
  path: string;
  message: string;
}

/** Seconds a client should wait before retrying a 429 or 503 that does not say otherwise. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    /** Sent as `Retry-After` (seconds); 429 and 503 always carry one. */
    readonly retryAfter?: number,
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

/**
 * D1 surfaces overload, network trouble and resets as plain Errors; these messages
 * mean "try again", not "your request is wrong". A batch is one transaction, so a
 * failed write committed all or nothing, and idempotent event ids make the retry safe.
 */
function isD1Unavailable(err: Error): boolean {
  return /\bD1\b.*(overloaded|timed? ?out|timeout|network|unavailable|reset|transient|internal error|connection)|Network connection lost/i.test(
    err.message,
  );
}

function retryHeaders(status: number, retryAfter: number | undefined): Record<string, string> | undefined {
  return status === 429 || status === 503 ? { "Retry-After": String(retryAfter ?? DEFAULT_RETRY_AFTER_SECONDS) } : undefined;
}

/** The one error handler: every failure leaves as the contract's JSON, never a stack trace. */
export function handleError(err: Error, c: Context): Response {
  if (err instanceof ApiError) {
    return c.json(errorBody(err.code, err.message, err.details), err.status, retryHeaders(err.status, err.retryAfter));
  }
  if (err instanceof HTTPException) {
    // Hono's own failures (e.g. malformed JSON from the validator) in the same shape.
    const code = HTTP_EXCEPTION_CODES[err.status] ?? (err.status < 500 ? "BAD_REQUEST" : "INTERNAL_ERROR");
    return c.json(errorBody(code, err.message || "Request failed"), ERROR_STATUS[code], retryHeaders(ERROR_STATUS[code], undefined));
  }
  if (isD1Unavailable(err)) {
    console.warn(`database unavailable: ${err.message}`);
    return c.json(errorBody("DATABASE_UNAVAILABLE", "Database temporarily unavailable; retry later (event ids make retries safe)"), 503, retryHeaders(503, undefined));
  }
  // The error alone: never the request, whose headers carry the caller's token.
  console.error("unhandled error", err);
  return c.json(errorBody("INTERNAL_ERROR", "Internal server error"), 500);
}
