/**
 * A condition's value: the text exactly as typed, and beside it how it is compared (text, number, true/false, list).
 * The field never rewrites what is typed: `42.0` compared as a number stays `42.0` on screen while the definition
 * holds 42, and a value the text cannot be (`4x` as a number) is said beside it, the definition left as it was.
 */
import { useEffect, useState } from "preact/hooks";
import {
  kindForOp,
  type ParsedValue,
  parseValueAs,
  VALUE_KINDS,
  type ValueKind,
  valueKind,
  valueText,
} from "./value-text";

export interface ValueFieldProps {
  label: string;
  value: unknown;
  onChange(value: unknown): void;
  /** Always this kind, with no choice shown (an event's count is a number). */
  kind?: ValueKind;
  /** The condition's operator: choosing an ordering (`gte`…) or `in` switches the kind to number or list. */
  op?: unknown;
}

export function ValueField({ label, value, onChange, kind: fixedKind, op }: ValueFieldProps) {
  const [text, setText] = useState(() => valueText(value));
  const [kind, setKind] = useState<ValueKind>(
    () => fixedKind ?? (value === undefined || value === "" ? kindForOp(op) : undefined) ?? valueKind(value),
  );
  const [problem, setProblem] = useState<string>();
  // The definition changed elsewhere (the JSON view, a removed sibling): show its value, unless it is already what
  // the text reads as, which would rewrite the text on every keystroke.
  const valueJson = JSON.stringify(value);
  useEffect(() => {
    const read = parseValueAs(text, kind);
    if (read.ok && JSON.stringify(read.value) === valueJson) return;
    setText(valueText(value));
    if (!fixedKind) setKind(valueKind(value));
    setProblem(undefined);
    // Only a new value from outside is the trigger; text and kind changes report through onChange.
  }, [valueJson]);

  const apply = (nextText: string, nextKind: ValueKind) => {
    setText(nextText);
    setKind(nextKind);
    const read: ParsedValue = parseValueAs(nextText, nextKind);
    setProblem(read.ok ? undefined : read.problem);
    if (read.ok) onChange(read.value);
  };
  // A new operator that implies a kind switches to it (the user may still choose another afterwards).
  useEffect(() => {
    const implied = fixedKind ? undefined : kindForOp(op);
    if (!implied || implied === kind) return;
    if (text === "") setKind(implied);
    else apply(text, implied);
  }, [op]);
  return (
    <>
      <label>
        {label}
        <input
          value={text}
          aria-invalid={problem ? true : undefined}
          onInput={(e) => apply(e.currentTarget.value, kind)}
        />
        {problem ? <span class="reason">{problem}</span> : null}
      </label>
      {fixedKind ? null : (
        <label>
          Compare as
          <select value={kind} onChange={(e) => apply(text, e.currentTarget.value as ValueKind)}>
            {VALUE_KINDS.map((k) => (
              <option key={k.kind} value={k.kind}>
                {k.label}
              </option>
            ))}
          </select>
        </label>
      )}
    </>
  );
}
