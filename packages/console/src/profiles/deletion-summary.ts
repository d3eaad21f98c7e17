/**
 * What the console says about a GDPR erase (DESIGN §12): the job the delete started, as `GET /v1/deletions/{id}`
 * answers it. A delete is a request until every step is done (destinations delete at their vendor later), so the
 * console never says "deleted" before the job does.
 */
import type { Deletion, Profile } from "@tessera/protocol";

/** A deletion id as the API makes them (`del_` and base32): anything else in the URL is not read, nor shown. */
export function isDeletionId(text: unknown): text is string {
  return typeof text === "string" && /^del_[a-z0-9]{1,64}$/i.test(text);
}

/**
 * @example deletionSummary(pending) // "Deletion of prf_1 requested: pending (done: graph, profiles; waiting: destinations)."
 */
export function deletionSummary(d: Deletion): string {
  if (d.status === "done") return `Profile ${d.profile_id} was deleted: every step is done.`;
  const done = d.steps.filter((s) => s.status === "done").map((s) => s.name);
  const waiting = d.steps.filter((s) => s.status === "pending").map((s) => s.name);
  const steps = [done.length > 0 ? `done: ${done.join(", ")}` : "", `waiting: ${waiting.join(", ")}`]
    .filter(Boolean)
    .join("; ");
  return `Deletion of ${d.profile_id} requested: pending (${steps}).`;
}

/** Who a profile is, for a question about erasing it: an email, else a user id, else any identifier it has. */
export function personName(p: Pick<Profile, "id" | "identifiers">): string {
  const pick = (type: string) => p.identifiers.find((i) => i.type === type)?.value;
  const email = pick("email");
  if (email) return email;
  const userId = pick("user_id");
  if (userId) return `user id ${userId}`;
  const any = p.identifiers[0];
  return any ? `${any.type} ${any.value}` : p.id;
}
