/**
 * An input row → the message to send, with its idempotency key, checked locally by the same `validateMessage` the
 * collector runs, so a bad row is rejected here with the collector's own reason and never costs a request.
 */
import { createHash } from "node:crypto";
import { isPlainObject, validateMessage } from "@tessera/protocol";
import { checkIdentifiers, type IdentifierCheck } from "./identifier-check";
import { CellProblem, type CsvMapping, cellOf, mapCsvRow } from "./map-row";
import type { InputRow } from "./read";

export interface RowMessageOptions {
  /** The input's name as the messageId hash sees it (see {@link sourceNameOf}). */
  sourceName: string;
  /** How CSV rows map; null for JSON input. */
  mapping: CsvMapping | null;
}

export type RowMessage =
  | { ok: true; message: Record<string, unknown>; messageId: string; identifiers: IdentifierCheck }
  | { ok: false; error: string; messageId?: string };

/**
 * The name a file's rows are hashed under unless `--source-name` gives one: its base name without `.gz`, so moving
 * the file or compressing it keeps every messageId; stdin is `stdin`.
 *
 * @example sourceNameOf("/exports/2024/orders.csv.gz") // "orders.csv"
 */
export function sourceNameOf(file: string): string {
  if (file === "-") return "stdin";
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.replace(/\.gz$/i, "");
}

/**
 * A deterministic messageId from what identifies a row: the same row of the same file always gets the same id, so
 * the collector stores it once however many times it is imported.
 *
 * @example contentMessageId(["orders.csv", "track", "Order Completed", '{"receipt":"R1"}']) // "imp-3f0c…" (32 hex)
 */
export function contentMessageId(parts: readonly string[]): string {
  return `imp-${createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 32)}`;
}

/**
 * The message for `row`, or why there is none. The hash covers the message type and event too, so importing one
 * file both as `identify` and as a track event keeps both.
 */
export function rowMessage(row: InputRow, options: RowMessageOptions): RowMessage {
  let message: unknown;
  if (row.kind === "csv") {
    const mapping = options.mapping;
    if (!mapping) throw new Error("a CSV row needs a mapping");
    const record = row.record;
    const hashed = () =>
      contentMessageId([options.sourceName, mapping.as, mapping.event ?? "", JSON.stringify(record)]);
    // A row with no cells was never a message: no id to show for it.
    if (row.problem) return { ok: false, error: row.problem, messageId: row.raw === undefined ? hashed() : undefined };
    try {
      message = mapCsvRow(record, mapping, hashed);
    } catch (err) {
      if (!(err instanceof CellProblem)) throw err;
      // A row whose id cell is empty has none: its rejects entry shows none rather than a hash it was never sent by.
      const messageId =
        mapping.messageId === undefined ? hashed() : cellOf(record, mapping.messageId)?.trim() || undefined;
      return { ok: false, error: err.message, messageId };
    }
  } else {
    if (row.problem) return { ok: false, error: row.problem };
    try {
      message = JSON.parse(row.text);
    } catch (err) {
      return { ok: false, error: `not valid JSON: ${(err as Error).message}` };
    }
    if (isPlainObject(message) && message.messageId == null) {
      message = { ...message, messageId: contentMessageId([options.sourceName, row.text]) };
    }
    // A file's sentAt belongs to the message's first delivery (an archive, an export), not to this one: the collector
    // would read the years since as clock skew and date the event now. Without it, its timestamp is kept as it is.
    if (isPlainObject(message) && "sentAt" in message) {
      const { sentAt: _firstDelivery, ...rest } = message;
      message = rest;
    }
  }
  const messageId = isPlainObject(message) && typeof message.messageId === "string" ? message.messageId : undefined;
  const checked = validateMessage(message, 0);
  if (!checked.ok) return { ok: false, error: checked.error.replace(/^batch\[0\]: /, ""), messageId };
  return {
    ok: true,
    message: message as Record<string, unknown>,
    messageId: messageId as string,
    // Judged on the message as the collector reads it (a blank userId beside an anonymousId left out, numeric ids as text).
    identifiers: checkIdentifiers(checked.message),
  };
}
