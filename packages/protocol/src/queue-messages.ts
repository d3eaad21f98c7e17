/**
 * Bodies of the Worker's queue messages. They outlive deploys (a message sent by one version may be consumed by
 * the next), so their shapes are a contract like the HTTP ones: add optional fields, never repurpose one.
 */
import { z } from "zod";
import { Identifier } from "./identifiers";
import { AcceptedMessage } from "./messages";

/** An identifier a message carried, with when it was first seen (epoch ms). */
export const SeenIdentifier = Identifier.extend({ firstSeen: z.number() }).meta({
  id: "SeenIdentifier",
  description: "An identifier and when it was first seen (epoch ms).",
});
export type SeenIdentifier = z.infer<typeof SeenIdentifier>;

/**
 * Work the collector could not finish when a dependency failed, on the ingest retry queue:
 * `resolve` (identity was not resolved: replay the whole pipeline), `deliver` (identity was resolved; only the
 * write into the profile's Durable Object failed), `merge` (the graph merged `from` into `into`, but folding
 * `from`'s Durable Object failed).
 */
export const IngestJob = z
  .discriminatedUnion("kind", [
    z.object({ kind: z.literal("resolve"), workspaceId: z.string(), messages: z.array(AcceptedMessage) }),
    z.object({
      kind: z.literal("deliver"),
      workspaceId: z.string(),
      profileId: z.string(),
      messages: z.array(AcceptedMessage),
      identifiers: z.array(SeenIdentifier),
    }),
    z.object({ kind: z.literal("merge"), workspaceId: z.string(), from: z.string(), into: z.string() }),
  ])
  .meta({ id: "IngestJob", description: "A retry of ingestion work; every kind is idempotent." });
export type IngestJob = z.infer<typeof IngestJob>;

/**
 * A GDPR delete for every destination to carry out too: the erased profile and every profile merged into it, and
 * every identifier they held (now suppressed). The erase job hands it to each destination's object; the sync queue's
 * consumer still reads the ones queued before it did (one such message could not carry a person's 1,000 identifiers).
 */
export const SyncDeleteMessage = z
  .object({
    kind: z.literal("delete"),
    workspaceId: z.string(),
    profileIds: z.array(z.string()),
    identifiers: z.array(Identifier),
  })
  .meta({ id: "SyncDeleteMessage", description: "Tells destinations to delete a person." });
export type SyncDeleteMessage = z.infer<typeof SyncDeleteMessage>;

/** The definition whose build status a backfill reports on; null when nothing reports (a deleted definition). */
const backfillTarget = z
  .object({
    kind: z.enum(["audience", "computed_trait"]),
    key: z.string(),
    /** The build's run: a stalled build runs again from the start, and only its newest run's pages count. */
    run: z.int().nonnegative().default(0),
  })
  .nullable();

/**
 * On the backfill queue: list the next live profiles of the workspace after `after` (null: from the first), enqueue
 * a {@link BackfillPage} per slice of them, and the next plan if more may follow.
 */
export const BackfillPlan = z
  .object({
    kind: z.literal("backfill-plan"),
    workspaceId: z.string(),
    /** The `definitions_version` the profiles must be evaluated with, at least. */
    buildVersion: z.number().int(),
    target: backfillTarget,
    after: z.string().nullable(),
    /** Profiles the earlier plans of this backfill listed: the last plan settles the target's total with it. */
    listed: z.int().nonnegative().default(0),
  })
  .meta({ id: "BackfillPlan", description: "Lists the next live profiles of a backfill and enqueues their pages." });
export type BackfillPlan = z.infer<typeof BackfillPlan>;

/** On the backfill queue: evaluate these profiles again, then count them towards the target's build progress. */
export const BackfillPage = z
  .object({
    kind: z.literal("backfill-page"),
    workspaceId: z.string(),
    buildVersion: z.number().int(),
    target: backfillTarget,
    profileIds: z.array(z.string()),
    /** How many times these profiles failed before: a page of the failed ones is sent again, with backoff. */
    attempt: z.int().nonnegative().default(0),
  })
  .meta({ id: "BackfillPage", description: "Profiles to evaluate again; running it twice changes nothing." });
export type BackfillPage = z.infer<typeof BackfillPage>;

/** Any message of the backfill queue. */
export const BackfillMessage = z
  .discriminatedUnion("kind", [BackfillPlan, BackfillPage])
  .meta({ id: "BackfillMessage", description: "A step of a backfill: a plan or a page." });
export type BackfillMessage = z.infer<typeof BackfillMessage>;
