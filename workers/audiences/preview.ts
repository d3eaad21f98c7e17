/**
 * Trying a definition before saving it (`POST /v1/audiences/preview`, `POST /v1/computed-traits/preview`): every
 * live profile of the workspace evaluates it against its current state in its own Durable Object, and nothing is
 * stored anywhere.
 */
import type { AudienceDefinition, AudiencePreview, ComputedTraitDefinition } from "@tessera/protocol";
import pLimit from "p-limit";
import { liveProfileIds } from "../../d1/queries/profiles";
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
 * How many live profiles `definition` would hold now (members of an audience; profiles holding a computed value,
 * as the trait's `size` counts them), and the first of them in profile-id order. A profile merged away or erased while the preview runs is left
 * out (its survivor is a live profile of its own page).
 *
 * @example await previewDefinition(env, "ws_…", { audience: { event: "Order Completed", within: "30d" } })
 * // { size: 42, sample: ["prf_0a…", …] }
 */
export async function previewDefinition(
  env: Env,
  workspaceId: string,
  definition: PreviewDefinition,
): Promise<AudiencePreview> {
  const definitionsVersion = await currentDefinitionsVersion(env.DB, workspaceId);
  const input: PreviewInput = { workspaceId, definitionsVersion, ...definition };
  const limit = pLimit(CONCURRENCY);
  const result: AudiencePreview = { size: 0, sample: [] };
  let after: string | null = null;
  for (;;) {
    const ids = await liveProfileIds(env.DB, workspaceId, after, PAGE);
    const outcomes = await Promise.all(ids.map((id) => limit(() => profileStub(env.PROFILE, id).preview(input))));
    for (const [i, outcome] of outcomes.entries()) {
      // `member` is the audience's answer, or for a computed trait whether the profile holds a value (as `size` counts).
      if (outcome.status !== "ok" || !outcome.member) continue;
      result.size++;
      if (result.sample.length < SAMPLE_SIZE) result.sample.push(ids[i]);
    }
    if (ids.length < PAGE) return result;
    after = ids[ids.length - 1];
  }
}
