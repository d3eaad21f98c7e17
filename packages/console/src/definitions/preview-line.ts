/**
 * The builder's preview line. A count answers one definition: it is shown only while that definition is still the one
 * on screen, so neither the previous definition's count (a 30d count under a 45d definition, for the 5–12 s a new
 * count takes) nor a late answer to an older request is ever read as the current one.
 */
import type { AudiencePreview } from "@tessera/protocol";

/** What the preview request for one definition brought back: its size, or nothing when the API refused it. */
export interface PreviewAnswer {
  /** The definition asked about, as {@link definitionKey} writes it. */
  for: string;
  preview?: AudiencePreview;
}

/** The same text for the same definition, whichever object holds it. */
export function definitionKey(definition: unknown): string {
  return JSON.stringify(definition);
}

/**
 * @example previewLine("audiences", definitionKey(d), { for: definitionKey(d), preview: { size: 3, sample: [] } })
 * // "Preview: 3 profiles would be in this audience now"
 */
export function previewLine(kind: "audiences" | "computed-traits", current: string, answer?: PreviewAnswer): string {
  if (answer?.for !== current) return "Preview: counting…";
  const p = answer.preview;
  if (!p) return "Preview: fix the definition first";
  const profiles = `${p.estimated ? "about " : ""}${p.size} ${p.size === 1 ? "profile" : "profiles"}`;
  return `Preview: ${profiles} ${kind === "audiences" ? "would be in this audience now" : "would hold a value now"}`;
}
