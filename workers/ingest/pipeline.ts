/**
 * The ingest pipeline shared by the HTTP routes and the retry consumer: identifiers → identity graph →
 * one Durable Object call per profile → merge folds. Whatever fails comes back as retry jobs, never lost.
 */

import type { AcceptedMessage, Identifier, RejectedMessage } from "@tessera/protocol";
import pLimit from "p-limit";
import pRetry from "p-retry";
import { extractIdentifiers } from "../identity/extract";
import { keyOf } from "../identity/graph-snapshot";
import { type IdentityStore, mergesMaybeWritten, type ResolveInput } from "../identity/identity-store";
import type { IdentityRules } from "../identity/rules";
import { followRedirects } from "../profile/follow-redirects";
import type { ProfileRpc } from "../profile/profile-rpc";
import { ChangeDelivery, type ChangeSink } from "./change-delivery";
import type { IngestJob, SeenIdentifier } from "./retry-jobs";

/** Durable Object calls one request keeps in flight (each is one RPC and one storage commit). */
const PROFILE_CALLS_IN_FLIGHT = 16;

/** Everything the pipeline talks to, handed in so tests can substitute any part. */
export interface IngestDeps {
  loadRules(workspaceId: string): Promise<IdentityRules>;
  /** The workspace's audiences/computed-traits version (briefly cached), so each profile evaluates current ones. */
  definitionsVersion(workspaceId: string): Promise<number>;
  identity: Pick<IdentityStore, "resolve"> & {
    /** A profile's object answered "redirect": point cached identifiers at the survivor. */
    redirect(workspaceId: string, from: string, to: string): void;
    /** A profile's object answered "deleted": stop routing anything to it from cache. */
    forgetProfile(workspaceId: string, profileId: string): void;
    /** A profile's object answered "departed": a merge undo moved these identifiers; stop routing them from cache. */
    forgetIdentifiers(workspaceId: string, ids: readonly Identifier[]): void;
    /**
     * A signed profile cookie vouches that `identifier` belonged to `profileId`: a store with a cache may answer from
     * it without asking D1 (a stale answer is corrected by the profile's object, as for any cached one).
     */
    vouch?(workspaceId: string, identifier: Identifier, profileId: string): void;
  };
  /** A profile's object; `foldIfMerged` may be left out by fakes whose objects keep nothing for later. */
  profile(profileId: string): Pick<ProfileRpc, "ingest" | "mergeInto"> & Partial<Pick<ProfileRpc, "foldIfMerged">>;
  /**
   * Delivers many profiles' membership changes together (see `change-delivery.ts`); left out, each profile's object
   * delivers its own.
   */
  changes?: ChangeSink;
}

/** A message and its position in the request, for `rejected[].index`. */
export interface IndexedMessage {
  index: number;
  message: AcceptedMessage;
}

export interface IngestReport {
  /** Messages refused because no usable identifier was left (blocked values). */
  rejected: RejectedMessage[];
  /** Work that failed and must go to the retry queue before the request may be acknowledged. */
  failed: IngestJob[];
  /** The live profiles the messages were stored in (after any redirect). */
  profileIds: string[];
  /**
   * Identifiers of those messages the graph did not give to their profile: the rules dropped them (limits per type,
   * caps: a shared device). Whoever vouches for an identifier's profile (the profile cookie) must not for these.
   */
  dropped: Identifier[];
  /** Positions (`IndexedMessage.index`) of the messages dropped because they name an erased person: not stored. */
  erased: number[];
  /** Messages their profile already held (a redelivery: stored once, by message id). */
  duplicates: number;
  /**
   * The identity graph or some profile's object refused work the runtime has no room for (`isOverload`): the caller
   * should push back (429) rather than queue, so the sender slows down instead of the backlog growing.
   */
  overloaded: boolean;
}

/** What a failure's log line says of an overload (the caller answers 429, or a queue consumer retries later). */
const OUT_OF_ROOM = " (out of room)";

/**
 * True for a Durable Object failure that says "too much at once" rather than "broken": Cloudflare marks an object
 * that cannot keep up `overloaded`; the local runtime (`wrangler dev`, one process for every object) fails with
 * `SQLITE_NOMEM` once its live objects fill the process-wide SQLite heap, until idle ones are evicted (DESIGN §2,
 * bench/README "5xx"). Retrying at once, or queueing for a consumer that calls the same objects, adds to the load;
 * the remedy is a slower sender.
 */
export function isOverload(err: unknown): boolean {
  // A wrapper's `cause` too: drizzle reports D1's out of memory as "Failed query: …" with D1's error as the cause.
  for (let e = err, depth = 0; typeof e === "object" && e !== null && depth < 4; e = (e as Error).cause, depth++) {
    if ((e as { overloaded?: unknown }).overloaded === true) return true;
    if (e instanceof Error && e.message.includes("SQLITE_NOMEM")) return true;
  }
  return false;
}

/**
 * How workerd shows code a failure inside the runtime that it does not describe. On `wrangler dev` these come amid
 * the process's `SQLITE_NOMEM` bursts (each logged by workerd as its own `sqlite.c++ … SQLITE_NOMEM` line), with no
 * flag set (bench/README, import run J).
 */
const RUNTIME_INTERNAL_ERROR = /^internal error; reference = /;

/**
 * True for a Durable Object failure a second call may not meet: Cloudflare marks such errors `retryable`; an object
 * that was reset (`durableObjectReset`: its code was updated, or it went past its memory) answers the next call from a
 * fresh instance; and the runtime's undescribed internal error is a platform fault, not our code's. Never an overload,
 * which a retry only adds to. What our object's own code throws carries none of these (only `remote`), so it is not
 * made again: it would throw again.
 */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof Error) || isOverload(err)) return false;
  const flags = err as { retryable?: unknown; durableObjectReset?: unknown };
  return flags.retryable === true || flags.durableObjectReset === true || RUNTIME_INTERNAL_ERROR.test(err.message);
}

/**
 * Makes a profile call, and again, twice at most, after 50–100 ms and 200–400 ms (jittered) when it failed transiently,
 * before its work is queued: Cloudflare's advice for calls that are safe to repeat, as an ingest (each message is
 * stored once, by message id) and a fold (a folded profile only redirects) are. Short, as the sender is waiting.
 */
function callProfile<T>(call: () => Promise<T>): Promise<T> {
  return pRetry(call, {
    retries: 2,
    minTimeout: 50,
    factor: 4,
    randomize: true,
    shouldRetry: ({ error }) => isTransient(error),
  });
}

/**
 * Resolves and stores a request's valid, enriched messages. Never throws for a dependency failure:
 * the affected work is returned in `failed` (a D1 failure fails all of it, a Durable Object failure only
 * that profile's messages), and logged unless `quiet` (a caller that reports failures itself: the retry consumer).
 * `retried`: the messages come from a queued resolve job (see `ResolveInput.retried`).
 */
export async function ingestMessages(
  deps: IngestDeps,
  workspaceId: string,
  items: IndexedMessage[],
  {
    askedAgain = false,
    quiet = false,
    retried = false,
  }: { askedAgain?: boolean; quiet?: boolean; retried?: boolean } = {},
): Promise<IngestReport> {
  const rejected: RejectedMessage[] = [];
  const nothing = { failed: [], profileIds: [], dropped: [], erased: [], duplicates: 0, overloaded: false };
  if (items.length === 0) return { rejected, ...nothing };
  /** The identity graph (its rules or the resolve) failed: the whole batch comes back as one resolve job. */
  const graphFailed = (what: string, err: unknown, messages: AcceptedMessage[]): IngestReport => {
    const overloaded = isOverload(err);
    if (!quiet) console.error(`${what}${overloaded ? OUT_OF_ROOM : "; queueing the batch"}`, err);
    const failed: IngestJob[] = [{ kind: "resolve", workspaceId, messages }];
    return { rejected, failed, profileIds: [], dropped: [], erased: [], duplicates: 0, overloaded };
  };
  let rules: IdentityRules;
  try {
    rules = await deps.loadRules(workspaceId);
  } catch (err) {
    return graphFailed(
      "identity rules unavailable",
      err,
      items.map((i) => i.message),
    );
  }

  const inputs: ResolveInput[] = [];
  const kept: Array<{ index: number; message: AcceptedMessage; attributes: SeenIdentifier[]; at: number }> = [];
  for (const { index, message } of items) {
    const extracted = extractIdentifiers(message, rules);
    if (extracted.identifiers.length === 0) {
      const why = extracted.blocked.map(
        (b) => `${b.identifier.type} ${JSON.stringify(b.identifier.value)}: ${b.reason}`,
      );
      rejected.push({
        index,
        messageId: message.messageId,
        error: `batch[${index}]: no usable identifier (${why.join("; ") || "none given"})`,
      });
      continue;
    }
    const at = Date.parse(message.timestamp);
    const input: ResolveInput = { messageId: message.messageId, identifiers: extracted.identifiers, at };
    if (extracted.previousId !== undefined) input.previousId = extracted.previousId;
    if (retried) input.retried = true;
    inputs.push(input);
    kept.push({ index, message, at, attributes: extracted.attributes.map((a) => ({ ...a, firstSeen: at })) });
  }
  if (inputs.length === 0) return { rejected, ...nothing };

  let outcomes: Awaited<ReturnType<IngestDeps["identity"]["resolve"]>>;
  try {
    outcomes = await deps.identity.resolve(workspaceId, rules, inputs);
  } catch (err) {
    await leaveFoldNotes(deps, workspaceId, inputs, err, quiet);
    return graphFailed(
      "identity resolution failed",
      err,
      kept.map((k) => k.message),
    );
  }

  // One Durable Object call per profile, whatever the number of messages.
  const byProfile = new Map<
    string,
    { messages: AcceptedMessage[]; identifiers: Map<string, SeenIdentifier>; graphChecked: boolean }
  >();
  const merges = new Map<string, { from: string; into: string }>();
  const dropped: Identifier[] = [];
  const erased: number[] = [];
  for (const [i, outcome] of outcomes.entries()) {
    // Suppressed: the person asked to be forgotten. A valid message, dropped on purpose.
    if (outcome.kind !== "profile") {
      erased.push(kept[i].index);
      continue;
    }
    let group = byProfile.get(outcome.profileId);
    if (!group) {
      group = { messages: [], identifiers: new Map(), graphChecked: true };
      byProfile.set(outcome.profileId, group);
    }
    if (outcome.cached) group.graphChecked = false;
    const { message, at, attributes } = kept[i];
    group.messages.push(message);
    for (const id of [...outcome.attached, ...attributes]) {
      const key = keyOf(id);
      const seen = group.identifiers.get(key);
      if (!seen) group.identifiers.set(key, { type: id.type, value: id.value, firstSeen: at });
      else if (at < seen.firstSeen) seen.firstSeen = at;
    }
    for (const m of outcome.merged) merges.set(`${m.from}\u0000${m.into}`, m);
    dropped.push(...outcome.dropped);
  }

  const deliveries: Array<{ job: Extract<IngestJob, { kind: "deliver" }>; graphChecked: boolean }> = [];
  for (const [profileId, group] of byProfile)
    deliveries.push({
      job: {
        kind: "deliver",
        workspaceId,
        profileId,
        messages: group.messages,
        identifiers: [...group.identifiers.values()],
      },
      graphChecked: group.graphChecked,
    });
  // A batch of a hundred new people is a hundred new objects: bounded, so one request cannot flood the isolate.
  const slot = pLimit(PROFILE_CALLS_IN_FLIGHT);
  const changes = deps.changes ? new ChangeDelivery(deps.changes, workspaceId) : undefined;
  // Asked once for the whole request, not once per profile: a hundred cache lookups were ~3% of a returning
  // visitor's isolate time (bench/README, "Where the CPU goes"). Awaited in each delivery, so a failure queues each.
  const definitionsVersion = deliveries.length > 0 ? deps.definitionsVersion(workspaceId) : undefined;
  // A failure is handled by the deliveries that await it, after p-limit starts them: not an unhandled rejection.
  definitionsVersion?.catch(() => {});
  const [delivered, folded] = await Promise.all([
    Promise.all(
      deliveries.map(({ job, graphChecked }) =>
        slot(() => deliver(deps, job, { changes, graphChecked, definitionsVersion })),
      ),
    ),
    Promise.all(
      [...merges.values()].map((m) => slot(() => runJob(deps, { kind: "merge", workspaceId, ...m }, { quiet }))),
    ),
  ]);
  await changes?.done();
  const overloaded = delivered.some((d) => d.failure !== undefined && isOverload(d.failure.error));
  if (!quiet) reportFailedDeliveries(delivered, overloaded ? OUT_OF_ROOM : "; queueing");
  const failed = [...delivered.flatMap((d) => d.left), ...folded.flat()];
  const profileIds = delivered.flatMap((d) => (d.left.length === 0 && d.profileId !== null ? [d.profileId] : []));
  const duplicates = delivered.reduce((n, d) => n + (d.duplicates ?? 0), 0);
  const report = { rejected, failed, profileIds, dropped, erased, duplicates, overloaded };

  // Routed by a stale cache or cookie to a profile a merge undo took their identifiers from, or that was erased since:
  // those routes are forgotten now, so the graph answers them this time. Once: a second "departed" is queued.
  const departed = delivered.flatMap((d) => d.departed ?? []);
  if (departed.length > 0 && askedAgain) failed.push({ kind: "resolve", workspaceId, messages: departed });
  if (departed.length > 0 && !askedAgain) {
    const indexOf = new Map(items.map((item) => [item.message, item.index]));
    const again = departed.map((message) => ({ index: indexOf.get(message) as number, message }));
    const second = await ingestMessages(deps, workspaceId, again, { askedAgain: true, quiet, retried });
    report.rejected.push(...second.rejected);
    report.failed.push(...second.failed);
    report.profileIds.push(...second.profileIds);
    report.dropped.push(...second.dropped);
    report.erased.push(...second.erased);
    report.duplicates += second.duplicates;
    report.overloaded ||= second.overloaded;
  }
  return { ...report, profileIds: [...new Set(report.profileIds)] };
}

/**
 * After a resolve that failed having written merges (or maybe: see `ResolveFailedAfterMerging`), each merged-away
 * profile of these messages is told to fold if the graph merged it: the messages' retry finds the profiles already
 * one and would ask for nothing, should the queue refuse them and the client not send them again. Each note is one
 * call to an object, on this failure path only; one that cannot be left is logged (the queued retry still asks).
 */
async function leaveFoldNotes(
  deps: IngestDeps,
  workspaceId: string,
  inputs: readonly ResolveInput[],
  err: unknown,
  quiet: boolean,
): Promise<void> {
  // Every request of a failed group hears of every merge the group wrote: each leaves the notes of its own messages.
  const mine = new Set(inputs.map((input) => input.messageId));
  const losers = new Set(mergesMaybeWritten(err).flatMap((m) => (mine.has(m.messageId) ? [m.from] : [])));
  const left = await Promise.allSettled(
    [...losers].map((profileId) => {
      const profile = deps.profile(profileId);
      return callProfile(async () => {
        await profile.foldIfMerged?.({ profileId, workspaceId });
      });
    }),
  );
  const failed = left.filter((r) => r.status === "rejected");
  if (failed.length > 0 && !quiet)
    console.error(`${failed.length} profiles merged by a failed resolve could not be told to fold`, failed[0].reason);
}

/**
 * Runs one job and returns what is left to retry (nothing when it completed).
 * The retry consumer calls this for queued jobs; the pipeline for fresh ones. `quiet`: failures are not logged here
 * (the retry consumer logs one line for its whole batch).
 */
export async function runJob(
  deps: IngestDeps,
  job: IngestJob,
  { quiet = false }: { quiet?: boolean } = {},
): Promise<IngestJob[]> {
  if (job.kind === "resolve") {
    const report = await ingestMessages(
      deps,
      job.workspaceId,
      job.messages.map((message, index) => ({ index, message })),
      { quiet, retried: true },
    );
    for (const r of report.rejected) console.warn("queued message no longer has a usable identifier; dropped", r);
    return report.failed;
  }
  if (job.kind === "merge") {
    try {
      await callProfile(() =>
        deps.profile(job.from).mergeInto(job.into, { profileId: job.from, workspaceId: job.workspaceId }),
      );
      return [];
    } catch (err) {
      if (!quiet) console.error(`folding ${job.from} into ${job.into} failed; queueing`, err);
      return [job];
    }
  }
  const delivery = await deliver(deps, job);
  if (!quiet) reportFailedDeliveries([delivery], "; queueing");
  const { left, departed } = delivery;
  return departed ? [...left, { kind: "resolve", workspaceId: job.workspaceId, messages: departed }] : left;
}

/**
 * One log line for all of a request's failed deliveries, with the first one's error and `outcome` (why, or what
 * becomes of them), not one line and stack per profile: when the runtime fails many objects at once (the local
 * workerd's SQLite out of memory, bench/README "5xx"), a 250-row import request logged up to 250 stacks, and
 * `wrangler dev`, which source-maps every logged stack, spent a core on them (bench/README, the import section).
 */
function reportFailedDeliveries(
  deliveries: Array<{ profileId: string | null; failure?: { error: unknown } }>,
  outcome: string,
) {
  const failed = deliveries.filter((d) => d.failure);
  const [first] = failed;
  if (!first) return;
  const which =
    deliveries.length === 1 ? `profile ${first.profileId}` : `${failed.length} of ${deliveries.length} profiles`;
  const example = failed.length > 1 ? ` (first: ${first.profileId})` : "";
  console.error(
    `storing into ${which} failed${outcome}${example}${runtimeFlags(first.failure?.error)}`,
    first.failure?.error,
  );
}

/**
 * The flags Cloudflare's runtime sets on a Durable Object call's error (`remote`: thrown by the object's own code;
 * `retryable`, `overloaded`, `durableObjectReset`: by the platform), which the error's printed form leaves out.
 */
function runtimeFlags(err: unknown): string {
  if (typeof err !== "object" || err === null) return "";
  const flags = ["remote", "retryable", "overloaded", "durableObjectReset"].filter(
    (flag) => (err as Record<string, unknown>)[flag] === true,
  );
  return flags.length > 0 ? ` [${flags.join(", ")}]` : "";
}

/**
 * Stores one profile's messages; `left` is what must be retried, `profileId` where they landed (null: deleted, or
 * `departed`: nothing stored, the messages must be resolved again; so too when a profile the graph did not route them
 * to was deleted). With `changes`, the membership changes the commit causes are delivered with other profiles' (else
 * by the object). `graphChecked`: see `IngestInput.graphChecked`.
 * `definitionsVersion`: the request's (asked once for all its profiles); left out, asked here.
 */
async function deliver(
  deps: IngestDeps,
  job: Extract<IngestJob, { kind: "deliver" }>,
  {
    changes,
    graphChecked = false,
    definitionsVersion: version,
  }: { changes?: ChangeDelivery; graphChecked?: boolean; definitionsVersion?: Promise<number> } = {},
): Promise<{
  left: IngestJob[];
  profileId: string | null;
  departed?: AcceptedMessage[];
  failure?: { error: unknown };
  /** Messages the profile already held. */
  duplicates?: number;
}> {
  let profileId = job.profileId;
  try {
    const definitionsVersion = await (version ?? deps.definitionsVersion(job.workspaceId));
    const { result } = await callProfile(() =>
      followRedirects(
        profileId,
        (id) =>
          deps.profile(id).ingest({
            profileId: id,
            workspaceId: job.workspaceId,
            messages: job.messages,
            identifiers: job.identifiers,
            arrivedOn: id === job.profileId ? undefined : job.profileId,
            definitionsVersion,
            handOff: changes !== undefined,
            graphChecked,
          }),
        (from, to) => {
          deps.identity.redirect(job.workspaceId, from, to);
          profileId = to;
        },
      ),
    );
    if (result.status === "stored" && result.outbox) changes?.add(result.outbox);
    if (result.status === "departed") {
      deps.identity.forgetIdentifiers(job.workspaceId, result.identifiers);
      return { left: [], profileId: null, departed: job.messages };
    }
    if (result.status === "stored") return { left: [], profileId, duplicates: result.duplicates };
    if (result.status !== "deleted") return { left: [], profileId };
    deps.identity.forgetProfile(job.workspaceId, profileId);
    // The graph gave these identifiers to the erased profile: they are suppressed, and the messages dropped on purpose.
    // A cache or cookie may only remember a profile that no longer holds them (a merge undo moved them off before
    // the erase): the graph must say whether they are suppressed or whose they are now.
    if (graphChecked) return { left: [], profileId: null };
    return { left: [], profileId: null, departed: job.messages };
  } catch (err) {
    return { left: [{ ...job, profileId }], profileId, failure: { error: err } };
  }
}
