/**
 * One batch → what became of each of its rows: the server's per-message rejections mapped back to rows by their
 * index in the batch, a 400 for the whole batch applied to all of its rows, a 413 answered by sending halves.
 */
import { type Batch, type BatchItem, batchBody } from "./batcher";
import type { RejectEntry } from "./rejects";
import { type SendOptions, sendBatch } from "./send";
import type { WarningEntry } from "./warnings";

/**
 * Rows stored, rows the collector already held under their messageId (not stored again: not counted as accepted),
 * and the rejected ones with reasons; or why the batch could not be delivered at all. `warnings` (from
 * {@link deliverBatch}) are the rows stored whose messages hold values identity resolution will not use: none when the
 * collector held every row already. It says how many rows it held, not which, so in a batch that mixed new rows with
 * held ones each warned row may have been stored by an earlier run: `warnedPerhapsBefore` counts those.
 */
export type Delivery =
  | {
      ok: true;
      accepted: number;
      duplicates: number;
      rejects: RejectEntry[];
      warnings?: WarningEntry[];
      warnedPerhapsBefore?: number;
    }
  | {
      ok: false;
      error: string /** The server's answer when it refused the write key (401/403). */;
      keyRefused?: string;
      /** Why the host's 200 was not the collector's answer (see `sendBatch`). */
      notCollector?: string;
    };

export interface DeliverOptions {
  send: SendOptions;
  /** The batch-level context every body carries. */
  context?: Record<string, unknown>;
  /** Validate only: the batch's messages count as accepted and nothing is sent. */
  dryRun: boolean;
  /** Called before each retry with the batch's description (for the log). */
  onRetry?: (what: string, reason: string, delayMs: number, attempt: number, of: number) => void;
}

const entry = (item: BatchItem, error: string): RejectEntry => ({
  row: item.row,
  line: item.line,
  messageId: item.messageId,
  error,
  input: item.input ?? JSON.parse(item.json),
});

/**
 * Delivers `batch` and reports its rows; rejects are in row order, the locally refused ones included.
 *
 * @example const result = await deliverBatch(batch, { send: { url, writeKey }, dryRun: false });
 */
export async function deliverBatch(batch: Batch, options: DeliverOptions): Promise<Delivery> {
  const local: RejectEntry[] = batch.rejects.map((reject) => ({
    row: reject.row,
    line: reject.line,
    messageId: reject.messageId,
    error: reject.error,
    input: reject.input,
    cells: reject.cells,
  }));
  if (options.dryRun || batch.items.length === 0)
    return {
      ok: true,
      accepted: batch.items.length,
      duplicates: 0,
      rejects: local,
      warnings: warnings(batch.items, []),
    };
  const sent = await sendItems(batch.items, `rows ${batch.firstRow}–${batch.lastRow}`, options);
  if (!sent.ok) return sent;
  const rejects = [...local, ...sent.rejects].sort((a, b) => a.row - b.row);
  // Nothing stored (every row held already, or rejected): no row of this run was stored by its other identifiers.
  const warned = sent.accepted === 0 ? [] : warnings(batch.items, sent.rejects);
  return {
    ok: true,
    accepted: sent.accepted,
    duplicates: sent.duplicates,
    rejects,
    warnings: warned,
    ...(sent.duplicates > 0 && warned.length > 0 && { warnedPerhapsBefore: warned.length }),
  };
}

/** The warned rows that were not rejected: a rejected row was not stored, and its reason says enough. */
function warnings(items: readonly BatchItem[], rejects: readonly RejectEntry[]): WarningEntry[] {
  const rejected = new Set(rejects.map((reject) => reject.row));
  return items
    .filter((item) => item.warnings !== undefined && !rejected.has(item.row))
    .map((item) => ({
      row: item.row,
      line: item.line,
      messageId: item.messageId,
      warnings: item.warnings as string[],
      input: item.input ?? JSON.parse(item.json),
    }));
}

async function sendItems(items: BatchItem[], what: string, options: DeliverOptions): Promise<Delivery> {
  const outcome = await sendBatch(batchBody(items, options.context), {
    ...options.send,
    onRetry: (notice) => options.onRetry?.(what, notice.reason, notice.delayMs, notice.attempt, notice.maxAttempts),
  });
  switch (outcome.kind) {
    case "stored": {
      const rejects: RejectEntry[] = [];
      const seen = new Set<number>();
      for (const rejected of outcome.rejected) {
        const item = items[rejected.index];
        if (!item || seen.has(rejected.index)) continue;
        seen.add(rejected.index);
        rejects.push(entry(item, rejected.error.replace(/^batch\[\d+\]: /, "")));
      }
      // The collector counts its duplicates within `accepted` (a Segment client's retry is a success); to the
      // operator a row whose content was dropped is not "accepted". Unless an earlier attempt of this batch may have
      // been stored (answered 429 at the collector's deadline, or cut off): then the rows it holds are most likely
      // this run's, stored once (DESIGN §3), and counting them as held from before would hide them and their warnings.
      const stored = items.length - rejects.length;
      const duplicates = outcome.afterUnclearAttempt ? 0 : Math.min(outcome.duplicates, stored);
      return { ok: true, accepted: stored - duplicates, duplicates, rejects };
    }
    case "refused":
      return { ok: true, accepted: 0, duplicates: 0, rejects: items.map((item) => entry(item, outcome.error)) };
    case "too-large": {
      // Our count says it fits; a server with smaller limits says otherwise: halves until it does.
      if (items.length === 1)
        return { ok: true, accepted: 0, duplicates: 0, rejects: [entry(items[0], outcome.error)] };
      const middle = Math.ceil(items.length / 2);
      const first = await sendItems(items.slice(0, middle), what, options);
      if (!first.ok) return first;
      const second = await sendItems(items.slice(middle), what, options);
      if (!second.ok) return second;
      return {
        ok: true,
        accepted: first.accepted + second.accepted,
        duplicates: first.duplicates + second.duplicates,
        rejects: [...first.rejects, ...second.rejects],
      };
    }
    case "failed":
      return {
        ok: false,
        error: `${what}: ${outcome.error}`,
        ...(outcome.keyRefused && { keyRefused: outcome.error }),
        ...(outcome.notCollector && { notCollector: outcome.error }),
      };
  }
}
