/**
 * Tessera's wire contract. Every shape is a zod schema constant with a same-named type: the Worker validates and
 * documents with the schemas; the SDK imports only the types (`import type`) and so ships none of this.
 */
export * from "./admin";
export * from "./audiences";
export * from "./deletions";
export * from "./destination-test";
export * from "./destinations";
export * from "./errors";
export * from "./identifier-values";
export * from "./identifiers";
export * from "./ingest-response";
export { JsonObject, type JsonValue, objectOrUndefined } from "./json-object";
export * from "./limits";
export * from "./live-events";
export * from "./messages";
export * from "./operations";
export * from "./profile";
export * from "./profile-events-query";
export * from "./queue-messages";
export { blockedValueMatcher, type SafePattern } from "./safe-pattern";
export * from "./validate";
