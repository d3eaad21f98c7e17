/**
 * What makes a value an identifier, as far as needs no workspace and no library: Segment's default blocked values and
 * the email address check. Shared by identity resolution in the Worker and by `tessera import`, whose dry run judges
 * rows as the collector will.
 */

/**
 * Segment's default blocked values, as regular expression sources matched case-insensitively against a normalised
 * identifier: values that name nobody (`0`, `-1`, `null`, `undefined`, `anonymous`, `[object Object]`, empty) and would
 * otherwise merge everyone who sent them into one profile. A workspace's identity rules may replace the list.
 */
export const DEFAULT_BLOCKED_VALUES: readonly string[] = Object.freeze([
  "^[0-]*$",
  "^-1$",
  "^null$",
  "^undefined$",
  "^anonymous$",
  "^\\[object Object\\]$",
  "^$",
]);

/** Characters an unquoted local part cannot hold (RFC 5321 dot-atom): whitespace, controls, quotes, brackets, … */
const LOCAL_FORBIDDEN = /[\s\p{Cc}"<>()[\]\\,;:]/u;
/** A domain label: letters (any script, for IDN), digits, inner hyphens; punycode `xn--…` labels are plain ASCII. */
const DOMAIN_LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?$/u;

/**
 * Why `email` (already lowercased) is not an address, or null. Pragmatic, not RFC 5322: what a mail system delivers
 * to and a person types. One `@`; a local part of 1–64 characters with nothing that needs quoting (`a b`, `"x"`,
 * `<script>`), dots left alone (some carriers issued `taro..@docomo.ne.jp`); a domain of at most 253 characters, two
 * or more labels of at most 63 letters, digits and inner hyphens, and a top-level label that is not all digits
 * (no address literals). Internationalised domains pass in either form (`bücher.de`, `xn--bcher-kva.de`); the two
 * are not unified, since destinations get the address as written.
 *
 * @example emailProblem("jane+news@mail.example.co.uk") // null
 * @example emailProblem("a@") // "nothing after the @"
 */
export function emailProblem(email: string): string | null {
  const at = email.indexOf("@");
  if (at === -1) return "no @";
  if (email.indexOf("@", at + 1) !== -1) return "more than one @";
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local === "") return "nothing before the @";
  if (domain === "") return "nothing after the @";
  if (local.length > 64) return "the part before the @ is longer than 64 characters";
  if (LOCAL_FORBIDDEN.test(local)) return "the part before the @ holds a space, quote, bracket or other character";
  if (domain.length > 253) return "the domain is longer than 253 characters";
  const labels = domain.split(".");
  if (labels.length < 2) return "the domain has no dot";
  for (const label of labels) {
    if (label.length > 63 || !DOMAIN_LABEL.test(label)) {
      return `the domain label ${JSON.stringify(label)} is not letters, digits and inner hyphens`;
    }
  }
  if (/^\d+$/.test(labels[labels.length - 1])) return "the domain ends in a number";
  return null;
}
