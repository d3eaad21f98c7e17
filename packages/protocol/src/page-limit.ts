/** The `limit` query parameter of every paged route: text on the wire, a checked whole number after parsing. */
import { z } from "zod";

/** A value as a reason quotes it: JSON, cut at 40 characters. */
export const quoted = (value: unknown) => {
  const text = String(value);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
};

/**
 * `limit` for a page of `what` (`"Events"`, `"Members"`): 1–`max`, `fallback` when left out.
 *
 * @example pageLimit("Events", 50, 1000).parse("20") // 20
 */
export function pageLimit(what: string, fallback: number, max: number) {
  // One reason for every wrong value, "-1" included (a whole number, but not one a page can have).
  const reason = (value: unknown) => `limit must be a whole number from 1 to ${max}, got ${quoted(value)}`;
  return z
    .string({ error: (issue) => reason(issue.input) })
    .superRefine((value, ctx) => {
      if (!/^\d{1,7}$/.test(value) || Number(value) < 1 || Number(value) > max) ctx.addIssue(reason(value));
    })
    .transform(Number)
    .default(fallback)
    .meta({
      description: `${what} per page, 1–${max}.`,
      // The wire value is text; documented as what it means.
      type: "integer",
      minimum: 1,
      maximum: max,
      default: fallback,
    });
}
