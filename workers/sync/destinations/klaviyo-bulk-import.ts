/**
 * Klaviyo profile bulk import jobs (reference/maps.md §2.3 K5, K6) for the `klaviyo` destination's large calls. One
 * request takes up to 10,000 profiles (5 MB, 100 KB each) and, with `relationships.lists`, adds them to a list without
 * their ids. Klaviyo checks the whole job when it arrives: a `400` lists one error per bad profile, pointing at it
 * (`/data/attributes/profiles/data/<i>/attributes/email`), and imports nothing; those profiles fail and the others
 * are sent again at once in a job of their own. Accepted (`202`), the job is processed asynchronously: each profile's
 * outcome is `ok` with the job's id (its `job`, and in its note), and no Klaviyo id. A profile can still fail while
 * the job runs (K6: an identifier another profile holds): the engine asks {@link jobOutcome} once the job is done,
 * which names each failed profile by the email of its `original_payload` in the job's import errors, and gives the
 * Klaviyo id of each profile the job imported, from the job's profiles.
 *
 * Because the job lands later, a contact's removal from the list must not overtake a job still adding it (the job
 * would list the person again), nor its newer state reach `profile-import` while a job holding an older one still
 * waits (the job would write it back): the engine, which awaits every job's outcome, holds both until it has seen
 * the job end (`vendor-jobs.ts`).
 *
 * @example
 * const outcomes = await bulkImport(ctx, [{ email: "ada@example.com", first_name: "Ada" }], { id: "Xy12Ab", relist });
 * // [{ status: "ok", note: "imported by Klaviyo bulk import job …" }]
 */
import { chunked } from "../../shared/chunked";
import { jsonBytes } from "../../shared/utf8";
import type { JobOutcome, Outcome } from "../plugin";
import { type Ctx, classify, type Failure, type KlaviyoError, type Resource, request } from "./klaviyo-http";

/** Profiles per job (maps.md §1b). */
const JOB_PROFILES = 10_000;
/** Bytes of profiles per job: Klaviyo's 5 MB, less room for the job's envelope and its list. */
const JOB_BYTES = 5_000_000 - 10_000;
/** Jobs sent for one chunk at most: each `400` with pointers takes the profiles it points at out of the next. */
const JOB_ATTEMPTS = 4;

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

/** Pages of import errors read for one job at most (Klaviyo pages them; 100 a page). */
const ERROR_PAGES = 100;

/** Profiles per page of a job's profiles: Klaviyo's largest. */
const PROFILE_PAGE_SIZE = "100";
/**
 * Pages of a job's profiles read per look at it. Reading a job allows 10 requests a second (burst) and 150 a minute
 * (steady): the job, a page of its errors and 8 pages of profiles stay within the burst, and a look every 15 s
 * (the engine's) within the steady window. A job of 10,000 is 100 pages, read over 13 looks, each from where the
 * last one stopped.
 */
const PROFILE_PAGES_PER_LOOK = 8;
/** Where the next look goes on reading a job's profiles, kept as long as the engine asks after a job (a day). */
const profilesCursorKey = (id: string) => `bulk-import-profiles:${id}`;
const PROFILES_CURSOR_TTL_MS = 24 * 3_600_000;

/**
 * How job `id` ended (K6), or undefined while it is `queued` or `processing` or cannot be read now. A `complete` job
 * without failures is all `ok`. Otherwise its import errors name each failed profile by the attributes sent
 * (`original_payload`), so by email; failures Klaviyo counts (`failed_count`) beyond those it names are reported as
 * the job's, since nothing says whose they are. A job that ended `cancelled` (or `failed`) did not import what it
 * did not name either, or not all of it: those are worth another try.
 *
 * A `complete` job's profiles are read for their Klaviyo ids (`vendorIds`), which an engagement webhook may name them
 * by alone, {@link PROFILE_PAGES_PER_LOOK} pages a look: with `more`, the next look reads on from where this one
 * stopped, and reports nothing but further ids.
 */
export async function jobOutcome(ctx: Ctx, id: string): Promise<JobOutcome | undefined> {
  const cursor = await ctx.store.get(profilesCursorKey(id));
  if (cursor !== undefined) return { failed: [], ...(await importedProfiles(ctx, id, new URLSearchParams(cursor))) };
  const job = await readJob(ctx, id);
  // Klaviyo keeps a job for days and the engine asks within minutes: a 404 means the outcome is lost.
  if (job.state === "gone") return { failed: [], unnamed: `Klaviyo no longer has bulk import job ${id}` };
  if (job.state !== "ended") return undefined;
  const { attributes } = job;
  const status = String(attributes.status);
  const failedCount = Number(attributes.failed_count ?? 0);
  const ended = status === "cancelled" || status === "failed";
  const outcome: JobOutcome = { failed: [] };
  if (ended || failedCount > 0) {
    const named = await importErrors(ctx, id);
    if (named === undefined) return undefined;
    outcome.failed = named;
    if (failedCount > named.length)
      outcome.unnamed = `${failedCount - named.length} profiles failed in Klaviyo bulk import job ${id} without an import error naming them`;
  }
  if (ended) outcome.others = { status: "retry", reason: `Klaviyo bulk import job ${id} ended ${status}` };
  else {
    const firstPage = new URLSearchParams({ "fields[profile]": "email", "page[size]": PROFILE_PAGE_SIZE });
    Object.assign(outcome, await importedProfiles(ctx, id, firstPage));
  }
  return outcome;
}

/**
 * The Klaviyo ids of the profiles job `id` imported, by email, from the page `query` names on: up to
 * {@link PROFILE_PAGES_PER_LOOK} pages, then `more` with the next page's query kept for the next look. A page that
 * cannot be read now is read again at the next look; one Klaviyo refuses (the job expired) ends the reading.
 */
async function importedProfiles(
  ctx: Ctx,
  id: string,
  query: URLSearchParams,
): Promise<Pick<JobOutcome, "vendorIds" | "more">> {
  const path = `/api/profile-bulk-import-jobs/${encodeURIComponent(id)}/profiles`;
  const vendorIds: NonNullable<JobOutcome["vendorIds"]> = [];
  let next: URLSearchParams | undefined = query;
  for (let page = 0; next && page < PROFILE_PAGES_PER_LOOK; page++) {
    const res = await request(ctx, "GET", path, { query: Object.fromEntries(next) });
    if (!res.ok) {
      if (res.failure.status !== "retry") next = undefined;
      break;
    }
    for (const profile of (res.data as Resource[] | undefined) ?? []) {
      const email = profile.attributes?.email;
      if (typeof email === "string") vendorIds.push({ email: email.trim().toLowerCase(), vendorId: profile.id });
    }
    next = res.links?.next ? new URL(res.links.next).searchParams : undefined;
  }
  if (!next) return { vendorIds };
  await ctx.store.put(profilesCursorKey(id), next.toString(), PROFILES_CURSOR_TTL_MS);
  return { vendorIds, more: true };
}

type JobRead =
  | { state: "running" | "unreadable" | "gone" }
  | { state: "ended"; attributes: NonNullable<Resource["attributes"]> };

/**
 * Job `id` as Klaviyo answers for it: still `queued` or `processing` (running), no longer kept (404: gone), not
 * readable now, or ended with its attributes (status, counts).
 */
async function readJob(ctx: Ctx, id: string): Promise<JobRead> {
  const res = await request(ctx, "GET", `/api/profile-bulk-import-jobs/${encodeURIComponent(id)}`);
  if (!res.ok) return { state: res.status === 404 ? "gone" : "unreadable" };
  const attributes = (res.data as Resource | undefined)?.attributes ?? {};
  return attributes.status === "queued" || attributes.status === "processing"
    ? { state: "running" }
    : { state: "ended", attributes };
}

/** The failed profiles of a job by the email each was sent with, from its import errors; undefined if unreadable. */
async function importErrors(ctx: Ctx, id: string): Promise<JobOutcome["failed"] | undefined> {
  const failed: JobOutcome["failed"] = [];
  let path = `/api/profile-bulk-import-jobs/${encodeURIComponent(id)}/import-errors`;
  let query: Record<string, string> = { "page[size]": "100" };
  for (let page = 0; page < ERROR_PAGES; page++) {
    const res = await request(ctx, "GET", path, { query });
    if (!res.ok) return undefined;
    for (const error of (res.data as Resource[] | undefined) ?? []) {
      const { original_payload, ...klaviyoError } = (error.attributes ?? {}) as KlaviyoError & {
        original_payload?: { email?: unknown };
      };
      const email = original_payload?.email;
      if (typeof email !== "string") continue;
      // As `profile-import` answers the same conflict (409): the identity is another profile's.
      const status = klaviyoError.code === "duplicate_profile" ? 409 : 400;
      const failure = classify(status, new Headers(), [klaviyoError]);
      const outcome =
        failure.status === "fail"
          ? { ...failure, message: `${failure.message} (bulk import job ${id})` }
          : { ...failure, reason: `${failure.reason} (bulk import job ${id})` };
      failed.push({ email: email.trim().toLowerCase(), outcome });
    }
    const next = res.links?.next;
    if (!next) break;
    const url = new URL(next);
    path = url.pathname;
    query = Object.fromEntries(url.searchParams);
  }
  return failed;
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
      const note = `imported by Klaviyo bulk import job ${id} (processed asynchronously)`;
      for (const i of sending) outcomes[i] = { status: "ok", note, job: id };
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
