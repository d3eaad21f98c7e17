/** Reading a ProfileDO straight through its RPC, for tests that drive objects directly; anything but "ok" throws. */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { AcceptedMessage } from "@tessera/protocol";
import { expect } from "vitest";
import { outboxSize } from "../profile/outbox";
import type { ProfileDO } from "../profile/profile-do";
import { profileStub } from "../profile/profile-stub";
import { eventually } from "./destinations";

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

/** Object `id`'s alarm and its pending outbox rows (membership changes not yet delivered). */
export function outboxStateOf(id: string): Promise<{ alarm: number | null; outbox: number }> {
  return runInDurableObject<ProfileDO, { alarm: number | null; outbox: number }>(
    env.PROFILE.getByName(id),
    async (_o, state) => ({ alarm: await state.storage.getAlarm(), outbox: outboxSize(state.storage.sql) }),
  );
}

/** Waits until object `id` has delivered its outbox (to D1 and the sync queue), which it does by itself. */
export async function outboxDelivered(id: string): Promise<void> {
  await eventually(async () => expect((await outboxStateOf(id)).outbox).toBe(0));
}
