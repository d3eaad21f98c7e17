/**
 * The Worker's cron (every minute, wrangler.toml `[triggers]`): each enabled destination whose vendor has no push for
 * engagement (Marketo activities, HubSpot email events, Mailchimp campaign activity) polls it through its own object,
 * and every enabled destination takes one bounded step of drift repair (see `reconcile.ts`); past
 * {@link DESTINATIONS_PER_MINUTE} destinations, each minute a rotating share of them.
 */
import { syncedDestinations } from "../../d1/queries/destinations";
import { polledDestinations } from "../../d1/queries/sync-records";
import { destinationStub } from "./consumer";
import { POLLED_TYPES } from "./registry";

/**
 * Destinations one cron invocation calls per task (polls, reconciliation steps). Every call is a subrequest of that
 * one invocation (10,000 at most on Cloudflare's paid plan) and the cron runs both tasks and more: past this many, each
 * minute takes a rotating share, so every destination is still visited, every ⌈n / 1,000⌉ minutes.
 */
export const DESTINATIONS_PER_MINUTE = 1_000;

/** This minute's share of `all` (in a stable order): all of them up to `cap`; past it, every ⌈n / cap⌉-th one. */
export function minuteShare<T>(all: readonly T[], minute: number, cap = DESTINATIONS_PER_MINUTE): T[] {
  const slices = Math.ceil(all.length / cap);
  if (slices <= 1) return [...all];
  const slice = minute % slices;
  return all.filter((_, i) => i % slices === slice);
}

const minuteOf = (now: number) => Math.floor(now / 60_000);

export async function pollEngagement(env: Env, now = Date.now()): Promise<void> {
  const due = minuteShare(await polledDestinations(env.DB, POLLED_TYPES), minuteOf(now));
  const results = await Promise.allSettled(due.map((d) => destinationStub(env, d.id).poll(d.id)));
  for (const [i, r] of results.entries()) {
    if (r.status === "rejected")
      console.error(`polling engagement of ${due[i].id} failed; next minute tries again`, r.reason);
  }
}

/** One reconciliation step per enabled destination with audiences; each resumes where its last tick stopped. */
export async function reconcileDestinations(env: Env, now = Date.now()): Promise<void> {
  const due = minuteShare(await syncedDestinations(env.DB), minuteOf(now));
  const results = await Promise.allSettled(due.map((d) => destinationStub(env, d.id).reconcileTick(d.id)));
  for (const [i, r] of results.entries()) {
    if (r.status === "rejected")
      console.error(`reconciling ${due[i].id} failed; the next minute resumes from the same cursor`, r.reason);
  }
}
