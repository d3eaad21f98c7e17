/**
 * How a condition's value is compared (DESIGN §6: numbers compare as numbers, strings as strings). The user picks it
 * beside the field: guessing from the text turned a store id `0042` into the number 42 and `true` into a boolean, and
 * such an audience matches nobody.
 */
export type ValueKind = "text" | "number" | "boolean" | "list";

export const VALUE_KINDS: ReadonlyArray<{ kind: ValueKind; label: string }> = [
  { kind: "text", label: "text" },
  { kind: "number", label: "number" },
  { kind: "boolean", label: "true/false" },
  { kind: "list", label: "list (JSON)" },
];

/** The kind a stored value is compared as: what its field's "Compare as" shows. */
export function valueKind(value: unknown): ValueKind {
  if (typeof value === "number") return "number";
  if (typeof value === "boolean") return "boolean";
  if (Array.isArray(value)) return "list";
  return "text";
}

/**
 * The kind an operator implies, if any: an ordering compares numbers (a marketer typing 100 after "gte" means the
 * number; as text it would match nobody), `in` takes a list. The other operators leave the choice to the user.
 *
 * @example kindForOp("gte") // "number"
 * @example kindForOp("eq") // undefined
 */
export function kindForOp(op: unknown): ValueKind | undefined {
  if (op === "gt" || op === "gte" || op === "lt" || op === "lte") return "number";
  if (op === "in") return "list";
  return undefined;
}

export type ParsedValue = { ok: true; value: unknown } | { ok: false; problem: string };

/** Decimal numbers only: `Number()` would also read `0x10`, `Infinity` and a blank as numbers. */
const DECIMAL = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * The value `text` means when compared as `kind`. Text is kept exactly as typed (spaces and leading zeros too).
 *
 * @example parseValueAs("0042", "text") // { ok: true, value: "0042" }
 * @example parseValueAs("42.5", "number") // { ok: true, value: 42.5 }
 * @example parseValueAs('["pos","web"]', "list") // { ok: true, value: ["pos", "web"] }
 */
export function parseValueAs(text: string, kind: ValueKind): ParsedValue {
  switch (kind) {
    case "text":
      return { ok: true, value: text };
    case "number": {
      const t = text.trim();
      return DECIMAL.test(t) ? { ok: true, value: Number(t) } : { ok: false, problem: `"${text}" is not a number` };
    }
    case "boolean": {
      const t = text.trim();
      return t === "true" || t === "false"
        ? { ok: true, value: t === "true" }
        : { ok: false, problem: "Type true or false" };
    }
    case "list": {
      try {
        const value: unknown = JSON.parse(text);
        if (Array.isArray(value)) return { ok: true, value };
      } catch {
        // said below
      }
      return { ok: false, problem: 'Type a JSON list: ["pos","web"]' };
    }
  }
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
