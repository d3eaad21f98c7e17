/** Reading a ProfileDO straight through its RPC, for tests that drive objects directly; anything but "ok" throws. */
import { env } from "cloudflare:workers";
import type { AcceptedMessage } from "@tessera/protocol";
import { profileStub } from "../profile/profile-stub";

/** The profile view of object `id`. */
export async function profileOf(id: string) {
  const read = await profileStub(env.PROFILE, id).getProfile();
  if (read.status !== "ok") throw new Error(`profile ${id}: ${read.status}`);
  return read.profile;
}

/** Every event object `id` holds (up to 1,000), newest first. */
export async function storedEventsOf(id: string): Promise<AcceptedMessage[]> {
  const read = await profileStub(env.PROFILE, id).listEvents({ limit: 1000 });
  if (read.status !== "ok") throw new Error(`profile ${id}: ${read.status}`);
  return read.page.data;
}
