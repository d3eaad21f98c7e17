/**
 * The Worker's cron (every minute, wrangler.toml `[triggers]`): each enabled destination whose vendor has no push for
 * engagement (Marketo activities, HubSpot email events, Mailchimp campaign activity) polls it through its own object,
 * and every enabled destination takes one bounded step of drift repair (see `reconcile.ts`).
 */
import { syncedDestinations } from "../../d1/queries/destinations";
import { polledDestinations } from "../../d1/queries/sync-records";
import { destinationStub } from "./consumer";
import { POLLED_TYPES } from "./registry";

export async function pollEngagement(env: Env): Promise<void> {
  const due = await polledDestinations(env.DB, POLLED_TYPES);
  const results = await Promise.allSettled(due.map((d) => destinationStub(env, d.id).poll(d.id)));
  for (const [i, r] of results.entries()) {
    if (r.status === "rejected")
      console.error(`polling engagement of ${due[i].id} failed; next minute tries again`, r.reason);
  }
}

/** One reconciliation step per enabled destination with audiences; each resumes where its last tick stopped. */
export async function reconcileDestinations(env: Env): Promise<void> {
  const due = await syncedDestinations(env.DB);
  const results = await Promise.allSettled(due.map((d) => destinationStub(env, d.id).reconcileTick(d.id)));
  for (const [i, r] of results.entries()) {
    if (r.status === "rejected")
      console.error(`reconciling ${due[i].id} failed; the next minute resumes from the same cursor`, r.reason);
  }
}
