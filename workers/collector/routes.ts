/**
 * The Segment-compatible HTTP Tracking API (DESIGN §3): `POST /v1/batch` and one endpoint per call type, and
 * RudderStack's beacon path `POST /beacon/v1/batch`.
 * Any Segment or RudderStack client pointed at this host works unchanged.
 */

import type { OpenAPIHono } from "@hono/zod-openapi";
import {
  type IngestResponse,
  isPlainObject,
  MAX_REQUEST_BYTES,
  MESSAGE_TYPES,
  type MessageType,
  mergedMessageProblem,
  type RejectedMessage,
  validateMessage,
} from "@tessera/protocol";
import type { MiddlewareHandler } from "hono";
import { type IndexedMessage, type IngestDeps, ingestMessages } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { enqueueJobs, type IngestJob } from "../ingest/retry-jobs";
import { recordLiveEvents } from "../live-events/record";
import { credentialFrom } from "../shared/basic-auth";
import { HttpError, unauthenticated } from "../shared/errors";
import { openApiRoutes } from "../shared/openapi-routes";
import { preflightRouteDoc } from "../shared/route-docs";
import { type AdmissionLimits, abandonIfAnswered, admission, busyError, DEFAULT_ADMISSION } from "./admission";
import type { CollectorEnv } from "./collector-env";
import { ingestCors } from "./cors";
import { enrichMessage, requestFacts } from "./enrich";
import { readEnvelope } from "./envelope";
import { BEACON_BATCH_PATH, ingestRouteDoc } from "./ingest-docs";
import { clearProfileCookie, readProfileCookie, soleAnonymousId, writeProfileCookie } from "./profile-cookie";
import { defaultLimiter, type LimiterFor, rateLimit } from "./rate-limit";
import { readJsonBody } from "./read-body";
import { workspaceForWriteKey } from "./write-key-auth";

/** Seams for tests; production uses the bindings. */
export interface CollectorOptions {
  limiterFor?: LimiterFor;
  ingestDeps?: (env: Env) => IngestDeps;
  retryQueue?: (env: Env) => Pick<Queue, "sendBatch">;
  /** Back-pressure limits of this isolate's ingestion. */
  admission?: AdmissionLimits;
}

/**
 * Every path and the type it implies (null: a batch). Short aliases are what Segment's own API accepts too, and
 * `/v1/import` is where Segment's Ruby and Java libraries post their batches.
 */
const ROUTES: Array<[string, MessageType | null]> = [
  ["/v1/batch", null],
  ["/v1/b", null],
  ["/v1/import", null],
  [BEACON_BATCH_PATH, null],
  ...MESSAGE_TYPES.flatMap(
    (t): Array<[string, MessageType]> => [
      [`/v1/${t}`, t],
      [`/v1/${t[0]}`, t],
    ],
  ),
];

/**
 * Authenticates (header first, so a bad key costs no body read), then reads and checks the envelope. The write key
 * is the Authorization header's, else the body's `writeKey`, else the `writeKey` query parameter (RudderStack's
 * beacons).
 */
function readIngest(pathType: MessageType | null): MiddlewareHandler<CollectorEnv> {
  return async (c, next) => {
    const authorization = c.req.header("authorization");
    const headerKey = credentialFrom(authorization);
    // Segment's OAuth sources send a Bearer access token and the write key in the body: a Bearer credential is the
    // write key only when the body names none, so it is checked after the body is read (Basic still before).
    const bearer = headerKey !== null && /^\s*bearer\s/i.test(authorization ?? "");
    const address = c.req.header("cf-connecting-ip") ?? null;
    let workspaceId = headerKey && !bearer ? await workspaceForWriteKey(c.env, address, headerKey) : null;
    abandonIfAnswered(c);
    let body: unknown;
    try {
      body = await readJsonBody(c.req.raw, MAX_REQUEST_BYTES);
    } catch (err) {
      abandonIfAnswered(c);
      throw err;
    }
    const envelope = readEnvelope(body, pathType);
    const writeKey =
      (bearer ? (envelope.writeKey ?? headerKey) : (headerKey ?? envelope.writeKey)) ?? c.req.query("writeKey");
    if (!writeKey && authorization) {
      throw unauthenticated(
        'The Authorization header holds no write key: send HTTP Basic with the write key as user (base64 of "key:"), or writeKey in the body',
      );
    }
    workspaceId ??= await workspaceForWriteKey(c.env, address, writeKey);
    c.set("workspaceId", workspaceId);
    c.set("writeKey", writeKey as string);
    c.set("envelope", envelope);
    await next();
  };
}

/**
 * The collector's sub-app with injected seams.
 * @example const app = new Hono().route("/", createCollectorRoutes({ limiterFor: () => fakeLimiter }));
 */
export function createCollectorRoutes(options: CollectorOptions = {}): OpenAPIHono<CollectorEnv> {
  const depsFor = options.ingestDeps ?? ingestDepsFor;
  const queueFor = options.retryQueue ?? ((env: Env) => env.INGEST_RETRY_QUEUE);
  const routes = openApiRoutes<CollectorEnv>();
  // One for all ingestion paths: the bound is on the isolate's work, whichever path it came by.
  const limits = options.admission ?? DEFAULT_ADMISSION;
  const admit = admission(limits);
  for (const [path, pathType] of ROUTES) {
    // Documented beside, not validated by, the schemas: the body is read below, message by message.
    routes.openAPIRegistry.registerPath(ingestRouteDoc(path, pathType, pathType ? `/v1/${pathType}` : "/v1/batch"));
    routes.openAPIRegistry.registerPath(preflightRouteDoc(path, "Ingestion"));
    routes.use(path, ingestCors);
    routes.post(path, admit, readIngest(pathType), rateLimit(options.limiterFor ?? defaultLimiter), async (c) => {
      abandonIfAnswered(c);
      const envelope = c.var.envelope;
      const receivedAt = Date.now();
      const facts = requestFacts(c.req.raw, c.env.ENVIRONMENT);
      const valid: IndexedMessage[] = [];
      const rejected: RejectedMessage[] = [];
      for (const [index, raw] of envelope.messages.entries()) {
        const result = validateMessage(raw, index, { now: receivedAt, batchSentAt: envelope.sentAt });
        if (!result.ok) {
          rejected.push(withMessageId({ index, error: result.error }, raw));
          continue;
        }
        const message = enrichMessage(result.message, envelope, facts, receivedAt);
        // The batch's context and integrations were checked once but land in every message: the per-message caps
        // apply again (without, 350 KB of batch integrations were stored once per message of the request).
        const merged = envelope.context || envelope.integrations ? mergedMessageProblem(message, index) : null;
        if (merged) rejected.push(withMessageId({ index, error: merged }, raw));
        else valid.push({ index, message });
      }
      const deps = depsFor(c.env);
      const cookieSecret = c.env.COOKIE_SECRET;
      const cookie = await readProfileCookie(c, cookieSecret);
      const anonymousId = soleAnonymousId(valid.map((v) => v.message));
      const cookieForId = cookie?.workspaceId === c.var.workspaceId && cookie.anonymousId === anonymousId;
      if (cookieForId)
        deps.identity.vouch?.(c.var.workspaceId, { type: "anonymous_id", value: anonymousId }, cookie.profileId);
      const report = await ingestMessages(deps, c.var.workspaceId, valid);
      if (anonymousId !== null && report.failed.length === 0) {
        // The cookie vouches only for what the graph said: the anonymous id is on the one profile the batch reached.
        // A dropped one (another person's on a shared device, or one past the profile's limit) is not that profile's.
        const dropped = report.dropped.some((id) => id.type === "anonymous_id" && id.value === anonymousId);
        const [profileId] = report.profileIds;
        if (report.profileIds.length === 1 && !dropped)
          await writeProfileCookie(c, cookieSecret, { workspaceId: c.var.workspaceId, anonymousId, profileId }, cookie);
        else if (cookieForId) clearProfileCookie(c);
      }
      const queueDurably = async (jobs: IngestJob[]) => {
        if (jobs.length === 0) return;
        try {
          await enqueueJobs(queueFor(c.env), jobs);
        } catch (err) {
          // "200 means durable": what is neither stored nor queued must be sent again by the client.
          throw new HttpError(503, "internal_error", "Events could not be stored durably; retry the request", {
            cause: err,
            headers: { "Retry-After": "5" },
          });
        }
      };
      if (report.overloaded) {
        // Back-pressure, not a backlog: the sender slows down and sends the request again, which redoes every
        // resolve and delivery (stored once, by message id). Not a merge's fold: the graph already joined the two
        // profiles, so the resend sees one; those few are queued first.
        await queueDurably(report.failed.filter((job) => job.kind === "merge"));
        throw busyError(limits, "The collector is out of room for more profiles at the moment");
      }
      await queueDurably(report.failed);
      if (report.rejected.length > 0) rejected.push(...report.rejected);
      recordLiveEvents(c, valid, rejected, report.erased);
      const accepted = valid.length - report.rejected.length;
      // Invalid messages are rejected one by one, even when none is left (DESIGN §3, as Segment's API answers 200 to
      // all but unreadable or oversized bodies): the request was read, each message has its reason.
      rejected.sort((a, b) => a.index - b.index);
      // A single-message route's sender sent no batch: "batch[0]: " would name something it never wrote.
      if (pathType) for (const r of rejected) r.error = r.error.replace(/^batch\[0\]: /, "");
      // Known here: each profile's write is awaited before the answer, so its duplicates are counted; a delivery that
      // failed and was queued is still counted as accepted but its duplicates are not known (not in this count).
      const body: IngestResponse = {
        success: true,
        accepted,
        ...(report.duplicates > 0 && { duplicates: report.duplicates }),
        rejected,
      };
      return c.json(body, 200);
    });
  }
  return routes;
}

/**
 * The refused message's own id, or one made for it (DESIGN §3: every rejected entry names a `messageId`, generated
 * server-side when absent — as a stored message's is), by which the live events feed shows the same refusal.
 */
function withMessageId(r: Omit<RejectedMessage, "messageId">, raw: unknown): RejectedMessage {
  const own = isPlainObject(raw) && typeof raw.messageId === "string" ? raw.messageId.slice(0, 512) : undefined;
  return { index: r.index, messageId: own ?? crypto.randomUUID(), error: r.error };
}

/** Mounted by `workers/app.ts`. */
export const collectorRoutes = createCollectorRoutes();
