/** Reading what went to the sync queue in tests: a profile's packed delivery as the single changes it carries. */
import { type MembershipChange, MembershipChanges, unpackMembershipChanges } from "@tessera/protocol";

/** A `vi.spyOn(queue, "sendBatch")`: what it was called with. */
export interface SendBatchSpy {
  mock: { calls: Array<[Iterable<MessageSendRequest<unknown>>, ...unknown[]]> };
}

/** The membership changes among queue message bodies, unpacked, in order (other messages left out). */
export function membershipChangesIn(bodies: Iterable<unknown>): MembershipChange[] {
  const out: MembershipChange[] = [];
  for (const body of bodies) {
    const packed = MembershipChanges.safeParse(body);
    if (packed.success) out.push(...unpackMembershipChanges(packed.data));
    else if ((body as { kind?: string }).kind === "membership") out.push(body as MembershipChange);
  }
  return out;
}

/** The membership changes each `sendBatch` call sent, one list per call. */
export function membershipChangesPerSend(spy: SendBatchSpy): MembershipChange[][] {
  return spy.mock.calls.map((call) => membershipChangesIn([...call[0]].map((m) => m.body)));
}

/** Every membership change the spy's calls sent, in order. */
export function membershipChangesSent(spy: SendBatchSpy): MembershipChange[] {
  return membershipChangesPerSend(spy).flat();
}
