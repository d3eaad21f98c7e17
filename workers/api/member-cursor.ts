/** The `cursor` of member listings (`GET /v1/audiences/{key}/members`): the last profile served, base64url. */
import { validationError } from "../shared/errors";
import { parseProfileRef } from "./profile-ref";

/**
 * The cursor that resumes a member listing after `profileId`; opaque to callers.
 *
 * @example memberCursor("prf_8x2k") // "cHJmXzh4Mms"
 */
export function memberCursor(profileId: string): string {
  return btoa(profileId).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The profile id a cursor resumes after; 400 when it is not a cursor a member listing issued. */
export function memberAfter(cursor: string): string {
  let text: string | undefined;
  try {
    text = /^[A-Za-z0-9_-]+$/.test(cursor) ? atob(cursor.replace(/-/g, "+").replace(/_/g, "/")) : undefined;
  } catch {
    text = undefined;
  }
  const parsed = text === undefined ? undefined : parseProfileRef(text);
  if (parsed?.ok && parsed.ref.kind === "id") return parsed.ref.profileId;
  throw validationError("cursor is not one this listing issued: pass cursor.next from the previous page");
}
