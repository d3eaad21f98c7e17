/**
 * The admin API's request and response bodies: workspaces, sources and their write keys, identity rules, the GDPR
 * delete answer and the local dev seed. The Worker validates requests with these schemas and documents every route
 * with them (`/openapi.json`). A failing field's message names the field; the reasons are a contract (clients and
 * tests match on them): change the text only on purpose.
 */
import { z } from "zod";
import { BUILTIN_IDENTIFIER_TYPES, IDENTIFIER_TYPE_PATTERN, Identifier } from "./identifiers";
import { isPlainObject } from "./json-object";
import { MergeRecord } from "./profile";
import { isoTime, requestBody } from "./request-body";
import { patternProblem } from "./safe-pattern";

const MAX_NAME_LENGTH = 200;

/**
 * A required, non-blank string of at most 200 characters, trimmed, without control characters (they only ever come
 * from a bug or an attack, and break listings and logs). Its reasons quote the field: `"name" is required`.
 */
function requiredText(field: string) {
  const q = JSON.stringify(field);
  return z
    .string({ error: (issue) => (issue.input == null ? `${q} is required` : `${q} must be a string`) })
    .trim()
    .min(1, { error: `${q} must not be empty` })
    .max(MAX_NAME_LENGTH, { error: `${q} must be at most ${MAX_NAME_LENGTH} characters` })
    .regex(/^\P{Cc}*$/u, { error: `${q} must not contain control characters` });
}

/** @example WorkspaceCreate.parse({ name: "Acme" }) */
export const WorkspaceCreate = requestBody({
  name: requiredText("name").meta({ description: "Display name.", example: "Acme" }),
}).meta({ id: "WorkspaceCreate", description: "A new workspace." });
export type WorkspaceCreate = z.infer<typeof WorkspaceCreate>;

export const Workspace = z
  .object({ id: z.string().meta({ example: "ws_01jq8m4v0c5z2e7k9r3t" }), name: z.string(), created_at: isoTime })
  .meta({ id: "Workspace", description: "A tenant: its own sources, keys, profiles and rules." });
export type Workspace = z.infer<typeof Workspace>;

export const Source = z
  .object({ id: z.string().meta({ example: "src_01jq8m4v0c5z2e7k9r3t" }), name: z.string(), created_at: isoTime })
  .meta({ id: "Source", description: "Where events come from (a website, an app, a server); owns write keys." });
export type Source = z.infer<typeof Source>;

/** `POST /v1/workspaces` — the keys are in this answer only: the database keeps their SHA-256. */
export const WorkspaceCreated = z
  .object({
    workspace: Workspace,
    write_key: z.string().meta({ description: "The first source's write key (`wk_…`). Shown once." }),
    secret_key: z.string().meta({ description: "The workspace's secret key (`sk_…`). Shown once." }),
    source: Source,
  })
  .meta({ id: "WorkspaceCreated", description: "A new workspace with its first source and both keys." });
export type WorkspaceCreated = z.infer<typeof WorkspaceCreated>;

/** @example SourceCreate.parse({ name: "website" }) */
export const SourceCreate = requestBody({
  name: requiredText("name").meta({ description: "Display name.", example: "website" }),
}).meta({ id: "SourceCreate", description: "A new source." });
export type SourceCreate = z.infer<typeof SourceCreate>;

/** `POST /v1/sources` and `POST /v1/sources/{id}/keys`: a source and a fresh write key, shown once. */
export const SourceWriteKey = z
  .object({ source: Source, write_key: z.string().meta({ description: "A new write key (`wk_…`). Shown once." }) })
  .meta({ id: "SourceWriteKey", description: "A source and a new write key for it." });
export type SourceWriteKey = z.infer<typeof SourceWriteKey>;

/** A write key as listings show it: never the key, only enough to tell keys apart. */
export const WriteKeySummary = z
  .object({
    prefix: z.string().meta({ description: "The key's first characters.", example: "wk_8Hq2" }),
    created_at: isoTime,
    revoked_at: isoTime.nullable(),
  })
  .meta({ id: "WriteKeySummary", description: "A write key, identified by its prefix." });
export type WriteKeySummary = z.infer<typeof WriteKeySummary>;

/** `GET /v1/sources` — oldest first. */
export const SourceList = z
  .object({ data: z.array(Source.extend({ write_keys: z.array(WriteKeySummary) })) })
  .meta({ id: "SourceList", description: "Every source of the workspace with its write keys, oldest first." });
export type SourceList = z.infer<typeof SourceList>;

/** `DELETE /v1/sources/{id}/keys` */
export const WriteKeysRevoked = z
  .object({ source: Source, revoked: z.int().nonnegative().meta({ description: "How many live keys were revoked." }) })
  .meta({
    id: "WriteKeysRevoked",
    description: "The source's old write keys (or, with `all`, every one) are revoked.",
  });
export type WriteKeysRevoked = z.infer<typeof WriteKeysRevoked>;

/** The body of a request that takes no fields (`POST /v1/secret-keys`, `POST /v1/sources/{id}/keys`); may be left out. */
export const EmptyBody = requestBody({}).meta({
  id: "EmptyBody",
  description: "Nothing: a field sent is refused, not ignored.",
});
export type EmptyBody = z.infer<typeof EmptyBody>;

/** `POST /v1/secret-keys` — 201 */
export const SecretKeyCreated = z
  .object({ secret_key: z.string().meta({ description: "A new secret key (`sk_…`). Shown once." }) })
  .meta({ id: "SecretKeyCreated", description: "A new secret key for the workspace." });
export type SecretKeyCreated = z.infer<typeof SecretKeyCreated>;

/** `DELETE /v1/secret-keys` — 200 */
export const SecretKeysRevoked = z
  .object({ revoked: z.int().nonnegative().meta({ description: "How many secret keys were revoked." }) })
  .meta({ id: "SecretKeysRevoked", description: "Every secret key of the workspace but the caller's is revoked." });
export type SecretKeysRevoked = z.infer<typeof SecretKeysRevoked>;

/** `DELETE /v1/profiles/{ref}` — 202: the data is gone here; destinations delete when the sync queue delivers. */
export const ProfileErased = z
  .object({
    status: z.literal("accepted"),
    deletion_id: z.string().meta({
      description: "The erase job (`GET /v1/deletions/{id}`): recorded before anything was erased, retried until done.",
      example: "del_8x2kq4v0c5z2e7k9r3t1",
    }),
    profile_ids: z.array(z.string()).meta({ description: "The erased profile and every profile merged into it." }),
    suppressed_identifiers: z.int().nonnegative().meta({
      description: "Identifiers now suppressed: later events carrying them are dropped.",
    }),
  })
  .meta({ id: "ProfileErased", description: "A GDPR delete that has been carried out." });
export type ProfileErased = z.infer<typeof ProfileErased>;

/** One identifier the identity rules kept off a profile, and why: the explanation of a shared device or a cap. */
export const DroppedLink = z
  .object({
    id: z.string(),
    profile_id: z.string().meta({ description: "Where the message went." }),
    identifier: Identifier,
    owner_profile: z
      .string()
      .nullable()
      .meta({ description: "The profile that owns `identifier` (the other person), or null when nobody did." }),
    message_id: z.string().nullable(),
    rule: z.string().meta({
      description: "`limit:<type>` (the profile would hold too many of that type), `cap:identifiers` or `cap:merges`.",
    }),
    created_at: isoTime,
  })
  .meta({ id: "DroppedLink", description: "A link the identity rules refused." });
export type DroppedLink = z.infer<typeof DroppedLink>;

/** `GET /v1/profiles/{ref}/merges` — how this profile came to be, and which links were refused. */
export const ProfileMerges = z
  .object({ data: z.array(MergeRecord), dropped_links: z.array(DroppedLink) })
  .meta({ id: "ProfileMerges", description: "The merge journal entries that formed a profile, and refused links." });
export type ProfileMerges = z.infer<typeof ProfileMerges>;

const MAX_PATTERNS = 100;
const MAX_PATTERN_LENGTH = 200;
const MAX_TYPE_LIST = 64;
/** Built-in types come from their own message fields; `group_id` identifies a company, never a person. */
const RESERVED_TRAIT_TYPES: ReadonlySet<string> = new Set(BUILTIN_IDENTIFIER_TYPES);
const TYPE_REASON = "must be an identifier type (lowercase letters, digits, _; starting with a letter)";

function count(min: number, max: number) {
  const error = `must be an integer from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

/**
 * zod skips `__proto__` keys (so no body can reach a prototype), and does so silently. These objects' keys are
 * checked before zod sees them, so every key a client sent is taken or refused by name.
 */
function keysChecked<T extends z.ZodType>(refuse: (key: string) => string | undefined, schema: T) {
  return z.preprocess((input, ctx) => {
    if (!isPlainObject(input)) return input;
    for (const key of Object.keys(input)) {
      const reason = refuse(key);
      if (reason) ctx.issues.push({ code: "custom", message: reason, path: [key], input: input[key] });
    }
    return input;
  }, schema);
}

function typeList(field: "priority" | "promoted_traits") {
  const error = `must be an array of at most ${MAX_TYPE_LIST} identifier types`;
  return z
    .array(z.string({ error: TYPE_REASON }).regex(IDENTIFIER_TYPE_PATTERN, { error: TYPE_REASON }), { error })
    .max(MAX_TYPE_LIST, { error })
    .superRefine((types, ctx) => {
      for (const [i, type] of types.entries()) {
        if (types.indexOf(type) !== i) ctx.addIssue({ code: "custom", message: `lists ${type} twice`, path: [i] });
        else if (field === "promoted_traits" && RESERVED_TRAIT_TYPES.has(type)) {
          const message = `${type} is a built-in identifier and cannot be a promoted trait`;
          ctx.addIssue({ code: "custom", message, path: [i] });
        }
      }
    });
}

const patternsError = `must be an array of at most ${MAX_PATTERNS} regular expressions`;
const patternError = `must be a string of at most ${MAX_PATTERN_LENGTH} characters`;

const countryError = "must be an ISO 3166-1 alpha-2 country code in capitals (GB, US, DE), or null";

/** The settings of a workspace's identity resolution: Segment's "Identity Resolution settings", and phones' country. */
const ruleFields = {
  blocked_values: z
    .array(
      z
        .string({ error: patternError })
        .max(MAX_PATTERN_LENGTH, { error: patternError })
        .superRefine((source, ctx) => {
          const problem = patternProblem(source);
          if (problem) {
            const message = `is not a valid pattern (RE2 syntax: no backreferences or lookaround): ${problem}`;
            ctx.addIssue({ code: "custom", message, input: source });
          }
        }),
      { error: patternsError },
    )
    .max(MAX_PATTERNS, { error: patternsError })
    .meta({
      description:
        "Values that are never identifiers, as regular expressions matched case-insensitively. RE2 syntax " +
        "(linear-time matching): no backreferences or lookaround.",
      example: ["^[0-]*$", "^-1$", "^null$", "^undefined$", "^anonymous$", "^\\[object Object\\]$", "^$"],
    }),
  limits: keysChecked(
    (type) => (IDENTIFIER_TYPE_PATTERN.test(type) ? undefined : "is not a valid identifier type"),
    z.record(z.string(), count(1, 1000), { error: "must be an object of identifier type → count" }),
  ).meta({
    description:
      "How many identifiers of a type one profile may hold. A PUT's map is laid over Segment's (`user_id` 1): " +
      "types it leaves out keep that, or get `default_limit`.",
    example: { user_id: 1 },
  }),
  default_limit: count(1, 1000).meta({ description: "The limit of every type `limits` leaves out.", example: 5 }),
  priority: typeList("priority").meta({
    description:
      "Identifier types, most trusted first: a message that would break a limit drops the lower ones. " +
      "Unlisted types rank after the listed ones, alphabetically.",
    example: ["user_id", "email", "phone", "device_id", "anonymous_id"],
  }),
  promoted_traits: typeList("promoted_traits").meta({
    description: "Trait keys promoted to identifiers of the same name (e.g. `loyalty_id`).",
    example: [],
  }),
  max_merges_per_profile: count(0, 10_000).meta({
    description: "A merge that would give a profile more merges than this is refused.",
    example: 100,
  }),
  max_identifiers_per_profile: count(1, 100_000).meta({
    description: "An attach or merge that would give a profile more identifiers than this is refused.",
    example: 1000,
  }),
  default_country: z
    .string({ error: countryError })
    .regex(/^[A-Z]{2}$/, { error: countryError })
    .nullable()
    .meta({
      description:
        "ISO 3166-1 alpha-2 country of phone numbers written without a country code: with `GB`, `020 7946 0000` " +
        "and `+44 20 7946 0000` are one phone identifier (`+442079460000`). Null (the default): a phone without " +
        "a country code is kept as a trait but is not an identifier.",
      example: "GB",
    }),
};
const RULE_FIELDS = Object.keys(ruleFields);

/** A workspace's identity rules as the API shows them and the database stores them. */
export const IdentityRulesSettings = z
  .object(ruleFields)
  .meta({ id: "IdentityRulesSettings", description: "How identity resolution matches and merges profiles." });
export type IdentityRulesSettings = z.infer<typeof IdentityRulesSettings>;

/**
 * `PUT /v1/identity-rules` (and the stored value): fields left out take Segment's default, so `{}` restores the
 * defaults; unknown fields are refused so a typo never silently does nothing. `is_default` is ignored, so what
 * `GET` answered can be sent back.
 *
 * @example IdentityRulesUpdate.parse({ limits: { user_id: 1, email: 2 }, promoted_traits: ["loyalty_id"] })
 */
export const IdentityRulesUpdate = keysChecked(
  (key) =>
    key === "is_default" || RULE_FIELDS.includes(key) ? undefined : `unknown field (known: ${RULE_FIELDS.join(", ")})`,
  z.strictObject({
    ...IdentityRulesSettings.partial().shape,
    is_default: z
      .boolean({ error: "must be true or false (it is ignored)" })
      .optional()
      .meta({ description: "Ignored." }),
  }),
).meta({ id: "IdentityRulesUpdate", description: "New identity rules; every field left out takes its default." });
export type IdentityRulesUpdate = z.infer<typeof IdentityRulesUpdate>;

/** `GET` and `PUT /v1/identity-rules` */
export const IdentityRulesView = IdentityRulesSettings.extend({
  is_default: z.boolean().meta({ description: "True while the workspace has never changed its rules." }),
}).meta({ id: "IdentityRulesView", description: "The workspace's effective identity rules." });
export type IdentityRulesView = z.infer<typeof IdentityRulesView>;

/** `POST /dev/seed` (local development only): the dev workspace with the keys `npm run dev` prints. */
export const DevSeed = z
  .object({
    workspace_id: requiredText("workspace_id"),
    write_key: requiredText("write_key"),
    secret_key: requiredText("secret_key"),
  })
  .meta({ id: "DevSeed", description: "The ids and keys of the local dev workspace." });
export type DevSeed = z.infer<typeof DevSeed>;

export const DevSeeded = z
  .object({ workspace_id: z.string(), source_id: z.string() })
  .meta({ id: "DevSeeded", description: "The dev workspace exists (created now or before)." });
export type DevSeeded = z.infer<typeof DevSeeded>;
