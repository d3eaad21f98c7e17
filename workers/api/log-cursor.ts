/**
 * The `cursor` of the listings newest first by row id — a destination's sync log (`GET /v1/destinations/{id}/log`)
 * and dead letters (`…/dead-letters`), and the ingest dead letters (`GET /v1/dead-letters`): the last entry served,
 * base64url, tagged with its listing so that one listing's cursor is refused by the others.
 */
import { validationError } from "../shared/errors";

const LOG = "log:";
const DEAD_LETTERS = "dlq:";
const INGEST_DEAD_LETTERS = "idl:";

function encode(prefix: string, id: number): string {
  return btoa(`${prefix}${id}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decode(prefix: string, cursor: string): number {
  let text: string | undefined;
  try {
    text = /^[A-Za-z0-9_-]+$/.test(cursor) ? atob(cursor.replace(/-/g, "+").replace(/_/g, "/")) : undefined;
  } catch {
    text = undefined;
  }
  const id = text?.startsWith(prefix) ? text.slice(prefix.length) : "";
  if (/^[1-9]\d{0,15}$/.test(id)) return Number(id);
  throw validationError("cursor is not one this listing issued: pass cursor.next from the previous page");
}

/**
 * The cursor that resumes a sync-log listing after entry `id` (older entries come next); opaque to callers.
 *
 * @example logCursor(42) // "bG9nOjQy"
 */
export const logCursor = (id: number): string => encode(LOG, id);

/** The entry id a cursor resumes before; 400 when it is not a cursor a sync-log listing issued. */
export const logBefore = (cursor: string): number => decode(LOG, cursor);

/**
 * The cursor that resumes a dead-letter listing after letter `id` (older letters come next); opaque to callers.
 *
 * @example deadLetterCursor(42) // "ZGxxOjQy"
 */
export const deadLetterCursor = (id: number): string => encode(DEAD_LETTERS, id);

/** The letter id a cursor resumes before; 400 when it is not a cursor a dead-letter listing issued. */
export const deadLetterBefore = (cursor: string): number => decode(DEAD_LETTERS, cursor);

/** The cursor that resumes the ingest dead-letter listing after letter `id`; opaque to callers. */
export const ingestDeadLetterCursor = (id: number): string => encode(INGEST_DEAD_LETTERS, id);

/** The letter id a cursor resumes before; 400 when it is not a cursor the ingest dead-letter listing issued. */
export const ingestDeadLetterBefore = (cursor: string): number => decode(INGEST_DEAD_LETTERS, cursor);
