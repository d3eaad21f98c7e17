/** Shorthands for identity tests: `input("m1", "anonymous_id:a", "user_id:u")`. */
import type { Identifier } from "@tessera/protocol";
import type { ResolveInput, ResolveOutcome } from "../identity/identity-store";

export const id = (ref: string): Identifier => {
  const at = ref.indexOf(":");
  return { type: ref.slice(0, at), value: ref.slice(at + 1) };
};

export const input = (messageId: string, ...refs: string[]): ResolveInput => ({
  messageId,
  identifiers: refs.map(id),
  at: 1_700_000_000_000,
});

/** The profile an outcome landed on; fails the test when the message was suppressed. */
export function profileOf(outcome: ResolveOutcome): string {
  if (outcome.kind !== "profile") throw new Error(`expected a profile, got ${JSON.stringify(outcome)}`);
  return outcome.profileId;
}
