/** Typed access to one profile's Durable Object. */
import type { ProfileRpc } from "./profile-rpc";

/**
 * The stub of profile `profileId`, typed as {@link ProfileRpc}. Creating it does not wake the object.
 *
 * @example
 * const read = await profileStub(env.PROFILE, "prf_123").getProfile();
 * if (read.status === "redirect") return profileStub(env.PROFILE, read.to).getProfile();
 */
export function profileStub(ns: Env["PROFILE"], profileId: string): ProfileRpc {
  // The runtime stub has exactly these methods; the cast only sidesteps the deep Rpc type mapping.
  return ns.getByName(profileId) as unknown as ProfileRpc;
}
