/**
 * GDPR erase as a durable job (DESIGN §12): `DELETE /v1/profiles/{ref}` records a deletion before anything is
 * erased, then carries out its steps until each is done; `GET /v1/deletions/{id}` shows where it stands.
 */
import { z } from "zod";
import { isoTime } from "./request-body";

/** The steps of an erase, in the order they run. */
export const DELETION_STEPS = ["graph", "profiles", "memberships", "dead_letters", "destinations"] as const;
export type DeletionStepName = (typeof DELETION_STEPS)[number];

const STEP_DESCRIPTIONS: Record<DeletionStepName, string> = {
  graph: "identifiers removed from the identity graph and suppressed (stored as keyed hashes)",
  profiles: "each profile's Durable Object wiped (events, traits, identifiers)",
  memberships: "audience memberships removed",
  dead_letters:
    "the profiles' messages taken out of the workspace's ingest dead letters, and their sync dead letters deleted " +
    "(both hold personal data: the messages, the email and traits sent)",
  destinations:
    "every destination has deleted the person at its vendor (or never held them, or was deleted itself); until " +
    "then `last_error` names each destination the job waits for and why, a dead-lettered delete included, and the " +
    "job hands it its delete again",
};

export const DeletionStep = z
  .object({
    name: z.enum(DELETION_STEPS).meta({
      description: DELETION_STEPS.map((s) => `\`${s}\`: ${STEP_DESCRIPTIONS[s]}`).join("; "),
    }),
    status: z.enum(["pending", "done"]),
    done_at: isoTime.nullable(),
  })
  .meta({ id: "DeletionStep", description: "One step of a GDPR erase." });
export type DeletionStep = z.infer<typeof DeletionStep>;

/** `GET /v1/deletions/{id}` — 200. */
export const Deletion = z
  .object({
    id: z.string().meta({ example: "del_8x2kq4v0c5z2e7k9r3t1" }),
    status: z.enum(["pending", "done"]).meta({
      description: "`done` once every step is; `pending` steps are retried (with backoff) until they are.",
    }),
    profile_id: z.string().meta({ description: "The profile the request named." }),
    profile_ids: z.array(z.string()).meta({
      description: "The erased profile and every profile merged into it (empty until the `graph` step is done).",
    }),
    suppressed_identifiers: z.int().nonnegative().meta({
      description: "Identifiers suppressed by the `graph` step (0 until it is done).",
    }),
    steps: z.array(DeletionStep),
    attempts: z.int().nonnegative().meta({ description: "Runs of the job that failed part-way." }),
    last_error: z.string().nullable().meta({
      description:
        "Why the last failed run stopped, or which destinations have not deleted the person yet and why (null once done).",
    }),
    next_attempt_at: isoTime.nullable().meta({ description: "When a pending job runs again; null once done." }),
    created_at: isoTime,
    completed_at: isoTime.nullable(),
  })
  .meta({ id: "Deletion", description: "A GDPR erase and where it stands." });
export type Deletion = z.infer<typeof Deletion>;
