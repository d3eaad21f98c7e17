/**
 * Klaviyo profile bulk import jobs (reference/maps.md §2.3 K5, K6) for the `klaviyo` destination's large calls. One
 * request takes up to 10,000 profiles (5 MB, 100 KB each) and, with `relationships.lists`, adds them to a list without
 * their ids. Klaviyo checks the whole job when it arrives: a `400` lists one error per bad profile, pointing at it
 * (`/data/attributes/profiles/data/<i>/attributes/email`), and imports nothing; those profiles fail and the others
 * are sent again at once in a job of their own. Accepted (`202`), the job is processed asynchronously: each profile's
 * outcome is `ok` with the job's id as its note, and no Klaviyo id.
 *
 * Because the job lands later, a removal from a list must not overtake a job still adding to it (the job would list
 * the person again): jobs with a list are remembered per list, and {@link unfinishedJob} polls them. Not guarded: a
 * contact upserted by `profile-import` while a job holding it still waits gets the job's older traits back when it
 * runs, until a synced trait of theirs changes again.
 *
 * @example
 * const outcomes = await bulkImport(ctx, [{ email: "ada@example.com", first_name: "Ada" }], { id: "Xy12Ab", relist });
 * // [{ status: "ok", note: "imported by Klaviyo bulk import job …" }]
 */
import { chunked } from "../../shared/chunked";
import { jsonBytes } from "../../shared/utf8";
import type { Outcome } from "../plugin";
import { type Ctx, classify, type Failure, type KlaviyoError, type Resource, request } from "./klaviyo-http";

/** Profiles per job (maps.md §1b). */
const JOB_PROFILES = 10_000;
/** Bytes of profiles per job: Klaviyo's 5 MB, less room for the job's envelope and its list. */
const JOB_BYTES = 5_000_000 - 10_000;
/** Jobs sent for one chunk at most: each `400` with pointers takes the profiles it points at out of the next. */
const JOB_ATTEMPTS = 4;
/** How long a job that adds to a list holds back removals from that list at most (Klaviyo keeps jobs for days). */
const JOB_WATCH_MS = 24 * 3_600_000;

/** The list a job adds its profiles to, and how to find it again when Klaviyo no longer has that id. */
export interface BulkList {
  id: string;
  relist(): Promise<string | Failure>;
}

/** Imports `profiles` (profile attributes, email included) in jobs, adding them to `list`; one outcome each, in order. */
export async function bulkImport(
  ctx: Ctx,
  profiles: Array<Record<string, unknown>>,
  list?: BulkList,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const chunk of jobChunks(profiles)) outcomes.push(...(await importJob(ctx, chunk, list)));
  return outcomes;
}

/**
 * The id of the oldest job still adding to this list (`queued` or `processing`), or undefined once all are done.
 * Jobs seen done are forgotten; one whose status cannot be read is waited for.
 */
export async function unfinishedJob(ctx: Ctx, listId: string): Promise<string | undefined> {
  const ids = await watchedJobs(ctx, listId);
  let done = 0;
  for (const id of ids) {
    const res = await request(ctx, "GET", `/api/profile-bulk-import-jobs/${encodeURIComponent(id)}`);
    const status = res.ok ? (res.data as Resource | undefined)?.attributes?.status : undefined;
    // A job Klaviyo no longer has (404: expired) is done with.
    const running = res.ok ? status === "queued" || status === "processing" : res.status !== 404;
    if (running) break;
    done++;
  }
  if (done > 0) await ctx.store.put(watchKey(listId), JSON.stringify(ids.slice(done)), JOB_WATCH_MS);
  return ids[done];
}

/** Consecutive runs of `profiles` within a job's limits (each profile's resource and its comma counted). */
const jobChunks = (profiles: Array<Record<string, unknown>>) =>
  chunked(profiles, JOB_BYTES, (attributes) => jsonBytes(profileResource(attributes)) + 1, JOB_PROFILES);

/**
 * One chunk as a job. A `400` that points at profiles fails those (classified as `profile-import`'s answer would be)
 * and sends the rest again; a list Klaviyo no longer has is found again once; any other refusal is every profile's.
 */
async function importJob(ctx: Ctx, profiles: Array<Record<string, unknown>>, list?: BulkList): Promise<Outcome[]> {
  const outcomes: Array<Outcome | undefined> = profiles.map(() => undefined);
  let listId = list?.id;
  let relisted = false;
  for (let attempt = 0; attempt < JOB_ATTEMPTS; attempt++) {
    const sending = profiles.flatMap((_, i) => (outcomes[i] === undefined ? [i] : []));
    if (sending.length === 0) break;
    const res = await request(ctx, "POST", "/api/profile-bulk-import-jobs", {
      body: jobDocument(
        sending.map((i) => profiles[i]),
        listId,
      ),
    });
    if (res.ok) {
      const id = (res.data as Resource | undefined)?.id ?? "(no id)";
      if (listId) await watch(ctx, listId, id);
      const note = `imported by Klaviyo bulk import job ${id} (processed asynchronously)`;
      for (const i of sending) outcomes[i] = { status: "ok", note };
      break;
    }
    if (list && !relisted && listGone(res.status, res.errors)) {
      relisted = true;
      const again = await list.relist();
      if (typeof again !== "string") {
        for (const i of sending) outcomes[i] = again;
        break;
      }
      listId = again;
      continue;
    }
    const pointed = errorsByItem(res.errors);
    if (res.status !== 400 || pointed.size === 0) {
      for (const i of sending) outcomes[i] = res.failure;
      break;
    }
    for (const [k, errors] of pointed) {
      const i = sending[k];
      if (i !== undefined) outcomes[i] = classify(res.status, new Headers(), errors);
    }
  }
  return outcomes.map((o) => o ?? { status: "retry", reason: "Klaviyo kept refusing the bulk import job" });
}

function jobDocument(profiles: Array<Record<string, unknown>>, listId: string | undefined): unknown {
  const data: Record<string, unknown> = {
    type: "profile-bulk-import-job",
    attributes: { profiles: { data: profiles.map(profileResource) } },
  };
  if (listId) data.relationships = { lists: { data: [{ type: "list", id: listId }] } };
  return { data };
}

const profileResource = (attributes: Record<string, unknown>) => ({ type: "profile", attributes });

/** The errors of a bulk `400` by the index of the profile each points at. */
function errorsByItem(errors: KlaviyoError[]): Map<number, KlaviyoError[]> {
  const byItem = new Map<number, KlaviyoError[]>();
  for (const e of errors) {
    const m = e.source?.pointer?.match(/^\/data\/attributes\/profiles\/data\/(\d+)(\/|$)/);
    if (!m) continue;
    const i = Number(m[1]);
    byItem.set(i, [...(byItem.get(i) ?? []), e]);
  }
  return byItem;
}

/** Klaviyo no longer has the job's list (deleted there): `404`, or a `400` pointing at the list relationship. */
function listGone(status: number, errors: KlaviyoError[]): boolean {
  return (
    status === 404 ||
    (status === 400 && errors.some((e) => e.source?.pointer?.startsWith("/data/relationships/lists") ?? false))
  );
}

const watchKey = (listId: string) => `bulk-jobs:${listId}`;

/** Remembers a job that adds to the list, so removals from it wait for the job (see {@link unfinishedJob}). */
async function watch(ctx: Ctx, listId: string, jobId: string): Promise<void> {
  const ids = await watchedJobs(ctx, listId);
  await ctx.store.put(watchKey(listId), JSON.stringify([...ids, jobId]), JOB_WATCH_MS);
}

/** The jobs adding to the list that removals still wait for, oldest first. */
async function watchedJobs(ctx: Ctx, listId: string): Promise<string[]> {
  return JSON.parse((await ctx.store.get(watchKey(listId))) || "[]") as string[];
}
