/**
 * How a condition's value is typed in a text field: numbers, booleans and JSON arrays (for `in`) are read as such,
 * anything else is a string, as the grammar compares numbers as numbers and strings as strings (DESIGN §6).
 *
 * @example parseValueText("100") // 100
 * @example parseValueText('["pos","web"]') // ["pos", "web"]
 * @example parseValueText("pro") // "pro"
 */
export function parseValueText(text: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(text.trim())) return Number(text);
  if (text === "true" || text === "false") return text === "true";
  if (text.trim().startsWith("[")) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

export function valueText(value: unknown): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * The JSON path of the definition node an API error is about: the longest of `nodePaths` that the error's path
 * (`definition.all[1].not.within: …`) starts with, so the message shows beside the condition that caused it.
 */
export function errorOwner(message: string | undefined, nodePaths: string[]): string | undefined {
  if (!message) return undefined;
  const path = message.match(/^(definition[^\s:]*):/)?.[1];
  if (!path) return undefined;
  let best: string | undefined;
  for (const p of nodePaths) {
    const owns = path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`);
    if (owns && (!best || p.length > best.length)) best = p;
  }
  return best;
}
