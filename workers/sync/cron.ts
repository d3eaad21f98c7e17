/**
 * The Worker's cron (every minute, wrangler.toml `[triggers]`): each enabled destination whose vendor has no push for
 * engagement (Marketo activities, HubSpot email events, Mailchimp campaign activity) polls it through its own object.
 */
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
