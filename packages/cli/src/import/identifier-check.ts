/**
 * What identity resolution will make of a message's identifiers, judged before it is sent: which values it will
 * refuse (an email that is no address, a blocked value such as user id `0`) and whether any identifier is left.
 * The collector stores a message by the identifiers left and refuses one with none; a refused email or phone next to
 * a good user id is dropped without a word, which is what the import reports instead.
 *
 * Judged by Segment's default rules (`DEFAULT_BLOCKED_VALUES`, no default phone country): the CLI cannot read a
 * workspace's own rules with a write key, and those may block more.
 */
import { blockedValueMatcher, DEFAULT_BLOCKED_VALUES } from "@tessera/protocol";
import {
  type ExtractionRules,
  extractIdentifiers,
  type IdentifiedMessage,
} from "@tessera/protocol/message-identifiers";

/** A value identity resolution will not use as an identifier, and why, in the collector's words. */
export interface RefusedIdentifier {
  type: string;
  value: string;
  reason: string;
}

export interface IdentifierCheck {
  /** Identifiers identity resolution will link the message by (zero: the collector refuses the message). */
  usable: number;
  refused: RefusedIdentifier[];
}

/** Segment's default identity rules, as a workspace that set none has them. */
const DEFAULT_RULES: ExtractionRules = {
  defaultCountry: null,
  promotedTraits: [],
  blockedBy: blockedValueMatcher(DEFAULT_BLOCKED_VALUES),
};

/**
 * The identifiers of a validated message, read as the Worker's identity resolution reads them (the same code,
 * `@tessera/protocol/message-identifiers`), under the default rules. A group's groupId is an attribute, never an
 * identifier, so it is not counted.
 *
 * @example checkIdentifiers({ type: "identify", userId: "0", traits: { email: "jane@example.com" } })
 * // { usable: 1, refused: [{ type: "user_id", value: "0", reason: "user_id value is blocked by the rule /^[0-]*$/i" }] }
 */
export function checkIdentifiers(message: IdentifiedMessage): IdentifierCheck {
  const { identifiers, blocked } = extractIdentifiers(message, DEFAULT_RULES);
  return {
    usable: identifiers.length,
    refused: blocked.map(({ identifier, reason }) => ({ type: identifier.type, value: identifier.value, reason })),
  };
}

/**
 * Why the default rules refuse an external id (a placeholder card `0`, a type that is not one), or null when they take
 * it: a refused value must not become the anonymousId a row is sent by.
 *
 * @example refusedExternalId({ type: "pos_customer", id: "0" })
 * // { type: "pos_customer", value: "0", reason: "pos_customer value is blocked by the rule /^[0-]*$/i" }
 */
export function refusedExternalId(externalId: { type: string; id: string }): RefusedIdentifier | null {
  const { blocked } = extractIdentifiers({ type: "track", context: { externalIds: [externalId] } }, DEFAULT_RULES);
  const first = blocked[0];
  return first ? { type: first.identifier.type, value: first.identifier.value, reason: first.reason } : null;
}

/**
 * The collector's reason for refusing a message whose identifiers were all refused, word for word, so that a dry
 * run's rejects read as the real run's.
 */
export function noUsableIdentifier(refused: readonly RefusedIdentifier[]): string {
  const why = refused.map((r) => `${r.type} ${JSON.stringify(r.value)}: ${r.reason}`);
  return `no usable identifier (${why.join("; ") || "none given"})`;
}

/** One refused identifier as the warnings file and the rejects file name it. */
export function refusedText(refused: RefusedIdentifier): string {
  return `${refused.type} ${JSON.stringify(refused.value)}: ${refused.reason}`;
}
