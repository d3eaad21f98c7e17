/**
 * `<file>.warnings.ndjson`: rows the run stored (or, in a dry run, found valid) with a value identity resolution will
 * not use as an identifier — an email that is no address, a phone without a country code, a blocked value such as user
 * id `0` — one line each, `{"row","line","messageId","warnings":[…],"input"}`. The row was linked by its other
 * identifiers; the refused value stays in the traits as sent. Kept apart from the rejects file, which lists rows not
 * stored. A row the collector already held (a file imported again) is not listed: nothing of it was stored.
 */

export interface WarningEntry {
  row: number;
  line?: number;
  messageId: string;
  /** Each refused value and why, e.g. `email "jane@": email is not an address (nothing after the @)`. */
  warnings: string[];
  input: unknown;
}

/** @example warningsPath("crm.csv") // "crm.csv.warnings.ndjson"; stdin's go to the working directory */
export const warningsPath = (file: string): string =>
  file === "-" ? "stdin.warnings.ndjson" : `${file}.warnings.ndjson`;
