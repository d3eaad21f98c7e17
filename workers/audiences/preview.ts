/**
 * Trying a definition before saving it (`POST /v1/audiences/preview`, `POST /v1/computed-traits/preview`): the
 * workspace's live profiles (a random run of them in a large workspace) evaluate it against their current state, each
 * in its own Durable Object, and nothing is stored anywhere.
 */
import type { AudienceDefinition, AudiencePreview, ComputedTraitDefinition } from "@tessera/protocol";
import pLimit from "p-limit";
import { newId } from "../../d1/ids";
import { countLiveProfiles, liveProfileIds } from "../../d1/queries/profiles";
import type { PreviewInput } from "../profile/profile-rpc";
import { profileStub } from "../profile/profile-stub";
import { currentDefinitionsVersion } from "./definitions-cache";

/** What is previewed: an audience, or a computed trait. */
export type PreviewDefinition = { audience: AudienceDefinition } | { computedTrait: ComputedTraitDefinition };

/** Profile ids read from D1 per page. */
const PAGE = 500;
/** Durable Object calls in flight at once: enough to overlap their latency, few enough for a Worker's connections. */
const CONCURRENCY = 50;
const SAMPLE_SIZE = 10;
/**
 * Profiles one preview evaluates at most. Each is a Durable Object call, and a Worker request may make 10,000
 * subrequests; a workspace with more live profiles gets an estimate from a random run of this many.
 */
const EVALUATE_AT_MOST = 2_000;

/**
 * How many live profiles `definition` would hold now (members of an audience; profiles holding a computed value,
 * as the trait's `size` counts them), and the first of them in profile-id order. Exact up to `evaluateAtMost` live
 * profiles; past it, `size` is estimated (`estimated: true`) from that many consecutive profile ids after a random
 * id (ids are random, so a run of them is a random sample) and `sample` comes from them. A profile merged away or
 * erased while the preview runs is left out (its survivor is a live profile of its own page).
 *
 * @example await previewDefinition(env, "ws_…", { audience: { event: "Order Completed", within: "30d" } })
 * // { size: 42, sample: ["prf_0a…", …] }
 */
export async function previewDefinition(
  env: Env,
  workspaceId: string,
  definition: PreviewDefinition,
  evaluateAtMost = EVALUATE_AT_MOST,
): Promise<AudiencePreview> {
  const definitionsVersion = await currentDefinitionsVersion(env.DB, workspaceId);
  const input: PreviewInput = { workspaceId, definitionsVersion, ...definition };
  const total = await countLiveProfiles(env.DB, workspaceId);
  const estimate = total > evaluateAtMost;
  // The exact path reads to the end, not `total` ids: a profile created after the count with a smaller (random) id
  // would otherwise push an existing one off the list (a console test's preview once missed its only member so).
  const ids = estimate
    ? await randomRun(env.DB, workspaceId, evaluateAtMost)
    : await liveIdsAfter(env.DB, workspaceId, null, evaluateAtMost);
  const limit = pLimit(CONCURRENCY);
  const outcomes = await Promise.all(ids.map((id) => limit(() => profileStub(env.PROFILE, id).preview(input))));
  // `member` is the audience's answer, or for a computed trait whether the profile holds a value (as `size` counts).
  const members = ids.filter((_, i) => {
    const outcome = outcomes[i];
    return outcome.status === "ok" && outcome.member;
  });
  const sample = [...members].sort().slice(0, SAMPLE_SIZE);
  if (!estimate) return { size: members.length, sample };
  const evaluated = outcomes.filter((o) => o.status === "ok").length;
  const size = evaluated === 0 ? 0 : Math.round((members.length / evaluated) * total);
  return { size, sample, estimated: true };
}

/** Up to `n` live profile ids after `after`, in id order, read a page at a time. */
async function liveIdsAfter(db: D1Database, workspaceId: string, after: string | null, n: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor = after;
  while (ids.length < n) {
    const wanted = Math.min(PAGE, n - ids.length);
    const page = await liveProfileIds(db, workspaceId, cursor, wanted);
    ids.push(...page);
    if (page.length < wanted) break;
    cursor = page[page.length - 1];
  }
  return ids;
}

/** `n` consecutive live profile ids from a random point, wrapping around past the last id. */
async function randomRun(db: D1Database, workspaceId: string, n: number): Promise<string[]> {
  const start = newId("prf");
  const ids = await liveIdsAfter(db, workspaceId, start, n);
  if (ids.length < n) ids.push(...(await liveIdsAfter(db, workspaceId, null, n - ids.length)));
  return ids;
}
