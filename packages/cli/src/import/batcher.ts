/**
 * Size-aware batching: rows are packed into `POST /v1/batch` bodies as close to the collector's limits as they go
 * (DESIGN §3), counting the exact bytes of the JSON that will be sent. Each batch also carries the rows rejected
 * locally among its rows, so that a batch is a contiguous range of rows (what the checkpoint advances over).
 */
import { MAX_BATCH_MESSAGES, MAX_REQUEST_BYTES } from "@tessera/protocol";

/** Where a row came from, kept for the rejects file: its line and the row as read (CSV record or JSON). */
export interface RowOrigin {
  row: number;
  line?: number;
  input?: unknown;
}

/** A message ready to send: its serialised JSON and that JSON's UTF-8 size. */
export interface BatchItem extends RowOrigin {
  messageId: string;
  json: string;
  bytes: number;
  /** Values in the message identity resolution will not use, and why (see `identifier-check.ts`). */
  warnings?: string[];
}

/** A row refused before sending, with the reason. */
export interface LocalReject extends RowOrigin {
  messageId?: string;
  error: string;
  /** Every cell of a CSV row of another width than the header, which `input` (its record) cannot all hold. */
  cells?: string[];
}

/** Rows `firstRow`…`lastRow`, all of them either in `items` or in `rejects`. */
export interface Batch {
  seq: number;
  firstRow: number;
  lastRow: number;
  items: BatchItem[];
  rejects: LocalReject[];
}

export interface BatcherOptions {
  /** What every body carries besides its messages (the batch-level context). */
  context?: Record<string, unknown>;
  maxBytes?: number;
  maxMessages?: number;
}

/**
 * The request body for `items`: `{"batch":[…],"context":…}`. Messages go in as serialised, never re-encoded.
 *
 * @example batchBody([{ row: 1, messageId: "m", json: '{"type":"identify","userId":"u"}', bytes: 31 }])
 * // '{"batch":[{"type":"identify","userId":"u"}]}'
 */
export function batchBody(items: readonly BatchItem[], context?: Record<string, unknown>): string {
  const tail = context ? `],"context":${JSON.stringify(context)}}` : "]}";
  return `{"batch":[${items.map((item) => item.json).join(",")}${tail}`;
}

/** Serialises a message for a batch. */
export function batchItem(
  origin: RowOrigin & Pick<BatchItem, "warnings">,
  messageId: string,
  message: unknown,
): BatchItem {
  const json = JSON.stringify(message);
  return { ...origin, messageId, json, bytes: Buffer.byteLength(json) };
}

/**
 * Packs rows in order. `add`/`reject` return the batch they closed (the row that did not fit opens the next one),
 * `flush` the last partial batch.
 *
 * @example
 * const batcher = new Batcher();
 * for (const item of items) { const full = batcher.add(item); if (full) send(full); }
 * const last = batcher.flush(); if (last) send(last);
 */
export class Batcher {
  private readonly maxBytes: number;
  private readonly maxMessages: number;
  private readonly overhead: number;
  private seq = 0;
  private open: Batch | null = null;
  private bytes = 0;

  constructor(private readonly options: BatcherOptions = {}) {
    this.maxBytes = options.maxBytes ?? MAX_REQUEST_BYTES;
    this.maxMessages = options.maxMessages ?? MAX_BATCH_MESSAGES;
    this.overhead = Buffer.byteLength(batchBody([], options.context));
  }

  /** The context every body carries (pass it to {@link batchBody}). */
  get context(): Record<string, unknown> | undefined {
    return this.options.context;
  }

  add(item: BatchItem): Batch | null {
    const open = this.open;
    // Separators: one comma between messages.
    const grown = open && open.items.length > 0 ? this.bytes + 1 + item.bytes : this.overhead + item.bytes;
    const fits = open && grown <= this.maxBytes && this.count(open) < this.maxMessages;
    const closed = open && !fits ? this.flush() : null;
    const batch = this.current(item.row);
    this.bytes = batch.items.length > 0 ? this.bytes + 1 + item.bytes : this.overhead + item.bytes;
    batch.items.push(item);
    batch.lastRow = item.row;
    return closed;
  }

  reject(reject: LocalReject): Batch | null {
    // Rejects take no bytes but count, so a file of bad rows still moves the checkpoint in bounded steps.
    const closed = this.open && this.count(this.open) >= this.maxMessages ? this.flush() : null;
    const batch = this.current(reject.row);
    batch.rejects.push(reject);
    batch.lastRow = reject.row;
    return closed;
  }

  flush(): Batch | null {
    const batch = this.open;
    this.open = null;
    this.bytes = 0;
    return batch;
  }

  private current(row: number): Batch {
    this.open ??= { seq: this.seq++, firstRow: row, lastRow: row, items: [], rejects: [] };
    return this.open;
  }

  private count(batch: Batch): number {
    return batch.items.length + batch.rejects.length;
  }
}
