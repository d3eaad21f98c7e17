/**
 * Operations (DESIGN §12): ingest dead letters with their replay, and merge undo. Bodies and answers of
 * `GET /v1/dead-letters`, `POST /v1/dead-letters/replay` and `POST /v1/merges/{id}/undo`.
 */
import { z } from "zod";
import { isPlainObject, JSON_OBJECT_DOC, type JsonObject } from "./json-object";
import { OPERATIONS_RETENTION_DAYS } from "./limits";
import { pageLimit, quoted } from "./page-limit";
import { MergeRecord } from "./profile";
import { isoTime, requestBody } from "./request-body";

/** Dead letters per page of `GET /v1/dead-letters`: the default and the cap (each holds up to ~100 KB of jobs). */
export const DEFAULT_DEAD_LETTER_PAGE = 20;
export const MAX_DEAD_LETTER_PAGE = 100;
/** Dead letters one replay call works through; a larger backlog takes another call (`remaining`). */
export const MAX_REPLAY_PER_CALL = 100;

/** `GET /v1/dead-letters?status=&workspace_id=&limit=&cursor=`; unknown parameters are ignored. */
export const IngestDeadLettersQuery = z
  .object({
    status: z
      .enum(["pending", "replayed", "all"], {
        error: (issue) => `status must be pending, replayed or all, got ${quoted(issue.input)}`,
      })
      .default("pending")
      .meta({
        description: `\`pending\` (not replayed yet, the default), \`replayed\` (kept ${OPERATIONS_RETENTION_DAYS} days after the replay), or \`all\`.`,
      }),
    workspace_id: z
      .string()
      .optional()
      .meta({ description: "Admin token only: one workspace's dead letters (default: every workspace's)." }),
    limit: pageLimit("Dead letters", DEFAULT_DEAD_LETTER_PAGE, MAX_DEAD_LETTER_PAGE),
    cursor: z
      .string()
      .refine((cursor) => cursor !== "", "cursor is empty: pass cursor.next from the previous page")
      .optional()
      .meta({ description: "`cursor.next` of the previous page." }),
  })
  .meta({ id: "IngestDeadLettersQuery", description: "Filter and paging of the ingest dead letters." });
export type IngestDeadLettersQuery = z.infer<typeof IngestDeadLettersQuery>;

/** One queue message of ingest work that failed every retry. */
export const IngestDeadLetter = z
  .object({
    id: z.int().positive(),
    workspace_id: z
      .string()
      .nullable()
      .meta({ description: "Null only for a queue body this version cannot read (listed to the admin token)." }),
    message_ids: z.array(z.string()).meta({ description: "The accepted messages this dead letter holds." }),
    error: z.string().meta({ description: "Why the last attempt failed." }),
    attempts: z.int().nonnegative(),
    created_at: isoTime,
    replayed_at: isoTime.nullable(),
    jobs: z.array(z.custom<JsonObject>(isPlainObject).meta(JSON_OBJECT_DOC)).meta({
      description: "The ingest jobs left to do (`resolve`, `deliver` or `merge`), as the retry queue held them.",
    }),
  })
  .meta({ id: "IngestDeadLetter", description: "Accepted ingest work that failed every retry, kept to be replayed." });
export type IngestDeadLetter = z.infer<typeof IngestDeadLetter>;

/** `GET /v1/dead-letters` — newest first. */
export const IngestDeadLetterPage = z
  .object({
    data: z.array(IngestDeadLetter),
    cursor: z.object({
      has_more: z.boolean(),
      next: z.string().nullable().meta({ description: "Pass as `cursor` to read the next page; null on the last." }),
    }),
  })
  .meta({ id: "IngestDeadLetterPage", description: "A page of ingest dead letters, newest first." });
export type IngestDeadLetterPage = z.infer<typeof IngestDeadLetterPage>;

/** One reason for every id that is not one: `"3"`, `1.5` and `0` alike. */
const NOT_AN_ID = "ids must be dead letter ids (positive integers)";

/** `POST /v1/dead-letters/replay` — `{}` replays every pending dead letter (up to the per-call cap). */
export const IngestDeadLettersReplay = requestBody({
  ids: z
    .array(z.int({ error: NOT_AN_ID }).positive({ error: NOT_AN_ID }), {
      error: "ids must be an array of dead letter ids",
    })
    .min(1, { error: "ids must not be empty: leave it out to replay every pending dead letter" })
    .max(MAX_REPLAY_PER_CALL, { error: `ids must list at most ${MAX_REPLAY_PER_CALL} dead letters` })
    .optional()
    .meta({
      description:
        "The dead letters to replay; left out, pending ones, those tried fewest times first (oldest first among equals), so rows that keep failing do not hold newer ones back.",
    }),
  workspace_id: z
    .string()
    .optional()
    .meta({ description: "Admin token only: replay one workspace's dead letters (default: every workspace's)." }),
}).meta({ id: "IngestDeadLettersReplay", description: "Which dead letters to replay." });
export type IngestDeadLettersReplay = z.infer<typeof IngestDeadLettersReplay>;

/** What one replay call did. */
export const IngestDeadLettersReplayed = z
  .object({
    replayed: z
      .array(z.int().positive())
      .meta({ description: "Dead letters whose work is now stored (or was already): marked replayed." }),
    failed: z
      .array(z.object({ id: z.int().positive(), error: z.string() }))
      .meta({ description: "Dead letters that failed again: still pending, with the new reason." }),
    skipped: z.array(z.int().positive()).meta({
      description:
        "Requested ids that are unknown here or were replayed before, and rows a GDPR erase removed during the replay (nothing done).",
    }),
    remaining: z.int().nonnegative().meta({
      description:
        "Pending dead letters left in scope after this call: call again while above 0 and the last call replayed some (rows that keep failing stay pending: see `failed`).",
    }),
  })
  .meta({ id: "IngestDeadLettersReplayed", description: "The outcome of a replay, per dead letter." });
export type IngestDeadLettersReplayed = z.infer<typeof IngestDeadLettersReplayed>;

/** `POST /v1/merges/{id}/undo` — `{id}` is a merge journal entry's id (`mrg_…`). */
export const MergeIdParams = z
  .object({
    id: z.string().meta({ param: { name: "id", in: "path" }, example: "mrg_8x2k4v0c5z2e7k9r3tqw" }),
  })
  .meta({ id: "MergeIdParams" });

/** The merge, now undone, and the two profiles it split apart. */
export const MergeUndone = z
  .object({
    merge: MergeRecord,
    restored_profile: z.string().meta({ description: "The merged-away profile, live again." }),
    survivor: z.string().meta({ description: "The profile that keeps everything that did not come from it." }),
    identifiers: z.int().nonnegative().meta({ description: "Identifiers that went back to `restored_profile`." }),
    events: z.int().nonnegative().meta({ description: "Events that went back to `restored_profile`." }),
  })
  .meta({ id: "MergeUndone", description: "A merge split out again." });
export type MergeUndone = z.infer<typeof MergeUndone>;
