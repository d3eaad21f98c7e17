/**
 * A `PROFILE` namespace whose objects answer one method through a wrapper around the real call: how a test makes
 * something happen in the world while an object call runs (or fails after it), without touching the objects.
 *
 * @example
 * const lost = profilesCalling(env.PROFILE, "restoreFrom", (restore) => async (input) => {
 *   await restore(input);
 *   throw new Error("the isolate went away");
 * });
 */
import type { ProfileRpc } from "../profile/profile-rpc";

type Method = {
  [K in keyof ProfileRpc]: ProfileRpc[K] extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof ProfileRpc];

export function profilesCalling<M extends Method>(
  real: Env["PROFILE"],
  method: M,
  wrap: (call: ProfileRpc[M], profileId: string) => ProfileRpc[M],
): Env["PROFILE"] {
  const getByName = (name: string) => {
    const stub = real.getByName(name) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    // Called through the stub each time: an RPC stub's property is a remote method, not a function to bind.
    const call = ((...args: unknown[]) => stub[method](...args)) as unknown as ProfileRpc[M];
    const wrapped = wrap(call, name);
    return new Proxy(stub, { get: (target, key) => (key === method ? wrapped : Reflect.get(target, key)) });
  };
  return { getByName } as unknown as Env["PROFILE"];
}
