/** Reading small admin request bodies: a JSON object, and named string fields with messages that name them. */
import type { Context } from "hono";
import { validationError } from "../shared/errors";

/** Admin bodies are tiny; anything larger is a mistake, not a workspace name. */
const MAX_BODY_BYTES = 16 * 1024;
const MAX_NAME_LENGTH = 200;

/**
 * The request body as a JSON object, or a 400 that says what is wrong with it.
 *
 * @example const body = await readJsonObject(c); const name = requiredName(body, "name");
 */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.length > MAX_BODY_BYTES) throw validationError(`Body is larger than ${MAX_BODY_BYTES} bytes`);
  if (text.trim() === "") throw validationError("Body is empty: send a JSON object");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw validationError("Body is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw validationError("Body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

/** A required, non-blank display name of at most 200 characters, trimmed. */
export function requiredName(body: Record<string, unknown>, field: string): string {
  const value = Object.hasOwn(body, field) ? body[field] : undefined;
  if (value === undefined || value === null) throw validationError(`"${field}" is required`);
  if (typeof value !== "string") throw validationError(`"${field}" must be a string`);
  const name = value.trim();
  if (name === "") throw validationError(`"${field}" must not be empty`);
  if (name.length > MAX_NAME_LENGTH) throw validationError(`"${field}" must be at most ${MAX_NAME_LENGTH} characters`);
  // Control characters in a name only ever come from a bug or an attack; they break listings and logs.
  if (/\p{Cc}/u.test(name)) throw validationError(`"${field}" must not contain control characters`);
  return name;
}
