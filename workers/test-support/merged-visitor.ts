/**
 * The merge the merge-undo tests start from, and the undo that stops half-way through it.
 */
import { env } from "cloudflare:workers";
import { identityStoreFor } from "../identity/cached-identity-store";
import { identify, track } from "./messages";
import { profilesCalling } from "./profile-calls";
import { seedWorkspace } from "./seed";
import { store } from "./store-messages";
import { uid } from "./worker-requests";

/**
 * A new workspace where Sam logged in (user id), an anonymous visitor added to cart, and a checkout carrying both ids
 * merged the visitor's profile into Sam's; with the messages and the merge's journal entry.
 */
export async function visitorMergedIntoSam(workspaceName: string) {
  const ws = await seedWorkspace(workspaceName);
  const [user, anon] = [uid("u"), uid("a")];
  const login = identify({ name: "Sam" }, "2026-01-01T00:00:00.000Z", { userId: user });
  const cart = track("Added to Cart", "2026-01-02T00:00:00.000Z", { anonymousId: anon });
  const checkout = track("Checkout", "2026-01-03T00:00:00.000Z", { anonymousId: anon, userId: user });
  const [sam, visitor] = (await store(ws.workspaceId, [login, cart, checkout])) as string[];
  const [merge] = await identityStoreFor(env).mergesInto(ws.workspaceId, sam);
  return { ws, login, cart, checkout, sam, visitor, merge };
}

/** `real`, whose restores answer "the isolate went away" once the object has restored itself. */
export const lostAfterRestore = (real: Env["PROFILE"]) =>
  profilesCalling(real, "restoreFrom", (restore) => async (input) => {
    await restore(input);
    throw new Error("the isolate went away");
  });
