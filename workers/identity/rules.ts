// Placeholder: the identity work owns this file (Segment's default rules, per-workspace overrides).
export interface IdentityRules {
  /** Values that are never identifiers (`null`, `undefined`, `-1`, …), as regular expression sources. */
  blockedValues: string[];
  /** How many identifiers of a type one profile may hold (`user_id`: 1, others: 5). */
  limits: Record<string, number>;
  /** Identifier types, most trusted first; a message that would break a limit drops the lower ones. */
  priority: string[];
  /** Trait keys promoted to identifiers of the same name (e.g. `loyalty_id`). */
  promotedTraits: string[];
  maxMergesPerProfile: number;
  maxIdentifiersPerProfile: number;
}
