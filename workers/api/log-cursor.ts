/** The `cursor` of sync-log pages (`GET /v1/destinations/{id}/log`): the last entry served, base64url. */
import { validationError } from "../shared/errors";

const PREFIX = "log:";

/**
 * The cursor that resumes a sync-log listing after entry `id` (older entries come next); opaque to callers.
 *
 * @example logCursor(42) // "bG9nOjQy"
 */
export function logCursor(id: number): string {
  return btoa(`${PREFIX}${id}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The entry id a cursor resumes before; 400 when it is not a cursor a sync-log listing issued. */
export function logBefore(cursor: string): number {
  let text: string | undefined;
  try {
    text = /^[A-Za-z0-9_-]+$/.test(cursor) ? atob(cursor.replace(/-/g, "+").replace(/_/g, "/")) : undefined;
  } catch {
    text = undefined;
  }
  const id = text?.startsWith(PREFIX) ? text.slice(PREFIX.length) : "";
  if (/^[1-9]\d{0,15}$/.test(id)) return Number(id);
  throw validationError("cursor is not one this listing issued: pass cursor.next from the previous page");
}
