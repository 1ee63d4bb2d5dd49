import { z } from "@hono/zod-openapi";
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
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];

const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

/** The contract's error body, as documented in the OpenAPI document. */
export const errorSchema = z
  .object({
    error: z.string().openapi({ description: "Human-readable message" }),
    error_code: z.enum(ERROR_CODES),
    timestamp: z.string().openapi({ description: "RFC 3339" }),
    details: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .openapi({ description: "Validation errors: one entry per problem, with the field's path" }),
  })
  .openapi("Error");

const codesOf = (status: ErrorStatus) => ERROR_CODES.filter((c) => ERROR_STATUS[c] === status).join(", ");

/** What every authenticated route can answer besides its own errors. */
const AUTHENTICATED = {
  401: "Missing, malformed, expired or invalid token",
  503: "Database or signing keys temporarily unavailable; see Retry-After",
} as const;

interface ErrorResponse {
  content: { "application/json": { schema: typeof errorSchema } };
  description: string;
}

/**
 * The error responses of an authenticated route for its OpenAPI definition: the given
 * statuses with their descriptions, plus 401 and 503, each naming its `error_code`s.
 */
export function errorResponses<S extends ErrorStatus>(described: Record<S, string>): Record<S | keyof typeof AUTHENTICATED, ErrorResponse> {
  const all: Record<number, string> = { ...AUTHENTICATED, ...described };
  return Object.fromEntries(
    Object.entries(all).map(([status, description]) => [
      status,
      { content: { "application/json": { schema: errorSchema } }, description: `${description} (error_code: ${codesOf(Number(status) as ErrorStatus)})` },
    ]),
  ) as Record<S | keyof typeof AUTHENTICATED, ErrorResponse>;
}

export interface ErrorDetail {
  path: string;
  message: string;
}

/** Seconds a client should wait before retrying a 429 or 503 that does not say otherwise. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

export interface ApiErrorOptions {
  /** Per-field problems of a validation error (see `invalidInput`). */
  details?: ErrorDetail[];
  /** Sent as `Retry-After` (seconds); 429 and 503 always carry one. */
  retryAfter?: number;
}

export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly details?: ErrorDetail[];
  readonly retryAfter?: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    { details, retryAfter }: ApiErrorOptions = {},
  ) {
    super(message);
    this.status = ERROR_STATUS[code];
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

/**
 * The one validation error: 400 BAD_REQUEST, "Invalid <subject>: <first path> <first
 * message>", every problem in `details`. Subjects are what was read: query, param, json,
 * event.
 */
export function invalidInput(subject: string, details: [ErrorDetail, ...ErrorDetail[]]): ApiError {
  const [first] = details;
  return new ApiError("BAD_REQUEST", `Invalid ${subject}: ${first.path || subject} ${first.message}`, { details });
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
export function zodDetails(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): [ErrorDetail, ...ErrorDetail[]] {
  if (issues.length === 0) return [{ path: "", message: "is invalid" }];
  return issues.map((issue) => ({
    path: issue.path
      .map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`))
      .join(""),
    message: issue.message,
  })) as [ErrorDetail, ...ErrorDetail[]];
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
