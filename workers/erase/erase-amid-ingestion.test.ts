/**
 * A GDPR erase racing new messages about the same people: a random history is sent, one person is erased while a
 * second history over the same identifiers arrives as many small requests (some naming the person, some linking
 * them to others), the rest of it once the erase has answered. Whatever order the runtime gives them, once
 * everything has answered and the deletion is done: every identifier the person had resolves to nobody and says so,
 * no profile left lists one or holds one of the person's events, no refused link in the journal names one, the graph
 * and the profiles' objects agree on everyone else, and no event is on two profiles. (A message stored on someone
 * else before the erase may still name the person in its body: an identifier the rules kept off that profile, such
 * as a second user id. The erase removes the person's profile, not other people's events.)
 */
import { env } from "cloudflare:workers";
import type { Profile, ProfileErased, ProfileEventsPage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { type DeletionRow, findDeletion } from "../../d1/queries/deletions";
import {
  expectGraphAndProfilesAgree,
  historyThenAnother,
  sendAsSmallRequests,
} from "../test-support/identity-histories";
import { bearer } from "../test-support/seed";
import { api } from "../test-support/store-messages";
import { runDeletion } from "./deletion-job";

const SEEDS = [111866, 198975, 230651, 254408];

describe("a GDPR erase amid new messages", { timeout: 60_000 }, () => {
  it.each(SEEDS)("leaves nothing of the person and everyone else whole (seed %i)", async (seed) => {
    const { ws, first, second, secondMessages, held } = await historyThenAnother(`erase-amid-ingestion-${seed}`, seed);
    const call = (path: string, init?: RequestInit) => api(path, bearer(ws.secretKey), init);

    const victim = first.shuffle([...held])[0];
    const person = await (await call(`/v1/profiles/${victim}`)).json<Profile>();
    const erasedRefs = person.identifiers.map(({ type, value }) => `${type}:${value}`);
    const personsPage = await (await call(`/v1/profiles/${victim}/events?limit=100`)).json<ProfileEventsPage>();
    expect(personsPage.cursor.has_more).toBe(false);
    const personsEvents = personsPage.data.map((e) => e.messageId);
    // Part of the second history races the erase; the rest follows its answer.
    const cut = Math.floor(second.random() * secondMessages.length);
    const delay = Math.floor(first.random() * 20);
    const [erase] = await Promise.all([
      new Promise((resolve) => setTimeout(resolve, delay)).then(() =>
        call(`/v1/profiles/${victim}`, { method: "DELETE" }),
      ),
      sendAsSmallRequests(ws.workspaceId, secondMessages.slice(0, cut)),
    ]);
    await sendAsSmallRequests(ws.workspaceId, secondMessages.slice(cut));
    expect(erase.status, await erase.clone().text()).toBe(202);
    // The cron finishes a run that stopped early (as a loaded machine can make it); here with the cron's own function.
    const { deletion_id } = await erase.json<ProfileErased>();
    let row = (await findDeletion(env.DB, ws.workspaceId, deletion_id)) as DeletionRow;
    while (row.graphAt === null || row.profilesAt === null) row = await runDeletion(env, row);

    for (const ref of erasedRefs) {
      const res = await call(`/v1/profiles/${encodeURIComponent(ref)}`);
      expect(res.status, ref).toBe(404);
      expect((await res.json<{ error: { message: string } }>()).error.message, ref).toMatch(/erased/);
    }
    // A message linking the person to someone else before the erase read the graph made them one person: then
    // both are erased, and what is checked below is everyone left.
    const live = await expectGraphAndProfilesAgree(ws.secretKey, first.identifiers, undefined, "erased amid messages");
    const stored: string[] = [];
    for (const id of live) {
      const profile = await (await call(`/v1/profiles/${id}`)).json<Profile>();
      for (const { type, value } of profile.identifiers) expect(erasedRefs, id).not.toContain(`${type}:${value}`);
      const page = await (await call(`/v1/profiles/${id}/events?limit=100`)).json<ProfileEventsPage>();
      expect(page.cursor.has_more).toBe(false);
      for (const event of page.data) {
        expect(personsEvents, `${id} holds the erased person's ${event.messageId}`).not.toContain(event.messageId);
        stored.push(event.messageId);
      }
    }
    expect(stored.length, "every event on one profile only").toBe(new Set(stored).size);
    const refused = await env.DB.prepare("SELECT type, value FROM dropped_links WHERE workspace_id = ?")
      .bind(ws.workspaceId)
      .all<{ type: string; value: string }>();
    for (const { type, value } of refused.results)
      expect(erasedRefs, "a refused link").not.toContain(`${type}:${value}`);
  });
});
