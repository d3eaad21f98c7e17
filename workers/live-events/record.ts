/**
 * The collector's one hook into the live-events feed (DESIGN §11: the last ~200 messages, whether or not anyone was
 * watching when they came). Recording must cost ingestion next to nothing: an isolate gathers a workspace's messages
 * for {@link GATHER_MS} after the response (`waitUntil`) and hands them to the feed object in one call, so a busy
 * collector calls each feed a few times a second, not once a request.
 */
import type { JsonObject, RejectedMessage } from "@tessera/protocol";
import { isPlainObject, LIVE_EVENTS_KEPT } from "@tessera/protocol";
import type { Context } from "hono";
import type { CollectorEnv } from "../collector/collector-env";
import type { IndexedMessage } from "../ingest/pipeline";
import { type LiveEventInput, liveEventsStub } from "./live-events-do";

/** How long an isolate gathers a workspace's messages before one call hands them to its feed. */
export const GATHER_MS = 250;
/**
 * A gathering older than this lost the request that was to hand it over (its isolate's context ended first): the
 * next request starts a new one rather than adding to it for good.
 */
const LOST_GATHERING_MS = 5_000;
/** A message larger than this (as JSON) is shown by its summary only: the feed holds 200, not 200 × 32 KB. */
const MAX_SHOWN_MESSAGE_CHARS = 8_000;

/** One request's messages as the collector saw them, described only when handed over. */
interface SeenRequest {
  raw: readonly unknown[];
  accepted: readonly IndexedMessage[];
  rejected: readonly RejectedMessage[];
  erased: readonly number[];
  at: string;
}

/**
 * Per workspace, the requests this isolate has yet to hand to the feed (the latest holding the last
 * {@link LIVE_EVENTS_KEPT} messages: older ones would only be dropped there), and since when. Described when handed
 * over, so a busy isolate describes at most what the feed keeps, not every message of every request.
 */
const gathering = new Map<string, { requests: SeenRequest[]; messages: number; since: number }>();

/**
 * Adds a request's accepted and rejected messages to what goes to the workspace's feed next. `erased`: positions of
 * accepted messages dropped because they name an erased person. Never throws: a debugger's feed must not fail
 * ingestion.
 */
export function recordLiveEvents(
  c: Context<CollectorEnv>,
  accepted: readonly IndexedMessage[],
  rejected: readonly RejectedMessage[],
  erased: readonly number[] = [],
): void {
  const workspaceId = c.var.workspaceId;
  const ctx = executionContextOf(c);
  if (!ctx) return;
  try {
    const now = Date.now();
    const raw = c.var.envelope.messages;
    const seen: SeenRequest = { raw, accepted, rejected, erased, at: new Date(now).toISOString() };
    const current = gathering.get(workspaceId);
    if (current && now - current.since < LOST_GATHERING_MS) {
      current.requests.push(seen);
      current.messages += raw.length;
      while (current.messages - current.requests[0].raw.length >= LIVE_EVENTS_KEPT)
        current.messages -= (current.requests.shift() as SeenRequest).raw.length;
      return;
    }
    gathering.set(workspaceId, { requests: [seen], messages: raw.length, since: now });
    ctx.waitUntil(handOver(c.env.LIVE_EVENTS, workspaceId));
  } catch (err) {
    console.error("live events: could not gather the request", err);
  }
}

async function handOver(ns: Env["LIVE_EVENTS"], workspaceId: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
  const requests = gathering.get(workspaceId)?.requests ?? [];
  gathering.delete(workspaceId);
  try {
    const events = requests.flatMap((r) => liveEventsOf(r.raw, r.accepted, r.rejected, r.erased, r.at));
    await liveEventsStub(ns, workspaceId).record(events.slice(-LIVE_EVENTS_KEPT));
  } catch (err) {
    console.error("live events: the feed did not record", err);
  }
}

/** The request's messages in their order, the latest the feed keeps, as the feed shows them. */
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
  return events.slice(-LIVE_EVENTS_KEPT).map(({ index: _, ...event }) => event);
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
