/** The query string of `GET /v1/profiles/:ref/events`, checked before any Durable Object is woken. */
import { MESSAGE_TYPES, type MessageType } from "@tessera/protocol";
import type { EventQuery } from "../profile/profile-rpc";

export const DEFAULT_EVENT_PAGE = 50;
export const MAX_EVENT_PAGE = 1000;
/** Event names are free text, but a filter longer than any sane name is a mistake worth saying so. */
const MAX_EVENT_NAME = 500;

export type ParsedEventQuery = { ok: true; query: EventQuery } | { ok: false; reason: string };

/**
 * `limit` (1–1000, default 50), `cursor` (opaque, from the previous page), `event` (a track event name) and
 * `type` (a message type). Unknown parameters are ignored, as most HTTP APIs do.
 *
 * @example parseEventQuery({ limit: "20", type: "track" }) // { ok: true, query: { limit: 20, type: "track" } }
 */
export function parseEventQuery(params: Record<string, string | undefined>): ParsedEventQuery {
  const query: EventQuery = { limit: DEFAULT_EVENT_PAGE };
  const { limit, cursor, event, type } = params;
  if (limit !== undefined) {
    if (!/^\d{1,7}$/.test(limit))
      return { ok: false, reason: `limit must be a whole number, got ${JSON.stringify(clip(limit))}` };
    const n = Number(limit);
    if (n < 1 || n > MAX_EVENT_PAGE)
      return { ok: false, reason: `limit must be between 1 and ${MAX_EVENT_PAGE}, got ${n}` };
    query.limit = n;
  }
  if (cursor !== undefined) {
    if (cursor === "") return { ok: false, reason: "cursor is empty: pass cursor.next from the previous page" };
    query.cursor = cursor;
  }
  if (event !== undefined) {
    if (event === "") return { ok: false, reason: "event is empty: pass an event name such as Order Completed" };
    if (event.length > MAX_EVENT_NAME)
      return { ok: false, reason: `event is longer than ${MAX_EVENT_NAME} characters` };
    query.event = event;
  }
  if (type !== undefined) {
    if (!(MESSAGE_TYPES as readonly string[]).includes(type)) {
      return {
        ok: false,
        reason: `type must be one of ${MESSAGE_TYPES.join(", ")}, got ${JSON.stringify(clip(type))}`,
      };
    }
    query.type = type as MessageType;
  }
  return { ok: true, query };
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
