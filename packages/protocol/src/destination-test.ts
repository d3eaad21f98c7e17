/**
 * "Test connection" of a destination (DESIGN §11): one cheap authenticated call to the vendor with a config, saved
 * or about to be. A refused connection is an answer (`ok: false` with the vendor's reason), not an HTTP error.
 */
import { z } from "zod";
import { isPlainObject, JSON_OBJECT_DOC, type JsonObject } from "./json-object";
import { requestBody } from "./request-body";

const config = z
  .custom<JsonObject>(isPlainObject, { error: '"config" must be a JSON object' })
  .meta({ ...JSON_OBJECT_DOC, description: "The type's settings, as `POST /v1/destinations` takes them." });

/** `POST /v1/destinations/test`: a config before it is saved. */
export const DestinationTestRequest = requestBody({
  type: z.string({ error: '"type" is required' }).meta({ description: "The destination type.", example: "webhook" }),
  config,
}).meta({ id: "DestinationTestRequest", description: "A destination type and config to try." });
export type DestinationTestRequest = z.infer<typeof DestinationTestRequest>;

/**
 * `POST /v1/destinations/{id}/test`: the saved config (no body, or `{}`), or changes to it merged into the saved one
 * as `PUT` merges them (masked secrets keep the stored ones, `null` removes a key).
 */
export const SavedDestinationTestRequest = requestBody({ config: config.optional() }).meta({
  id: "SavedDestinationTestRequest",
  description:
    "Optional (no body tests the saved config): changes to try, merged into the saved config as `PUT` merges them; " +
    "secrets sent masked (`…abcd`) keep the saved ones.",
});
export type SavedDestinationTestRequest = z.infer<typeof SavedDestinationTestRequest>;

export const DestinationTestResult = z
  .object({
    ok: z.boolean(),
    message: z.string().meta({ description: "What the vendor said, or that the connection works." }),
  })
  .meta({ id: "DestinationTestResult", description: "Whether the vendor accepted the credentials." });
export type DestinationTestResult = z.infer<typeof DestinationTestResult>;
