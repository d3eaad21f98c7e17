/**
 * How the ingestion paths appear in `/openapi.json`. They are documented, not validated by these schemas: their
 * bodies are read by `read-body.ts` (gzip, any Content-Type, the request limit) and `envelope.ts`, and each message
 * is accepted or rejected on its own (`validateMessage`), which a body validator in front would break.
 */
import { type RouteConfig, z } from "@hono/zod-openapi";
import {
  AliasMessage,
  BatchEnvelope,
  GroupMessage,
  IdentifyMessage,
  IngestResponse,
  MAX_BATCH_MESSAGES,
  MAX_MESSAGE_BYTES,
  MAX_REQUEST_BYTES,
  type MessageType,
  PageMessage,
  ScreenMessage,
  TrackMessage,
} from "@tessera/protocol";
import { errorResponses, jsonResponse, WRITE_KEY } from "../shared/route-docs";

const MESSAGE_SCHEMAS = {
  track: TrackMessage,
  identify: IdentifyMessage,
  page: PageMessage,
  screen: ScreenMessage,
  group: GroupMessage,
  alias: AliasMessage,
} as const;

const BODY_NOTES =
  "Sent as `application/json` or `text/plain` (browsers, no preflight); the body is read as JSON whatever the " +
  "Content-Type says, and `Content-Encoding: gzip` (or deflate) is accepted.";

/**
 * Where RudderStack's browser SDK sends its batches with `navigator.sendBeacon` (`useBeacon`, and on page unload): a
 * `text/plain` Blob with the write key in the query string, as a beacon can carry no Authorization header.
 */
export const BEACON_BATCH_PATH = "/beacon/v1/batch";

/** Every ingestion path takes the write key as a query parameter too, after the Authorization header and the body. */
const WriteKeyQuery = z.object({
  writeKey: z
    .string()
    .optional()
    .openapi({
      description:
        "The write key, when neither the Authorization header nor the body holds one: RudderStack's browser SDK " +
        "sends its beacons so.",
    }),
});

/**
 * `POST path`: a batch (`pathType` null) or one message of `pathType`. `canonical` is the path an alias (Segment's
 * short `/v1/t`, RudderStack's beacon path) stands for; it is the path itself otherwise.
 */
export function ingestRouteDoc(path: string, pathType: MessageType | null, canonical: string): RouteConfig {
  const schema = pathType ? MESSAGE_SCHEMAS[pathType] : BatchEnvelope;
  const what = pathType ? `one \`${pathType}\` message` : `a batch of up to ${MAX_BATCH_MESSAGES} messages`;
  const alias = path !== canonical;
  const beacon = path === BEACON_BATCH_PATH;
  const name = beacon ? "BeaconBatch" : `${alias ? "Alias" : ""}${path.slice(4).replace(/^./, (c) => c.toUpperCase())}`;
  return {
    method: "post",
    path,
    tags: ["Ingestion"],
    operationId: `ingest${name}`,
    summary: alias ? `Alias of POST ${canonical}${beacon ? " for beacons" : ""}` : `Send ${what}`,
    description: [
      beacon
        ? `RudderStack's browser SDK path for \`navigator.sendBeacon\`; identical to \`POST ${canonical}\` in every ` +
          "respect. A beacon carries no Authorization header: the write key comes as `?writeKey=`."
        : alias
          ? `Segment's short path for \`POST ${canonical}\`; identical in every respect.`
          : "",
      `Segment HTTP Tracking API compatible: send ${what}.`,
      pathType ? "`type` may be left out: the path decides it. `writeKey` may be in the body." : "",
      BODY_NOTES,
      `Limits: ${MAX_MESSAGE_BYTES} bytes per message, ${MAX_REQUEST_BYTES} bytes per request.`,
      "Invalid messages are rejected one by one with their reason; the valid ones are stored. " +
        "`200` means durable. A message's `messageId` is its idempotency key.",
    ]
      .filter(Boolean)
      .join("\n\n"),
    security: WRITE_KEY,
    request: {
      query: WriteKeyQuery,
      body: {
        required: true,
        content: { "application/json": { schema }, "text/plain": { schema } },
      },
    },
    responses: {
      200: jsonResponse(
        IngestResponse,
        "Read: the valid messages are stored; `rejected` lists the others with their reasons (all of them when none " +
          "was valid: `accepted` is then 0).",
      ),
      ...errorResponses({
        400: "The body is not JSON or not the expected shape (no `batch` array, not an object).",
        401: "No write key, or an unknown, revoked or secret key.",
        413: `The body is larger than ${MAX_REQUEST_BYTES} bytes (compressed or not), or the batch has more than ${MAX_BATCH_MESSAGES} messages.`,
        415: "A Content-Encoding other than gzip or deflate.",
        429: "Too many requests for this write key, or more than the collector can take at the moment: send the same request again after `Retry-After` seconds (messages are stored once, by `messageId`).",
        503: "The events could not be stored durably; send the same request again.",
      }),
    },
  };
}
