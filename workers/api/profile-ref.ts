/** The `:ref` of `/v1/profiles/:ref`: a profile id, or an identifier written `type:value`. */
import { z } from "@hono/zod-openapi";
import type { Identifier } from "@tessera/protocol";
import { normalizeIdentifier } from "../identity/extract";

export type ProfileRef =
  | { kind: "id"; profileId: string }
  | { kind: "identifier"; identifier: Identifier }
  /**
   * A phone number written without its country code (`phone:020 7946 0000`): which number it is depends on the
   * workspace's `default_country`, as it did when the collector stored it, so it is normalised once that is known.
   */
  | { kind: "national-phone"; value: string };
export type ParsedProfileRef = { ok: true; ref: ProfileRef } | { ok: false; reason: string };

/** Profile ids are `prf_` plus a short opaque tail; anything longer or stranger is not one of ours. */
const PROFILE_ID = /^prf_[A-Za-z0-9_-]{1,64}$/;
const SHAPE_HINT = "use a profile id (prf_…) or type:value, e.g. email:jane%40example.com or user_id:42";

/**
 * Parses an already URL-decoded ref. The value is normalised exactly as the collector normalises it, so
 * `email:Jane@Example.com` finds the profile that `jane@example.com` created. The type is matched
 * case-insensitively (identifier types are lowercase words); the value may itself contain `:`.
 *
 * @example parseProfileRef("email: Jane@Example.com") // { ok: true, ref: { kind: "identifier", identifier: { type: "email", value: "jane@example.com" } } }
 * @example parseProfileRef("prf_8x2k…") // { ok: true, ref: { kind: "id", profileId: "prf_8x2k…" } }
 */
export function parseProfileRef(raw: string): ParsedProfileRef {
  const colon = raw.indexOf(":");
  if (colon === -1) {
    if (PROFILE_ID.test(raw)) return { ok: true, ref: { kind: "id", profileId: raw } };
    return {
      ok: false,
      reason: `Profile ref ${JSON.stringify(clip(raw))} is not a profile id or type:value: ${SHAPE_HINT}`,
    };
  }
  const type = raw.slice(0, colon).trim().toLowerCase();
  const value = raw.slice(colon + 1);
  if (type === "") return { ok: false, reason: `Profile ref has no identifier type before ":": ${SHAPE_HINT}` };
  if (value.trim() === "")
    return { ok: false, reason: `Profile ref ${JSON.stringify(clip(raw))} has an empty ${type} value` };
  // DESIGN §4: a group id names a company many profiles share, so it is shown on each of them but finds none.
  if (type === "group_id")
    return {
      ok: false,
      reason:
        "Profile ref names a group_id: a company that many profiles share, never one person's identifier; " +
        "look a person up by a profile id or an identifier such as user_id, email or anonymous_id",
    };
  if (type === "phone" && isNationalNumber(value)) return { ok: true, ref: { kind: "national-phone", value } };
  const normalized = normalizeIdentifier(type, value);
  if (!normalized.ok) return { ok: false, reason: `Profile ref is invalid: ${normalized.reason}` };
  return { ok: true, ref: { kind: "identifier", identifier: normalized.identifier } };
}

/**
 * The path parameters of `/v1/profiles/{ref}…`, validated to a parsed {@link ProfileRef}. The reasons name the ref
 * themselves (`Profile ref "42" is not a profile id…`), so they are reported on the parameters as a whole.
 *
 * @example createRoute({ path: "/v1/profiles/{ref}", request: { params: ProfileRefParams } }) // c.req.valid("param")
 */
export const ProfileRefParams = z
  .object({
    ref: z.string().meta({
      param: { name: "ref", in: "path" },
      description:
        "A profile id (`prf_…`) or an identifier `type:value`, URL-encoded: `email:jane%40example.com`, `user_id:42`. " +
        "The value is normalised as the collector normalises it.",
      example: "email:jane%40example.com",
    }),
  })
  .transform((params, ctx) => {
    const parsed = parseProfileRef(params.ref);
    if (parsed.ok) return parsed.ref;
    ctx.addIssue({ code: "custom", message: parsed.reason, input: params });
    return z.NEVER;
  });

/** How a ref is named in messages: readable, never an echo of an attacker's megabyte. */
export function describeRef(ref: ProfileRef): string {
  if (ref.kind === "id") return ref.profileId;
  if (ref.kind === "national-phone") return `phone:${clip(ref.value.trim())}`;
  return `${ref.identifier.type}:${clip(ref.identifier.value)}`;
}

/** Digits with no `+` or `00` in front: a number of some country, which the number itself does not name. */
function isNationalNumber(value: string): boolean {
  return /\d/.test(value) && !/^\s*(\+|00)/.test(value);
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
