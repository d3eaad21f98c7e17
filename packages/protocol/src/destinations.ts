/**
 * Destinations (DESIGN §7): the admin API's bodies and answers for the places a workspace's audiences are synced to,
 * their sync log and their dead letters. Which `type`s exist and what each one's `config` holds is the Worker's
 * business (its destination plugins): here `config` is any JSON object.
 */
import { z } from "zod";
import { DefinitionKey } from "./audience-definitions";
import { describeValue, isPlainObject, JSON_OBJECT_DOC, type JsonObject } from "./json-object";
import { OPERATIONS_RETENTION_DAYS } from "./limits";
import { pageLimit, quoted } from "./page-limit";
import { isoTime, requestBody } from "./request-body";

/** Trait and computed-trait keys a destination sends with each contact (DESIGN §7). */
export const MAX_DESTINATION_TRAITS = 50;
/** Audiences one destination receives. */
export const MAX_DESTINATION_AUDIENCES = 100;
/** Entries per page of `GET /v1/destinations/{id}/log`: the default and the cap. */
export const DEFAULT_SYNC_LOG_PAGE = 50;
export const MAX_SYNC_LOG_PAGE = 1000;
/** Dead letters per page of `GET /v1/destinations/{id}/dead-letters`: the default and the cap. */
export const DEFAULT_SYNC_DEAD_LETTER_PAGE = 100;
export const MAX_SYNC_DEAD_LETTER_PAGE = 1000;

/** What a secret in `config` reads as: `"…"` then its last 4 characters (or nothing, for a short one). */
export const MASKED_PREFIX = "…";

/** A required, non-blank string of at most `max` characters; its reasons quote the field. */
function requiredText(field: string, max: number) {
  const q = JSON.stringify(field);
  return z
    .string({ error: (issue) => (issue.input === undefined ? `${q} is required` : `${q} must be a string`) })
    .trim()
    .min(1, { error: `${q} must not be empty` })
    .max(max, { error: `${q} must be at most ${max} characters` });
}

/** A list of distinct keys: the same key twice is a mistake worth naming. */
function distinct<T extends z.ZodType<string>>(field: string, item: T, max: number) {
  return z
    .array(item, { error: `"${field}" must be an array of keys` })
    .max(max, { error: `"${field}" must have at most ${max} keys` })
    .superRefine((keys, ctx) => {
      const seen = new Set<string>();
      for (const key of keys) {
        if (seen.has(key)) ctx.addIssue(`"${field}" lists ${quoted(key)} twice`);
        seen.add(key);
      }
    });
}

const name = requiredText("name", 200).meta({ description: "Display name.", example: "HubSpot (sales)" });

const config = z
  .custom<JsonObject>(isPlainObject, {
    error: (issue) =>
      issue.input === undefined
        ? '"config" is required'
        : `"config" must be a JSON object, got ${describeValue(issue.input)}`,
  })
  .meta({
    ...JSON_OBJECT_DOC,
    description:
      "The type's settings (DESIGN §7), e.g. `{url, secret}` for `webhook`. Secrets read back masked (`…abcd`); " +
      "sending a masked value back on `PUT` keeps the stored secret. On `PUT` it is merged key by key into the " +
      "stored config: a key given replaces, a key left out is kept, a key given as `null` is removed.",
    example: { url: "https://hooks.example.com/tessera", secret: "whsec_0123456789abcdef" },
  });

const audiences = distinct("audiences", DefinitionKey, MAX_DESTINATION_AUDIENCES).meta({
  description: "Keys of the workspace's audiences whose members are synced.",
  example: ["lapsed_store_buyers"],
});

const traitKey = z
  .string({ error: "trait keys must be strings" })
  .min(1, { error: "trait keys must not be empty" })
  .max(200, { error: "trait keys must be at most 200 characters" });

const traits = distinct("traits", traitKey, MAX_DESTINATION_TRAITS).meta({
  description: `Profile traits and computed traits sent with each contact, at most ${MAX_DESTINATION_TRAITS}.`,
  example: ["first_name", "city", "ltv"],
});

const enabled = z.boolean({ error: '"enabled" must be true or false' }).meta({
  description:
    "A disabled destination keeps its queued operations and sends nothing; a GDPR erase waits until it is enabled again or deleted.",
});

/** `POST /v1/destinations` */
export const DestinationCreate = requestBody({
  type: requiredText("type", 64).meta({
    description: "`hubspot`, `mailchimp`, `klaviyo`, `marketo` or `webhook` (the deployment's types).",
    example: "webhook",
  }),
  name,
  config,
  audiences,
  traits: traits.optional(),
  enabled: enabled.optional(),
}).meta({ id: "DestinationCreate", description: "A new destination; `enabled` defaults to true." });
export type DestinationCreate = z.infer<typeof DestinationCreate>;

/** `PUT /v1/destinations/{id}`: fields left out keep their value; `type` cannot change. */
export const DestinationUpdate = requestBody({
  name: name.optional(),
  config: config.optional(),
  audiences: audiences.optional(),
  traits: traits.optional(),
  enabled: enabled.optional(),
}).meta({
  id: "DestinationUpdate",
  description:
    "Changes to a destination; fields left out keep their value. `config` is merged key by key into the stored " +
    "one (`null` removes a key).",
});
export type DestinationUpdate = z.infer<typeof DestinationUpdate>;

export const DestinationStatus = z
  .object({
    pending: z.int().nonnegative().meta({ description: "Operations queued, waiting to be sent." }),
    delivered: z.int().nonnegative().meta({ description: "Items the vendor accepted, ever." }),
    failed: z.int().nonnegative().meta({ description: "Items that failed for good (dead-lettered), ever." }),
    skipped: z
      .int()
      .nonnegative()
      .meta({
        description:
          "Items settled without sending, ever: a member with no email (a MAP lists contacts by email), an exit whose " +
          "email another profile keeps listed, a delete of a person the vendor never held. The log says which.",
      }),
    dead_letters: z.int().nonnegative().meta({ description: "Dead letters not replayed yet." }),
    last_success_at: isoTime.nullable(),
    last_error: z
      .string()
      .nullable()
      .meta({
        description:
          "The sync's current problem: the latest error, cleared (null) once a later sync to the destination " +
          "succeeds. The sync log keeps every error.",
      }),
    last_error_at: isoTime.optional().meta({ description: "When `last_error` happened; present with it." }),
    paused_until: isoTime.optional().meta({
      description:
        "Present while sending is paused because the vendor refused the credentials (401/403): nothing is sent " +
        "before then, unless a `PUT` changes `config`, a test of the saved config succeeds or a reconciliation is " +
        "started (`POST /v1/destinations/{id}/reconcile`), which resume at once.",
    }),
  })
  .meta({ id: "DestinationStatus", description: "How the sync to this destination is going." });
export type DestinationStatus = z.infer<typeof DestinationStatus>;

export const Destination = z
  .object({
    id: z.string().meta({ example: "dst_01jq8m4v0c5z2e7k9r3t" }),
    type: z.string(),
    name: z.string(),
    config: z.custom<JsonObject>(isPlainObject).meta({
      ...JSON_OBJECT_DOC,
      description: "The type's settings, secrets masked (`…abcd`).",
    }),
    audiences: z.array(z.string()),
    traits: z.array(z.string()),
    enabled: z.boolean(),
    created_at: isoTime,
    updated_at: isoTime,
    webhook_url: z.string().meta({
      description: "Where this destination's vendor sends engagement (`POST /v1/webhooks/{id}`); keep it secret.",
      example: "https://tessera.example.com/v1/webhooks/dst_01jq8m4v0c5z2e7k9r3t?secret=whsec_…",
    }),
    status: DestinationStatus,
  })
  .meta({ id: "Destination", description: "Where audiences are synced: a MAP or a webhook." });
export type Destination = z.infer<typeof Destination>;

/** `GET /v1/destinations` */
export const DestinationList = z.object({ data: z.array(Destination) }).meta({ id: "DestinationList" });
export type DestinationList = z.infer<typeof DestinationList>;

const cursorParam = z
  .string()
  .refine((cursor) => cursor !== "", "cursor is empty: pass cursor.next from the previous page")
  .optional()
  .meta({ description: "`cursor.next` of the previous page." });

/** `GET /v1/destinations/{id}/log?profile=&limit=&cursor=`; unknown parameters are ignored. */
export const SyncLogQuery = z
  .object({
    profile: z
      .string()
      .refine((profile) => profile !== "", "profile is empty: pass a profile id (prf_…) or type:value")
      .optional()
      .meta({
        description:
          "Only entries about this profile: its id (`prf_…`) or `type:value`, as `GET /v1/profiles/{ref}` takes; a " +
          "merged-away one answers with its survivor's.",
      }),
    limit: pageLimit("Log entries", DEFAULT_SYNC_LOG_PAGE, MAX_SYNC_LOG_PAGE),
    cursor: cursorParam,
  })
  .meta({ id: "SyncLogQuery", description: "Filter and paging of a destination's sync log." });
export type SyncLogQuery = z.infer<typeof SyncLogQuery>;

export const SyncLogEntry = z
  .object({
    at: isoTime,
    profile_id: z.string().meta({
      description:
        'Empty ("") for a failure the vendor reported without saying whose (a Klaviyo bulk import job\'s unnamed ' +
        "failures): `error` says what failed.",
    }),
    audience: z.string().nullable().meta({ description: "Null for a GDPR delete." }),
    action: z.enum(["add", "remove", "upsert", "delete"]),
    outcome: z.enum(["ok", "retry", "fail", "skip"]),
    attempts: z.int().nonnegative(),
    error: z.string().nullable().meta({ description: "Why it was retried, failed or skipped." }),
  })
  .meta({ id: "SyncLogEntry", description: "What the sync engine did with one item." });
export type SyncLogEntry = z.infer<typeof SyncLogEntry>;

const pageCursor = z.object({
  has_more: z.boolean(),
  next: z.string().nullable().meta({ description: "Pass as `cursor` to read the next page; null on the last." }),
});

/** `GET /v1/destinations/{id}/log` — newest first. */
export const SyncLogPage = z.object({ data: z.array(SyncLogEntry), cursor: pageCursor }).meta({
  id: "SyncLogPage",
  description: `A page of a destination's sync log, newest first; entries are kept ${OPERATIONS_RETENTION_DAYS} days.`,
});
export type SyncLogPage = z.infer<typeof SyncLogPage>;

export const DeadLetter = z
  .object({
    id: z.int().positive(),
    profile_id: z.string(),
    error: z.string(),
    created_at: isoTime,
    op: z.custom<JsonObject>(isPlainObject).meta({
      ...JSON_OBJECT_DOC,
      description: "The operation as it was queued; a replay queues it again.",
    }),
  })
  .meta({ id: "DeadLetter", description: "An operation that failed for good or ran out of retries." });
export type DeadLetter = z.infer<typeof DeadLetter>;

/** `GET /v1/destinations/{id}/dead-letters?limit=&cursor=`; unknown parameters are ignored. */
export const DeadLetterQuery = z
  .object({
    limit: pageLimit("Dead letters", DEFAULT_SYNC_DEAD_LETTER_PAGE, MAX_SYNC_DEAD_LETTER_PAGE),
    cursor: cursorParam,
  })
  .meta({ id: "DeadLetterQuery", description: "Paging of a destination's dead letters." });
export type DeadLetterQuery = z.infer<typeof DeadLetterQuery>;

/** `GET /v1/destinations/{id}/dead-letters` — newest first, a page at a time. */
export const DeadLetterList = z
  .object({ data: z.array(DeadLetter), cursor: pageCursor })
  .meta({ id: "DeadLetterList", description: "A page of a destination's dead letters, newest first." });
export type DeadLetterList = z.infer<typeof DeadLetterList>;

/** `POST /v1/destinations/{id}/dead-letters/replay` */
export const DeadLettersReplayed = z
  .object({ replayed: z.int().nonnegative().meta({ description: "Dead letters queued again." }) })
  .meta({ id: "DeadLettersReplayed" });
export type DeadLettersReplayed = z.infer<typeof DeadLettersReplayed>;

/** `POST /v1/destinations/{id}/reconcile?cursor=` */
export const ReconcileQuery = z
  .object({ cursor: cursorParam })
  .meta({ id: "ReconcileQuery", description: "Where a capped reconciliation resumes." });
export type ReconcileQuery = z.infer<typeof ReconcileQuery>;

/** `POST /v1/destinations/{id}/reconcile` → 202 */
export const ReconcileStarted = z
  .object({
    status: z.literal("started"),
    queued: z
      .int()
      .nonnegative()
      .meta({
        description:
          "Repairs queued by this page: entries for intended members the vendor was never sent, exits for profiles " +
          "it still lists after they left.",
      }),
    cursor: pageCursor.meta({
      description: "`has_more` when the per-call cap stopped it: call again with `cursor.next` to go on.",
    }),
  })
  .meta({
    id: "ReconcileStarted",
    description:
      "One page of drift repair (the cron runs the same every minute): intended membership (the audience's members " +
      "now) was compared with what the destination last synced, both ways, and only the differences were queued.",
  });
export type ReconcileStarted = z.infer<typeof ReconcileStarted>;
