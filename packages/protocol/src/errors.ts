/** The error envelope every non-2xx answer carries (DESIGN §5, §6). */
import { z } from "zod";

export const ErrorCode = z
  .enum([
    "authentication_error",
    "forbidden",
    "not_found",
    "validation_error",
    "conflict",
    "rate_limit_error",
    "payload_too_large",
    "internal_error",
  ])
  .meta({ id: "ErrorCode", description: "What went wrong, for programs; `message` says it for people." });
export type ErrorCode = z.infer<typeof ErrorCode>;

/** @example { error: { code: "not_found", message: "No profile email:jane@example.com" } } */
export const ErrorBody = z
  .object({ error: z.object({ code: ErrorCode, message: z.string() }) })
  .meta({ id: "ErrorBody", description: "The body of every error response." });
export type ErrorBody = z.infer<typeof ErrorBody>;
