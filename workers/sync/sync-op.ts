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
      email?: string;
      /** The destination's selected traits and computed traits, Segment-named. */
      traits: Record<string, unknown>;
      profile: ProfileSnapshot;
    }
  | {
      kind: "delete";
      profileId: string;
      email?: string;
      identifiers: Array<{ type: string; value: string }>;
    };

/** The coalescing key of an operation within one destination: deletes have no audience. */
export function opAudience(op: SyncOp): string {
  return op.kind === "membership" ? op.audience : "";
}
