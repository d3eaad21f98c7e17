/**
 * What the sync engine queues in a destination's object: one operation per profile and audience (a membership) or
 * per profile (a GDPR delete). Coalescing keeps only the newest `seq` of each, so the vendor sees the latest state.
 */
import type { ProfileSnapshot } from "./plugin";

export type SyncOp =
  | {
      kind: "membership";
      profileId: string;
      audience: string;
      member: boolean;
      /** The profile's change sequence (MembershipChange.seq): a lower one never overwrites a higher one. */
      seq: number;
      at: string;
      /**
       * When the audience's definition the change was evaluated under was created (`MembershipChange`): the drain
       * drops an entry of a definition deleted since, even when one of the same key was defined again. Absent from
       * repairs (they read the current definition's members) and from changes queued before profiles sent it.
       */
      definitionCreatedAt?: number;
      email?: string;
      /** The destination's selected traits and computed traits, Segment-named. */
      traits: Record<string, unknown>;
      profile: ProfileSnapshot;
      /**
       * Queued by reconciliation, which knows the state but not always the change's own `seq`: sent even when the
       * object recorded that seq as synced, but never in place of an operation already waiting (that one is newer).
       */
      repair?: true;
      /**
       * A repair that restates the traits of a member the vendor lists, after the destination selected more traits
       * (see `trait-restatement.ts`): sent as an upsert of that contact, never as a listing, and only while the
       * object still records the member listed at `seq` (nothing newer happened to it since it was read).
       */
      restate?: true;
      /**
       * The vendor has the contact with these traits already (the upsert before listing succeeded, the list call did
       * not): a retry only lists it, so a throttled list call never costs the upsert again.
       */
      upserted?: true;
    }
  | {
      kind: "delete";
      profileId: string;
      /** Profiles merged into `profileId` and erased with it: forgotten by the destination too. */
      mergedProfileIds?: string[];
      /** One email of the person: set by the consumer of earlier versions (one delete per email); kept readable. */
      email?: string;
      identifiers: Array<{ type: string; value: string }>;
    };

export type MembershipSyncOp = Extract<SyncOp, { kind: "membership" }>;

/** The coalescing key of an operation within one destination: deletes have no audience. */
export function opAudience(op: SyncOp): string {
  return op.kind === "membership" ? op.audience : "";
}

/**
 * Of `values`, only the keys a destination selects now (its `traits`), in their own order: a trait the destination no
 * longer selects is never sent. (One it newly selects reaches its listed members through `trait-restatement.ts`.)
 *
 * @example
 * onlySelected(new Set(["first_name"]), { first_name: "Ann", lifetime_value: 42 }); // → { first_name: "Ann" }
 */
export function onlySelected(wanted: ReadonlySet<string>, values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([key]) => wanted.has(key)));
}

/** The destination's selected traits of a profile, Segment-named: a computed trait wins over a profile trait. */
export function selectedTraits(
  wanted: Iterable<string>,
  traits: Record<string, unknown>,
  computed: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of wanted) {
    if (Object.hasOwn(computed, key)) out[key] = computed[key];
    else if (Object.hasOwn(traits, key)) out[key] = traits[key];
  }
  return out;
}

/**
 * The email a MAP knows the profile by, trimmed and lowercased: its `email` trait when that is one of its email
 * identifiers (the address the person gave last), else its newest email identifier. A profile keeps the addresses it
 * replaced (up to the rules' limit, 5 by default), oldest first: the first of them would keep a win-back mail going
 * to an address the person gave up.
 */
export function contactEmail(
  identifiers: ReadonlyArray<{ type: string; value: string }>,
  traits: Readonly<Record<string, unknown>>,
): string | undefined {
  const emails = identifiers.filter((i) => i.type === "email").map((i) => i.value.trim().toLowerCase());
  const given = typeof traits.email === "string" ? traits.email.trim().toLowerCase() : undefined;
  return given !== undefined && emails.includes(given) ? given : emails.at(-1);
}
