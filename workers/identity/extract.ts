import type { AcceptedMessage } from "@tessera/protocol";
import {
  type ExtractedIdentifiers,
  type ExtractionRules,
  extractIdentifiers as extractWith,
} from "@tessera/protocol/message-identifiers";
import { blockedBy, type IdentityRules } from "./rules";

export {
  type ExtractedIdentifiers,
  type NormalizedIdentifier,
  normalizeIdentifier,
} from "@tessera/protocol/message-identifiers";

/**
 * The identifiers of one accepted message under a workspace's rules (see the shared reading,
 * `@tessera/protocol/message-identifiers`, which `tessera import` judges rows by too).
 *
 * @example extractIdentifiers(msg, DEFAULT_IDENTITY_RULES).identifiers // [{type:"user_id",value:"42"}, {type:"email",value:"jane@example.com"}]
 */
export function extractIdentifiers(msg: AcceptedMessage, rules: IdentityRules): ExtractedIdentifiers {
  const reading: ExtractionRules = {
    defaultCountry: rules.defaultCountry,
    promotedTraits: rules.promotedTraits,
    blockedBy: (value) => blockedBy(rules, value),
  };
  return extractWith(msg, reading);
}
