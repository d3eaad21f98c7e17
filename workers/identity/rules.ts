import { BUILTIN_IDENTIFIER_TYPES, IDENTIFIER_TYPE_PATTERN } from "@tessera/protocol";
import { findIdentityRules } from "../../d1/queries/workspaces";
import { isolateCache } from "../shared/isolate-cache";

/**
 * A workspace's identity resolution rules (Segment's "Identity Resolution settings").
 * On the wire and in `workspaces.identity_rules` they are snake_case JSON (see {@link identityRulesToJson}).
 */
export interface IdentityRules {
  /** Values that are never identifiers (`null`, `undefined`, `-1`, …), as regular expression sources, matched case-insensitively. */
  blockedValues: string[];
  /** How many identifiers of a type one profile may hold (`user_id`: 1). Types not listed get `defaultLimit`. */
  limits: Record<string, number>;
  /** The limit for every type `limits` does not name (Segment: 5). */
  defaultLimit: number;
  /**
   * Identifier types, most trusted first; a message that would break a limit drops the lower ones.
   * Types not listed rank after every listed type, in alphabetical order (stable across messages).
   */
  priority: string[];
  /** Trait keys promoted to identifiers of the same name (e.g. `loyalty_id`). */
  promotedTraits: string[];
  /** A merge that would give the survivor more merges than this is refused (the identifier is dropped). */
  maxMergesPerProfile: number;
  /** An attach or merge that would give a profile more identifiers than this is refused. */
  maxIdentifiersPerProfile: number;
}

/** Segment's defaults: junk values blocked, one user id per profile, five of anything else. */
export const DEFAULT_IDENTITY_RULES: Readonly<IdentityRules> = Object.freeze({
  blockedValues: ["^[0-]*$", "^-1$", "^null$", "^undefined$", "^anonymous$", "^\\[object Object\\]$", "^$"],
  limits: { user_id: 1 },
  defaultLimit: 5,
  priority: ["user_id", "email", "phone", "device_id", "anonymous_id"],
  promotedTraits: [],
  maxMergesPerProfile: 100,
  maxIdentifiersPerProfile: 1000,
});

/** The limit one profile may hold of `type`. */
export function limitFor(rules: IdentityRules, type: string): number {
  return rules.limits[type] ?? rules.defaultLimit;
}

/** Sort key of a type: its index in `priority`, unlisted types after all listed ones. */
export function priorityRank(rules: IdentityRules, type: string): number {
  const i = rules.priority.indexOf(type);
  return i === -1 ? rules.priority.length : i;
}

/** Identifiers in the order rules decide them: by priority, then (for unlisted types) by type name, then input order. */
export function byPriority<T extends { type: string }>(rules: IdentityRules, ids: readonly T[]): T[] {
  return ids
    .map((id, index) => ({ id, index, rank: priorityRank(rules, id.type) }))
    .sort(
      (a, b) => a.rank - b.rank || (a.id.type < b.id.type ? -1 : a.id.type > b.id.type ? 1 : 0) || a.index - b.index,
    )
    .map((x) => x.id);
}

const compiled = new WeakMap<IdentityRules, RegExp[]>();

/** The blocked-value pattern `value` matches, or null. Patterns are compiled once per rules object. */
export function blockedBy(rules: IdentityRules, value: string): string | null {
  let patterns = compiled.get(rules);
  if (!patterns) {
    patterns = rules.blockedValues.map((source) => new RegExp(source, "i"));
    compiled.set(rules, patterns);
  }
  for (const [i, re] of patterns.entries()) if (re.test(value)) return rules.blockedValues[i];
  return null;
}

/** The rules as the API shows and stores them (snake_case, like every Tessera wire shape). */
export interface IdentityRulesJson {
  blocked_values: string[];
  limits: Record<string, number>;
  default_limit: number;
  priority: string[];
  promoted_traits: string[];
  max_merges_per_profile: number;
  max_identifiers_per_profile: number;
}

export function identityRulesToJson(rules: IdentityRules): IdentityRulesJson {
  return {
    blocked_values: [...rules.blockedValues],
    limits: { ...rules.limits },
    default_limit: rules.defaultLimit,
    priority: [...rules.priority],
    promoted_traits: [...rules.promotedTraits],
    max_merges_per_profile: rules.maxMergesPerProfile,
    max_identifiers_per_profile: rules.maxIdentifiersPerProfile,
  };
}

export type ParsedRules = { ok: true; rules: IdentityRules } | { ok: false; field: string; message: string };

/** Built-in types come from their own message fields; `group_id` identifies a company, never a person. */
const RESERVED_TRAIT_TYPES = new Set<string>(BUILTIN_IDENTIFIER_TYPES);
const MAX_PATTERNS = 100;
const MAX_PATTERN_LENGTH = 200;
const MAX_LIST = 64;

/**
 * Validate rules JSON (the `PUT /v1/identity-rules` body, or a stored value). Fields left out keep Segment's
 * default; unknown fields are refused so a typo never silently does nothing.
 *
 * @example parseIdentityRules({ limits: { user_id: 1, email: 2 } }) // { ok: true, rules: {...defaults, limits} }
 */
export function parseIdentityRules(input: unknown): ParsedRules {
  const fail = (field: string, message: string): ParsedRules => ({ ok: false, field, message: `${field}: ${message}` });
  if (typeof input !== "object" || input === null || Array.isArray(input)) return fail("body", "must be a JSON object");
  const o = input as Record<string, unknown>;
  const known = new Set<string>(Object.keys(identityRulesToJson(DEFAULT_IDENTITY_RULES)));
  for (const key of Object.keys(o))
    if (!known.has(key)) return fail(key, `unknown field (known: ${[...known].join(", ")})`);
  const rules: IdentityRules = { ...DEFAULT_IDENTITY_RULES, limits: { ...DEFAULT_IDENTITY_RULES.limits } };

  if (o.blocked_values !== undefined) {
    const list = o.blocked_values;
    if (!Array.isArray(list) || list.length > MAX_PATTERNS)
      return fail("blocked_values", `must be an array of at most ${MAX_PATTERNS} regular expressions`);
    for (const [i, source] of list.entries()) {
      if (typeof source !== "string" || source.length > MAX_PATTERN_LENGTH)
        return fail(`blocked_values[${i}]`, `must be a string of at most ${MAX_PATTERN_LENGTH} characters`);
      try {
        new RegExp(source, "i");
      } catch {
        return fail(`blocked_values[${i}]`, `is not a valid regular expression: ${source}`);
      }
    }
    rules.blockedValues = [...list];
  }
  if (o.limits !== undefined) {
    const limits = o.limits;
    if (typeof limits !== "object" || limits === null || Array.isArray(limits))
      return fail("limits", "must be an object of identifier type → count");
    for (const [type, n] of Object.entries(limits)) {
      if (!IDENTIFIER_TYPE_PATTERN.test(type)) return fail(`limits.${type}`, "is not a valid identifier type");
      if (!isCount(n, 1, 1000)) return fail(`limits.${type}`, "must be an integer from 1 to 1000");
    }
    rules.limits = { ...(limits as Record<string, number>) };
  }
  if (o.default_limit !== undefined) {
    if (!isCount(o.default_limit, 1, 1000)) return fail("default_limit", "must be an integer from 1 to 1000");
    rules.defaultLimit = o.default_limit;
  }
  for (const field of ["priority", "promoted_traits"] as const) {
    const list = o[field];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length > MAX_LIST)
      return fail(field, `must be an array of at most ${MAX_LIST} identifier types`);
    for (const [i, type] of list.entries()) {
      if (typeof type !== "string" || !IDENTIFIER_TYPE_PATTERN.test(type))
        return fail(
          `${field}[${i}]`,
          "must be an identifier type (lowercase letters, digits, _; starting with a letter)",
        );
      if (list.indexOf(type) !== i) return fail(`${field}[${i}]`, `lists ${type} twice`);
      if (field === "promoted_traits" && RESERVED_TRAIT_TYPES.has(type))
        return fail(`${field}[${i}]`, `${type} is a built-in identifier and cannot be a promoted trait`);
    }
    if (field === "priority") rules.priority = [...list];
    else rules.promotedTraits = [...list];
  }
  if (o.max_merges_per_profile !== undefined) {
    if (!isCount(o.max_merges_per_profile, 0, 10_000))
      return fail("max_merges_per_profile", "must be an integer from 0 to 10000");
    rules.maxMergesPerProfile = o.max_merges_per_profile;
  }
  if (o.max_identifiers_per_profile !== undefined) {
    if (!isCount(o.max_identifiers_per_profile, 1, 100_000))
      return fail("max_identifiers_per_profile", "must be an integer from 1 to 100000");
    rules.maxIdentifiersPerProfile = o.max_identifiers_per_profile;
  }
  return { ok: true, rules };
}

function isCount(n: unknown, min: number, max: number): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= min && n <= max;
}

/** Rules change rarely and are read on every ingestion batch, so each isolate keeps them a while. */
const rulesCache = isolateCache(async (workspaceId, db: D1Database) => {
  const row = await findIdentityRules(db, workspaceId);
  return row?.identityRules ? rulesFromStored(row.identityRules) : DEFAULT_IDENTITY_RULES;
});

/**
 * The workspace's rules (`workspaces.identity_rules`; null or unreadable means Segment's defaults), cached in
 * this isolate (`isolateCache`): other isolates pick up a change within `ISOLATE_CACHE_MS`.
 */
export async function loadIdentityRules(db: D1Database, workspaceId: string): Promise<IdentityRules> {
  return (await rulesCache.fetch(workspaceId, { context: db })) ?? DEFAULT_IDENTITY_RULES;
}

/** Drop this isolate's cached rules for a workspace (after `PUT /v1/identity-rules`). */
export function invalidateIdentityRules(workspaceId: string): void {
  rulesCache.delete(workspaceId);
}

function rulesFromStored(json: string): IdentityRules {
  try {
    const parsed = parseIdentityRules(JSON.parse(json));
    if (parsed.ok) return parsed.rules;
  } catch {
    // A stored value was validated on the way in; an unreadable one must not stop ingestion.
  }
  console.error("identity_rules: stored rules are invalid, using defaults");
  return DEFAULT_IDENTITY_RULES;
}
