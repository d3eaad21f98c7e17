/**
 * The API's validation messages name JSON paths (`config.secret: must be …`, `definition.all[1].not.within: …`):
 * right for an engineer reading the API, meaningless to a marketer looking at a form. Beside a form the console names
 * the field as the form labels it instead, so the message still says where to look.
 */

/**
 * `message` with its leading JSON path replaced by `labelOf(path)`; as the API wrote it when it names no path or
 * `labelOf` knows none (the path at least names the field).
 *
 * @example forPeople("config.secret: must be at least 16 characters", (p) => p === "config.secret" ? "Signing secret" : undefined)
 * // "Signing secret: must be at least 16 characters"
 */
export function forPeople(message: string, labelOf: (path: string) => string | undefined): string {
  const named = /^([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*|\[\d+\])*): ([\s\S]*)$/.exec(message);
  const label = named ? labelOf(named[1]) : undefined;
  return named && label ? `${label}: ${named[2]}` : message;
}
