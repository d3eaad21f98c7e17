/**
 * The collector's one hook into the live-events feed (DESIGN §11). Recording must cost ingestion nothing when nobody
 * watches: the call to the workspace's feed object runs after the response (`waitUntil`), and once the feed answers
 * "nobody watches" this isolate stops calling it for {@link UNWATCHED_RECHECK_MS}.
 */
import type { JsonObject, RejectedMessage } from "@tessera/protocol";
import { isPlainObject } from "@tessera/protocol";
import type { Context } from "hono";
import type { CollectorEnv } from "../collector/collector-env";
import type { IndexedMessage } from "../ingest/pipeline";
import { type LiveEventInput, liveEventsStub } from "./live-events-do";

/** How long an isolate believes "nobody watches" before asking again: the delay before a new watcher sees events. */
export const UNWATCHED_RECHECK_MS = 5_000;
/** A message larger than this (as JSON) is shown by its summary only: the feed holds 200, not 200 × 32 KB. */
const MAX_SHOWN_MESSAGE_CHARS = 8_000;
/** Messages of one request that reach the feed: it keeps 200 anyway. */
const MAX_PER_REQUEST = 200;

/**
 * What this isolate believes about each workspace's feed: watched or not, until when to believe it, and whether a
 * call that will tell is on its way (meanwhile an unknown feed is not called again, so a burst costs one call).
 */
const feeds = new Map<string, { watched: boolean; until: number; asking: boolean }>();

/** The live-events route calls this: whoever watches makes this isolate record at once, without waiting a recheck. */
export function markWatched(workspaceId: string): void {
  feeds.set(workspaceId, { watched: true, until: Date.now() + UNWATCHED_RECHECK_MS, asking: false });
}

/**
 * Hands a request's accepted and rejected messages to the workspace's feed, after the response, when someone may be
 * watching; otherwise does nothing. `erased`: positions of accepted messages dropped because they name an erased
 * person. Never throws: a debugger's feed must not fail ingestion.
 */
export function recordLiveEvents(
  c: Context<CollectorEnv>,
  accepted: readonly IndexedMessage[],
  rejected: readonly RejectedMessage[],
  erased: readonly number[] = [],
): void {
  const workspaceId = c.var.workspaceId;
  const now = Date.now();
  const known = feeds.get(workspaceId);
  if (known && !known.watched && (known.until > now || known.asking)) return;
  const ctx = executionContextOf(c);
  if (!ctx) return;
  try {
    const events = liveEventsOf(c.var.envelope.messages, accepted, rejected, erased, new Date(now).toISOString());
    feeds.set(workspaceId, { watched: known?.watched ?? false, until: known?.until ?? 0, asking: true });
    ctx.waitUntil(
      liveEventsStub(c.env.LIVE_EVENTS, workspaceId)
        .record(events)
        .then(
          (watched) => feeds.set(workspaceId, { watched, until: Date.now() + UNWATCHED_RECHECK_MS, asking: false }),
          (err) => {
            feeds.set(workspaceId, { watched: false, until: Date.now() + UNWATCHED_RECHECK_MS, asking: false });
            console.error("live events: the feed did not record", err);
          },
        ),
    );
  } catch (err) {
    console.error("live events: could not describe the request", err);
  }
}

/** The request's messages in their order, the latest {@link MAX_PER_REQUEST}, as the feed shows them. */
function liveEventsOf(
  raw: readonly unknown[],
  accepted: readonly IndexedMessage[],
  rejected: readonly RejectedMessage[],
  erased: readonly number[],
  at: string,
): LiveEventInput[] {
  const refused = new Set(rejected.map((r) => r.index));
  const dropped = new Set(erased);
  const events: Array<LiveEventInput & { index: number }> = [];
  for (const { index, message } of accepted) {
    if (dropped.has(index)) events.push({ index, ...erasedPerson(message.type, message.messageId, at) });
    else if (!refused.has(index)) events.push({ index, ...describe(message as unknown as JsonObject, at, null) });
  }
  for (const r of rejected) {
    const event = describe(raw[r.index], at, r.error);
    events.push({ index: r.index, ...event, message_id: event.message_id ?? r.messageId });
  }
  events.sort((a, b) => a.index - b.index);
  return events.slice(-MAX_PER_REQUEST).map(({ index: _, ...event }) => event);
}

function describe(message: unknown, at: string, error: string | null): LiveEventInput {
  const m = isPlainObject(message) ? message : {};
  const text = (key: string) => (typeof m[key] === "string" ? (m[key] as string).slice(0, 512) : null);
  const shown = isPlainObject(message) && JSON.stringify(message).length <= MAX_SHOWN_MESSAGE_CHARS;
  return {
    at,
    status: error === null ? "accepted" : "rejected",
    error,
    type: text("type"),
    event: text("event"),
    message_id: text("messageId"),
    user_id: text("userId"),
    anonymous_id: text("anonymousId"),
    message: shown ? (message as JsonObject) : null,
  };
}

/**
 * A message of an erased person, as the feed shows it: that it came and was not stored, nothing of hers (her ids,
 * traits and properties are what the erase took away; the feed keeps what it shows).
 */
function erasedPerson(type: string, messageId: string, at: string): LiveEventInput {
  const error = "names a person who was erased (GDPR delete): not stored";
  return {
    at,
    status: "dropped",
    error,
    type,
    event: null,
    message_id: messageId,
    user_id: null,
    anonymous_id: null,
    message: null,
  };
}

/** A collector mounted without an execution context (a test's plain `app.request`) has nowhere to record after. */
function executionContextOf(c: Context<CollectorEnv>): ExecutionContext | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}
