/**
 * `<file>.rejects.ndjson`: the rows not stored, one line each, `{"row","line","messageId","error","input"}`, where
 * `input` is the row as read (the CSV record, or the JSON message), and `cells` every field of a CSV row whose number
 * of fields is not the header's (a record has no name for the extra ones).
 */

export interface RejectEntry {
  row: number;
  line?: number;
  messageId?: string;
  error: string;
  input: unknown;
  cells?: string[];
}

/** @example rejectsPath("orders.csv") // "orders.csv.rejects.ndjson"; stdin's go to the working directory */
export const rejectsPath = (file: string): string => (file === "-" ? "stdin.rejects.ndjson" : `${file}.rejects.ndjson`);
