/**
 * Reading a verified webhook body (DESIGN §7) without ever failing on what is in it. A signature proves who sent the
 * bytes, not that they make sense, and a vendor retries a 500 for as long as it keeps the URL: so a body that cannot
 * be read at all is the sender's bug, answered `400` with what is wrong (`BodyRead` with a `problem`), and one
 * unreadable item in a batch is left out while the rest is stored, as ingestion rejects one bad message of a batch.
 *
 * `InboundSource.parse` stays the plugin contract (`[]` for a body it cannot read); a source that can say why
 * implements `read` as well, and the route asks it first.
 *
 * @example
 * const read = readBody(source, req);
 * if (!read.ok) throw validationError(`Webhook body invalid: ${read.problem}`);
 * // read.engagements to store, read.skipped to report
 */
import type { z } from "zod";
import { readBodyBytes } from "../../shared/body-bytes";
import { describeIssue } from "../../shared/validation-hook";
import type { Engagement, InboundSource, RawInbound } from "../plugin";

/** A webhook body larger than this is not an engagement notification (413, refused before it is read whole). */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;

/** A webhook request as a source verifies and parses it: the raw bytes, as signatures are over them. */
export async function rawInbound(request: Request): Promise<RawInbound> {
  const body = await readBodyBytes(request, MAX_WEBHOOK_BYTES);
  return { method: request.method, url: request.url, headers: request.headers, body };
}

/** An item of a vendor's batch left out because it cannot be read: its place in the batch, and why. */
export interface SkippedItem {
  index: number;
  reason: string;
}

/**
 * The engagements in a verified body and the items left out as unreadable (said in the webhook's answer, so the
 * sender learns of its bug), or why the body cannot be read at all.
 */
export type BodyRead = { ok: true; engagements: Engagement[]; skipped: SkippedItem[] } | { ok: false; problem: string };

/** An item that claims an engagement but cannot be stored as one (no usable time or event id): why. */
export interface Unreadable {
  unreadable: string;
}

export const unreadable = (reason: string): Unreadable => ({ unreadable: reason });

/** An inbound source that says why a body is unreadable instead of reading nothing from it. */
export interface ReadingSource {
  read(req: RawInbound): BodyRead;
}

export function readsBody<C>(source: InboundSource<C>): source is InboundSource<C> & ReadingSource {
  return typeof (source as Partial<ReadingSource>).read === "function";
}

/** What a verified body holds: `read` of a source that has it, else `parse` (a source that skips nothing it can name). */
export function readBody<C>(source: InboundSource<C>, req: RawInbound): BodyRead {
  return readsBody(source) ? source.read(req) : { ok: true, engagements: source.parse(req), skipped: [] };
}

/** `parse` of a source that has `read`: what it reads, nothing from a body it cannot. */
export function parseOf(read: (req: RawInbound) => BodyRead): (req: RawInbound) => Engagement[] {
  return (req) => {
    const result = read(req);
    return result.ok ? result.engagements : [];
  };
}

/** The body as JSON, or the problem with it. */
export function jsonOf(body: Uint8Array): { ok: true; value: unknown } | { ok: false; problem: string } {
  try {
    return { ok: true, value: JSON.parse(new TextDecoder().decode(body)) };
  } catch (err) {
    return { ok: false, problem: `the body is not JSON (${(err as Error).message})` };
  }
}

/**
 * Milliseconds since the epoch as ISO-8601, or undefined when no Date can hold them: `new Date(1e20).toISOString()`
 * throws, and a vendor's absurd timestamp must cost its item, not the request.
 */
export function isoAt(ms: number): string | undefined {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : undefined;
}

/**
 * The items of a batch `schema` reads, in order; the others (a null, a wrong type, a missing field) are skipped with
 * the reason. `read` turns an item into its engagement, {@link unreadable} when it cannot (skipped too), or undefined
 * for a kind that carries none (another topic, another property: neither stored nor skipped).
 */
export function readItems<T>(
  items: readonly unknown[],
  schema: z.ZodType<T>,
  read: (item: T) => Engagement | Unreadable | undefined,
): { engagements: Engagement[]; skipped: SkippedItem[] } {
  const engagements: Engagement[] = [];
  const skipped: SkippedItem[] = [];
  for (const [index, raw] of items.entries()) {
    const item = schema.safeParse(raw);
    const result = item.success ? read(item.data) : unreadable(describeIssue(item.error));
    if (result === undefined) continue;
    if ("unreadable" in result) skipped.push({ index, reason: result.unreadable });
    else engagements.push(result);
  }
  return { engagements, skipped };
}
