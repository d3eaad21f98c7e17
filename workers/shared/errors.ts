import type { ErrorCode } from "@tessera/protocol";

/**
 * An expected failure that answers the client with a status and the error envelope.
 * Anything else thrown is a bug and answers 500 `internal_error` (logged with its cause).
 *
 * @example throw new HttpError(404, "not_found", "No profile matches email:jane@example.com")
 */
export class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 503,
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options);
    this.name = "HttpError";
    this.headers = options?.headers;
  }
  readonly headers?: Record<string, string>;
}

export const validationError = (message: string) => new HttpError(400, "validation_error", message);
export const notFound = (message: string) => new HttpError(404, "not_found", message);
export const unauthenticated = (message: string) => new HttpError(401, "authentication_error", message);
export const conflict = (message: string) => new HttpError(409, "conflict", message);
