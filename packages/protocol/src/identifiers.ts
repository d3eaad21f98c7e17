import { z } from "zod";

/** Identifier types Tessera knows by name; workspaces may add custom ones (externalIds, promoted traits). */
export const BUILTIN_IDENTIFIER_TYPES = ["user_id", "anonymous_id", "email", "phone", "device_id", "group_id"] as const;
export type BuiltinIdentifierType = (typeof BUILTIN_IDENTIFIER_TYPES)[number];
export type IdentifierType = BuiltinIdentifierType | (string & {});

/**
 * Types a profile shows among its identifiers but that are never matching keys, so never in the identity graph:
 * `group_id` names a company, which many people share.
 */
export const isAttributeIdentifier = (type: string): boolean => type === "group_id";

/** Custom identifier types are lowercase words, so `type:value` refs stay unambiguous in URLs. */
export const IDENTIFIER_TYPE_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * One identifier of a person, e.g. `{type:"email", value:"jane@example.com"}` (values are normalised).
 * @example Identifier.parse({ type: "email", value: "jane@example.com" })
 */
export const Identifier = z
  .object({
    type: z.string().regex(IDENTIFIER_TYPE_PATTERN) as z.ZodType<IdentifierType, string>,
    value: z.string(),
  })
  .meta({ id: "Identifier", description: "One identifier of a person, e.g. email:jane@example.com." });
export type Identifier = z.infer<typeof Identifier>;

/** `type\0value`, one identifier's key in a set or map: NUL cannot appear in a type, so keys never collide. */
export const identifierKey = (id: Identifier): string => `${id.type}\u0000${id.value}`;
