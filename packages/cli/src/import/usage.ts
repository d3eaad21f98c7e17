/** `tessera import --help`. */
import { MAX_BATCH_MESSAGES, MAX_MESSAGE_BYTES, MAX_REQUEST_BYTES } from "@tessera/protocol";
import { DEFAULT_BATCH_ROWS, DEFAULT_CONCURRENCY } from "./args";

const kb = (bytes: number) => `${bytes / 1024} KB`;

export const IMPORT_USAGE = `Usage: tessera import <file> --host <url> --write-key <key> [options]

Loads a file of events or people into Tessera through POST /v1/batch.
  .ndjson .jsonl .json   Segment-spec messages, sent as they are but for sentAt, so timestamps stay as written
                         (.json: an array, or one per line)
  .csv .tsv              one message per row, mapped by the options below
  -                      stdin (say --format); any file ending in .gz is gunzipped

Connection
  --host <url>             the Tessera host (or TESSERA_HOST)
  --write-key <key>        the source's write key, sent as HTTP Basic user (or TESSERA_WRITE_KEY)
  --concurrency <n>        batches in flight at most (default ${DEFAULT_CONCURRENCY}); fewer while the server is busy
  --batch-size <rows>      rows per batch at most (default ${DEFAULT_BATCH_ROWS})

CSV mapping (or put the same keys in --map mapping.json)
  --as track|identify      what each row is (default track)
  --event <name>           the event name of every row (track)
  --user-id <column>       the column holding userId: the site's own user ids (a profile holds one, so a POS
                           or CRM customer number is an --external-id)
  --anonymous-id <column>  the column holding anonymousId (a row needs an id: one of these or an external id)
  --email <column>         email: context.traits.email on track, traits.email on identify; a file whose only
                           id is the email needs it as the anonymous id too: --anonymous-id email --email email
  --phone <column>         phone: context.traits.phone on track, traits.phone on identify
  --external-id <type>=<column>
                           another identifier, e.g. loyalty_number=card_no or crm_id=record_id, sent in
                           context.externalIds (repeatable); a row with no user or anonymous id is sent with
                           anonymousId <type>:<value> of its first one that is not a blocked value, the same on
                           every row of that card (none: the row is rejected)
  --timestamp <column>     when it happened: ISO-8601 (a zone-less time is UTC) or epoch s/ms
  --timestamp-format <fmt> how that column is written otherwise, in Luxon's tokens, e.g. "dd.MM.yyyy HH:mm"
                           or "M/d/yyyy h:mm a"; a row that does not match is rejected
  --timezone <zone>        the IANA zone of times written without one, e.g. Europe/Berlin (default UTC)
  --message-id <column>    the idempotency key, one per row, whatever --as or --event (default: a hash of the
                           file name, --as, --event and the row); a row with an empty id, or reusing an earlier
                           row's id for other content, is rejected
  --set <key>=<value>      a constant property/trait on every row, e.g. --set channel=pos (repeatable); a column
                           filling the same one stops the import: --ignore it to send the constant; an empty
                           value is refused (an empty cell is left out, never sent as "")
  --string <column>        keep a column as text even if it looks like a number (repeatable)
  --number <column>        read a column as a number even when written as money: $1,234.50, (12.50), 59,90 €
                           with --decimal-comma; a cell that is no number rejects its row (repeatable)
  --ignore <column>        leave a column out (repeatable)
  --delimiter <char>       the column separator: , ; | tab or another mark (default: the one the header line uses)
  --decimal-comma          numbers are written 12,50 (as spreadsheets save them in much of Europe)
  --skip-lines <n>         lines above the header to pass over (a report's title and date)
  Other columns become properties (track) or traits (identify); one the header leaves unnamed is left out.
  Cells are trimmed; empty cells are left out; true/false become booleans; plain numerals of up to 15 digits
  without a leading zero become numbers (42, -3, 12.50; with --decimal-comma 12,50, and then 12.50 stays text);
  everything else stays text (0042, +4477…, 1e5, 1,000, 4111111111111111). A " inside a cell that is not quoted
  (TV 55" Samsung) is text. One bad row is one rejected row: a row whose quote opens a cell and is not closed on
  it is rejected with its line, and the rows after it are read as they are (a quoted cell holding line breaks
  that is closed stays one cell).
  Rows whose cells are all empty (a spreadsheet's blank rows, saved as ,,) are passed over, and counted.

Runs
  --resume                 continue after <file>.checkpoint.json (rows acknowledged by an earlier run); without it
                           a run starts over, removing that checkpoint with the rejects and warnings files
  --dry-run                validate every row locally and show the first as it would be sent; send nothing
                           (lists rows in <file>.dry-run.rejects.ndjson and .dry-run.warnings.ndjson, leaving a real
                           run's files and checkpoint as they are). Ids are judged by the default identity rules: a row whose
                           only ids are blocked values (0, -1, null, undefined, anonymous) is rejected, as the
                           collector will; a workspace's own rules may block more
  --allow-rejects          exit 0 even when rows were rejected
  --rejects <path>         where rejected rows go (default <file>.rejects.ndjson; stdin: ./stdin.rejects.ndjson;
                           a dry run's: the same name with .dry-run before .rejects.ndjson or its extension)
  --format csv|ndjson|json when the file name does not say (stdin)
  --source-name <name>     the file name hashed into messageIds in place of the input's (without it stdin's rows hash
                           under "stdin"): e.g. --source-name orders.csv for rows piped from orders.csv, so importing
                           them by path and through - stores them once
  --encoding <name>        the file's text encoding when it is not UTF-8, e.g. windows-1252 (what Excel on Windows
                           saves as CSV) or iso-8859-15; UTF-16 with its byte-order mark is found by itself. A file
                           that is not UTF-8 and not told so stops at its first such line, before it is sent
  -h, --help               this text

Batches stay within the collector's limits (${MAX_BATCH_MESSAGES.toLocaleString("en-US")} messages, \
${kb(MAX_REQUEST_BYTES)} of JSON, ${kb(MAX_MESSAGE_BYTES)} per message),
gzipped; 429, 5xx and network errors are retried, honouring Retry-After, and halve the batches in flight
until the server keeps up again.
Rejected rows go to <file>.rejects.ndjson with the reason. Rows stored by their other ids while an email, phone
or id in them is not one identity resolution can use (not an address, no country code, a blocked value) go to
<file>.warnings.ndjson with the values and why. Importing a file twice stores each row once.

Exit codes: 0 done; 1 rows rejected (without --allow-rejects); 2 bad arguments, unreadable input, a
write key the collector refuses on the first request, or a --host whose first answer is not a Tessera collector's;
3 stopped partway (server or network failure, a file that is not valid text or gzip, Ctrl-C): run again with --resume.

Example: a point-of-sale export (its customer number is the till's, not the site's user id)
  receipt_id,customer_id,email,phone,total,items,store,purchased_at
  R-1001,C-42,jane@example.com,+14155550101,59.90,"Mug, large",0042,2024-03-01T10:15:00Z

  tessera import sales.csv --host https://tessera.example.com --write-key wk_live_… \\
    --event "Order Completed" --external-id pos_customer=customer_id --email email --phone phone \\
    --timestamp purchased_at --message-id receipt_id --set channel=pos

Example: an online shop's order export, whose customer_id is the site's user id
  order_id,customer_id,email,total,purchased_at

  tessera import orders.csv --host https://tessera.example.com --write-key wk_live_… \\
    --event "Order Completed" --user-id customer_id --email email --timestamp purchased_at --message-id order_id
`;
