import { IDENTIFIER_TYPE_PATTERN, type Identifier, MAX_IDENTIFIER_LENGTH } from "@tessera/protocol";

export type NormalizedIdentifier = { ok: true; identifier: Identifier } | { ok: false; reason: string };

/**
 * One identifier in its canonical form, so the same person's value always hits the same D1 row:
 * trimmed; emails lowercased; phones in E.164 when the country is known (`+…`, `00…`), bare digits otherwise.
 * Workspace rules (blocked values) are applied separately, by `extractIdentifiers`.
 *
 * @example normalizeIdentifier("email", " Jane@Example.com ") // { ok: true, identifier: { type: "email", value: "jane@example.com" } }
 * @example normalizeIdentifier("phone", "0044 (20) 7946-0000") // { ok: true, identifier: { type: "phone", value: "+442079460000" } }
 */
export function normalizeIdentifier(type: string, raw: unknown): NormalizedIdentifier {
  if (!IDENTIFIER_TYPE_PATTERN.test(type))
    return { ok: false, reason: `identifier type ${JSON.stringify(type)} is invalid` };
  if (typeof raw === "number" && Number.isFinite(raw)) raw = String(raw);
  if (typeof raw !== "string") return { ok: false, reason: `${type} must be a string` };
  let value = raw.trim();
  if (value === "") return { ok: false, reason: `${type} is empty` };
  if (value.length > MAX_IDENTIFIER_LENGTH)
    return { ok: false, reason: `${type} is longer than ${MAX_IDENTIFIER_LENGTH} characters` };
  if (type === "email") {
    value = value.toLowerCase();
    const at = value.lastIndexOf("@");
    if (at <= 0 || at === value.length - 1) return { ok: false, reason: "email is not an address (no user@domain)" };
  } else if (type === "phone") {
    const phone = normalizePhone(value);
    if (phone === null) return { ok: false, reason: "phone is not a phone number" };
    value = phone;
  }
  return { ok: true, identifier: { type, value } };
}

/** E.164 needs a country code, which only `+` or the international `00` prefix tells us; otherwise keep the digits. */
function normalizePhone(value: string): string | null {
  let s = value.replace(/[\s\-.()/]/g, "");
  if (s.startsWith("00")) s = `+${s.slice(2)}`;
  if (/^\+\d{6,15}$/.test(s)) return s;
  if (/^\d{3,17}$/.test(s)) return s;
  return null;
}
