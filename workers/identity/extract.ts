import { type AcceptedMessage, IDENTIFIER_TYPE_PATTERN, type Identifier, objectOrUndefined } from "@tessera/protocol";
import { keyOf } from "./graph-snapshot";
import { normalizeIdentifier } from "./normalize";
import { blockedBy, type IdentityRules } from "./rules";

export { type NormalizedIdentifier, normalizeIdentifier } from "./normalize";

/** What one message says about who sent it. */
export interface ExtractedIdentifiers {
  /** Matching keys, normalised and deduplicated: these are claimed in D1 and may link profiles. */
  identifiers: Identifier[];
  /** Values refused, with why (junk values, malformed emails and phones, bad externalId types). Never linked. */
  blocked: Array<{ identifier: Identifier; reason: string }>;
  /**
   * Descriptive identifiers that must never be matching keys. Today: `group_id` from `group` calls — a company,
   * which many people share, so matching on it would merge a whole company into one person. The profile may
   * show them; they are never claimed in D1 and never cause merges.
   */
  attributes: Identifier[];
  /**
   * `alias` only: the raw `previousId`. It is in `identifiers` as an `anonymous_id` (Segment's usual meaning:
   * the visitor before they logged in); pass it on in `ResolveInput.previousId` so the store can link the
   * existing `user_id` instead when a profile already owns this value as a user id.
   */
  previousId?: string;
}

/**
 * The identifiers of one accepted message, under a workspace's rules.
 *
 * Sources: `userId` → user_id, `anonymousId` → anonymous_id, `context.device.id` → device_id,
 * `traits.email|phone` (identify only: a group's traits describe the company) and `context.traits.email|phone`,
 * `context.externalIds[]` (`{id, type}`, type lowercased), the workspace's promoted trait keys, and for alias
 * messages `previousId` (as anonymous_id, see {@link ExtractedIdentifiers.previousId}). Values with no canonical
 * form (an email that is no address, a phone with no E.164 form under the workspace's `defaultCountry`) land in
 * `blocked` with the reason; the traits that carried them are stored as sent.
 *
 * @example extractIdentifiers(msg, DEFAULT_IDENTITY_RULES).identifiers // [{type:"user_id",value:"42"}, {type:"email",value:"jane@example.com"}]
 */
export function extractIdentifiers(msg: AcceptedMessage, rules: IdentityRules): ExtractedIdentifiers {
  const out: ExtractedIdentifiers = { identifiers: [], blocked: [], attributes: [] };
  const seen = new Set<string>();
  const add = (type: string, raw: unknown) => {
    if (raw === undefined || raw === null) return;
    const n = normalizeIdentifier(type, raw, { defaultCountry: rules.defaultCountry });
    if (!n.ok) {
      out.blocked.push({
        identifier: { type, value: typeof raw === "string" ? raw : JSON.stringify(raw) },
        reason: n.reason,
      });
      return;
    }
    const pattern = blockedBy(rules, n.identifier.value);
    if (pattern !== null) {
      out.blocked.push({ identifier: n.identifier, reason: `${type} value is blocked by the rule /${pattern}/i` });
      return;
    }
    const key = keyOf(n.identifier);
    if (seen.has(key)) return;
    seen.add(key);
    if (type === "group_id") out.attributes.push(n.identifier);
    else out.identifiers.push(n.identifier);
  };

  const context = objectOrUndefined(msg.context);
  const contextTraits = objectOrUndefined(context?.traits);
  const traits = msg.type === "identify" ? objectOrUndefined(msg.traits) : undefined;

  add("user_id", msg.userId);
  add("anonymous_id", msg.anonymousId);
  if (msg.type === "alias" && typeof msg.previousId === "string") {
    const previousId = msg.previousId.trim();
    // previousId equal to userId links nothing new; otherwise it names the same person's earlier identity.
    if (previousId !== (typeof msg.userId === "string" ? msg.userId.trim() : msg.userId)) {
      const before = out.identifiers.length;
      add("anonymous_id", previousId);
      if (out.identifiers.length > before) out.previousId = previousId;
    }
  }
  for (const field of ["email", "phone"]) {
    add(field, traits?.[field]);
    add(field, contextTraits?.[field]);
  }
  add("device_id", objectOrUndefined(context?.device)?.id);
  const externalIds = context?.externalIds;
  if (Array.isArray(externalIds)) {
    for (const ext of externalIds) {
      const e = objectOrUndefined(ext);
      if (!e || e.id === undefined || e.id === null) continue;
      const type = typeof e.type === "string" ? e.type.trim().toLowerCase() : "";
      if (!IDENTIFIER_TYPE_PATTERN.test(type)) {
        out.blocked.push({
          identifier: { type, value: String(e.id) },
          reason: `externalIds type ${JSON.stringify(e.type)} is not an identifier type (lowercase letters, digits, _)`,
        });
        continue;
      }
      add(type, e.id);
    }
  }
  for (const key of rules.promotedTraits) {
    add(key, traits?.[key]);
    add(key, contextTraits?.[key]);
  }
  if (msg.type === "group") add("group_id", msg.groupId);
  return out;
}
