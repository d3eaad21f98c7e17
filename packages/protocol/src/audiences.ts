/**
 * Audiences and computed traits (DESIGN §6): the admin API's bodies and answers, and the membership change a profile
 * sends to `SYNC_QUEUE`. The definitions grammar they carry is in `audience-definitions.ts`; everything a Worker needs
 * for audiences is exported from here.
 */
import { z } from "zod";
import { AudienceDefinition, ComputedTraitDefinition, DefinitionKey } from "./audience-definitions";
import { Identifier } from "./identifiers";
import { JsonObject } from "./json-object";
import { pageLimit } from "./page-limit";
import { isoTime, requestBody } from "./request-body";

export * from "./audience-definitions";
export * from "./audience-grammar";
export * from "./audience-limits";
export * from "./audience-ops";
export { DURATION_PATTERN, durationMs, MAX_WINDOW_MS } from "./durations";
export { type PropertyPath, parsePropertyPath } from "./property-paths";

const text = (field: string, max: number) =>
  z
    .string({ error: `"${field}" must be a string` })
    .max(max, { error: `"${field}" must be at most ${max} characters` });

// Null clears a label: the API answers `"name": null` for none, and takes it back.
const labels = {
  name: text("name", 200).nullable().optional(),
  description: text("description", 2000).nullable().optional(),
};

/** `POST /v1/audiences` */
export const AudienceCreate = requestBody({ key: DefinitionKey, ...labels, definition: AudienceDefinition }).meta({
  id: "AudienceCreate",
  description: "A new audience.",
});
export type AudienceCreate = z.infer<typeof AudienceCreate>;

/** `PUT /v1/audiences/{key}`: a new `definition` bumps `version` and rebuilds membership. */
export const AudienceUpdate = requestBody({ ...labels, definition: AudienceDefinition.optional() }).meta({
  id: "AudienceUpdate",
  description: "Changes to an audience; fields left out keep their value.",
});
export type AudienceUpdate = z.infer<typeof AudienceUpdate>;

/** `POST /v1/computed-traits` */
export const ComputedTraitCreate = requestBody({
  key: DefinitionKey,
  ...labels,
  definition: ComputedTraitDefinition,
}).meta({
  id: "ComputedTraitCreate",
  description: "A new computed trait.",
});
export type ComputedTraitCreate = z.infer<typeof ComputedTraitCreate>;

/** `PUT /v1/computed-traits/{key}` */
export const ComputedTraitUpdate = requestBody({ ...labels, definition: ComputedTraitDefinition.optional() }).meta({
  id: "ComputedTraitUpdate",
  description: "Changes to a computed trait; fields left out keep their value.",
});
export type ComputedTraitUpdate = z.infer<typeof ComputedTraitUpdate>;

export const DefinitionStatus = z
  .object({
    state: z.enum(["building", "ready"]),
    processed: z.int().nonnegative().meta({ description: "Profiles evaluated by the running backfill." }),
    total: z.int().nonnegative().meta({ description: "Profiles the running backfill covers." }),
  })
  .meta({ id: "DefinitionStatus", description: "`building` while a backfill evaluates existing profiles." });
export type DefinitionStatus = z.infer<typeof DefinitionStatus>;

const stored = {
  key: DefinitionKey,
  name: z.string().nullable(),
  description: z.string().nullable(),
  version: z.int().positive().meta({ description: "1 on creation, +1 on each `PUT`." }),
  created_at: isoTime,
  updated_at: isoTime,
  size: z
    .int()
    .nonnegative()
    .meta({
      description:
        "Current members (audiences), or profiles holding a value (computed traits: not null or empty, and not the 0 " +
        "of an empty count or sum).",
    }),
  status: DefinitionStatus,
};

export const Audience = z
  .object({ ...stored, definition: AudienceDefinition })
  .meta({ id: "Audience", description: "A segment of profiles, kept current in real time." });
export type Audience = z.infer<typeof Audience>;

export const ComputedTrait = z
  .object({ ...stored, definition: ComputedTraitDefinition })
  .meta({ id: "ComputedTrait", description: "A per-profile value computed from events, kept current in real time." });
export type ComputedTrait = z.infer<typeof ComputedTrait>;

/** `GET /v1/audiences` */
export const AudienceList = z.object({ data: z.array(Audience) }).meta({ id: "AudienceList" });
export type AudienceList = z.infer<typeof AudienceList>;

/** `GET /v1/computed-traits` */
export const ComputedTraitList = z.object({ data: z.array(ComputedTrait) }).meta({ id: "ComputedTraitList" });
export type ComputedTraitList = z.infer<typeof ComputedTraitList>;

/** `POST /v1/audiences/preview` */
export const AudiencePreviewRequest = requestBody({ definition: AudienceDefinition }).meta({
  id: "AudiencePreviewRequest",
  description: "A definition to try without saving it.",
});
export type AudiencePreviewRequest = z.infer<typeof AudiencePreviewRequest>;

/** `POST /v1/computed-traits/preview` */
export const ComputedTraitPreviewRequest = requestBody({ definition: ComputedTraitDefinition }).meta({
  id: "ComputedTraitPreviewRequest",
  description: "A computed-trait definition to try without saving it.",
});
export type ComputedTraitPreviewRequest = z.infer<typeof ComputedTraitPreviewRequest>;

export const AudiencePreview = z
  .object({
    size: z.int().nonnegative(),
    sample: z.array(z.string()).max(10).meta({ description: "Up to 10 member profile ids." }),
    estimated: z.literal(true).optional().meta({
      description:
        "Present when `size` is estimated: a workspace with more than 2,000 live profiles is previewed on a random run of 2,000 of them.",
    }),
  })
  .meta({ id: "AudiencePreview", description: "How many profiles a definition would hold now, and a few of them." });
export type AudiencePreview = z.infer<typeof AudiencePreview>;

/** `GET /v1/audiences/{key}/members` */
export const AudienceMembersPage = z
  .object({
    data: z.array(z.object({ profile_id: z.string(), since: isoTime })),
    cursor: z.object({
      has_more: z.boolean(),
      next: z.string().nullable().meta({ description: "Pass as `cursor` to read the next page; null on the last." }),
    }),
  })
  .meta({ id: "AudienceMembersPage", description: "A page of an audience's members." });
export type AudienceMembersPage = z.infer<typeof AudienceMembersPage>;

/** Members per page of `GET /v1/audiences/{key}/members` (and of computed traits'): the default and the cap. */
export const DEFAULT_MEMBERS_PAGE = 100;
export const MAX_MEMBERS_PAGE = 1000;

/** `GET /v1/audiences/{key}/members?limit=&cursor=`: the query's text, checked; unknown parameters are ignored. */
export const MembersQuery = z
  .object({
    limit: pageLimit("Members", DEFAULT_MEMBERS_PAGE, MAX_MEMBERS_PAGE),
    cursor: z
      .string()
      .refine((cursor) => cursor !== "", "cursor is empty: pass cursor.next from the previous page")
      .optional()
      .meta({ description: "`cursor.next` of the previous page." }),
  })
  .meta({ id: "MembersQuery", description: "Paging of an audience's (or a computed trait's) members." });
export type MembersQuery = z.infer<typeof MembersQuery>;

/**
 * Sent to `SYNC_QUEUE` when a profile enters (`member: true`) or leaves an audience. Queues neither order nor dedupe,
 * so `seq` (monotonic per profile, across all its audiences) lets the consumer drop a change older than one it has.
 * `at` is when the change took effect: the evaluation's clock for a causing write, or the window boundary.
 */
export const MembershipChange = z
  .object({
    kind: z.literal("membership"),
    workspaceId: z.string(),
    profileId: z.string(),
    audience: DefinitionKey,
    member: z.boolean(),
    seq: z.int().nonnegative(),
    at: isoTime,
    definitionCreatedAt: z.int().nonnegative().optional().meta({
      description:
        "When the definition the change was evaluated under was created (ms since the epoch): an audience deleted and defined again under the same key is another definition, whose destinations must not act on the first one's late change. Absent from changes queued before it was sent.",
    }),
    identifiers: z.array(Identifier),
    traits: JsonObject,
    computed: JsonObject,
  })
  .meta({ id: "MembershipChange", description: "A profile entered or left an audience." });
export type MembershipChange = z.infer<typeof MembershipChange>;

/**
 * What a profile sends to `SYNC_QUEUE`: its audience changes of one delivery in one message, with the profile's
 * identifiers, traits and computed values once (a buyer entering five audiences is one queue operation, not five
 * copies of the same profile). The consumer reads it as the {@link MembershipChange}s it packs.
 */
export const MembershipChanges = z
  .object({
    kind: z.literal("memberships"),
    workspaceId: z.string(),
    profileId: z.string(),
    changes: z
      .array(MembershipChange.pick({ audience: true, member: true, seq: true, at: true, definitionCreatedAt: true }))
      .min(1),
    identifiers: z.array(Identifier),
    traits: JsonObject,
    computed: JsonObject,
  })
  .meta({ id: "MembershipChanges", description: "A profile's audience changes of one delivery." });
export type MembershipChanges = z.infer<typeof MembershipChanges>;

/** The changes `packed` carries, each as a {@link MembershipChange} of its own. */
export function unpackMembershipChanges(packed: MembershipChanges): MembershipChange[] {
  const { changes, ...profile } = packed;
  return changes.map((c) => ({ ...profile, kind: "membership", ...c }));
}
