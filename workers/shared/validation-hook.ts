/** The one place a failed request schema becomes an answer: `400 {"error":{"code":"validation_error",…}}`. */
import type { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { validationError } from "./errors";

/**
 * `limits.user_id`, `blocked_values[0]`: a field's place in the request, as a developer writes it.
 *
 * @example fieldPath(["priority", 1]) // "priority[1]"
 */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === "number") return `${text}[${key}]`;
    return text === "" ? String(key) : `${text}.${String(key)}`;
  }, "");
}

/**
 * The first issue as `<field path>: <what is wrong>`. A reason that already opens with its field (`limit must be…`,
 * `"name" is required`) is shown as written, so no field is named twice. One issue, like the hand-written checks
 * clients have always seen: the first one fixed reveals the next.
 *
 * @example describeIssue(IdentityRulesUpdate.safeParse({ limits: { user_id: 0 } }).error) // "limits.user_id: must be…"
 */
export function describeIssue(error: z.ZodError): string {
  const [issue] = error.issues;
  if (!issue) return "The request is invalid";
  const path = fieldPath(issue.path);
  const named = issue.message.startsWith(`${path} `) || issue.message.startsWith(`"${path}"`);
  return path === "" || named ? issue.message : `${path}: ${issue.message}`;
}

/**
 * `defaultHook` of every `OpenAPIHono` in the Worker: body, query and path parameter schemas of `createRoute`
 * routes fail through here, into `app.onError`'s envelope.
 */
export function validationHook(
  result: ({ success: true } | { success: false; error: z.ZodError }) & { target: string },
  c: Context,
): undefined {
  if (result.success) return;
  const repeated = result.target === "query" ? repeatedParameter(result.error, c) : undefined;
  throw validationError(repeated ?? describeIssue(result.error));
}

/**
 * A parameter sent more than once reaches the schema as an array, and every one of ours takes one value: say so
 * (`event was given 2 times: pass it once`) rather than what the array did to the parameter's own check.
 */
function repeatedParameter(error: z.ZodError, c: Context): string | undefined {
  const [name] = error.issues[0]?.path ?? [];
  if (typeof name !== "string") return undefined;
  const times = c.req.queries(name)?.length ?? 0;
  return times > 1 ? `${name} was given ${times} times: pass it once` : undefined;
}
