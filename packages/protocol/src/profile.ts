/** What the profile read API answers (DESIGN §5). Times are ISO-8601. */
import { z } from "zod";
import { Identifier } from "./identifiers";
import { JsonObject } from "./json-object";
import { MAX_EVENT_PAGE_CHARS, MAX_PROFILE_TRAIT_BYTES } from "./limits";
import { AcceptedMessage } from "./messages";

/** `GET /v1/profiles/:ref` — one unified customer. */
export const Profile = z
  .object({
    id: z.string().meta({ description: "`prf_…`" }),
    created_at: z.string(),
    updated_at: z.string(),
    first_seen: z.string(),
    last_seen: z.string(),
    event_count: z.int().nonnegative(),
    identifiers: z.array(Identifier.extend({ first_seen: z.string() })),
    traits: JsonObject.meta({
      description: `The newest value of each key identify calls and \`context.traits\` set; ${MAX_PROFILE_TRAIT_BYTES.toLocaleString("en-US")} bytes of JSON at most together (a value past that is not kept; its event is).`,
    }),
    computed: JsonObject,
    audiences: z.array(z.object({ key: z.string(), since: z.string() })),
    merged_from: z.array(z.string()).meta({ description: "Ids of the profiles merged into this one." }),
  })
  .meta({ id: "Profile", description: "One unified customer: identifiers, traits, computed traits, audiences." });
export type Profile = z.infer<typeof Profile>;

/** `GET /v1/profiles/:ref/events` — newest first, cursor-paginated. */
export const ProfileEventsPage = z
  .object({
    data: z.array(AcceptedMessage),
    cursor: z.object({
      has_more: z.boolean(),
      next: z.string().nullable().meta({ description: "Pass as `cursor` to read the next page; null on the last." }),
    }),
  })
  .meta({
    id: "ProfileEventsPage",
    description:
      "A page of a profile's events, newest first: `limit` of them, or fewer when they are large (a page holds " +
      `${MAX_EVENT_PAGE_CHARS.toLocaleString("en-US")} characters of JSON at most); \`has_more\` says whether more follow.`,
  });
export type ProfileEventsPage = z.infer<typeof ProfileEventsPage>;

/** One entry of the merge journal: `from` was folded into `into` because of `message_id` under `rule`. */
export const MergeRecord = z
  .object({
    id: z.string(),
    from: z.string(),
    into: z.string(),
    message_id: z.string().nullable(),
    rule: z.string(),
    created_at: z.string(),
    undone_at: z.string().nullable().optional().meta({
      description: "When the merge was undone (`POST /v1/merges/{id}/undo`); null while it stands.",
    }),
  })
  .meta({ id: "MergeRecord", description: "Why two profiles became one: an entry of the merge journal." });
export type MergeRecord = z.infer<typeof MergeRecord>;
