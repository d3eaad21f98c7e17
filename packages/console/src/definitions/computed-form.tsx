/** The computed-trait builder's form (DESIGN §6): what to compute, over which events, in which window. */
import { COMPUTED_TRAIT_OPS } from "@tessera/protocol/audience-ops";
import { ErrorNote } from "../components/notes";
import { Field, type Json, OpSelect } from "./condition-form";
import { capitalized, filterName } from "./condition-place";
import { ValueField } from "./value-field";

export function computedPaths(definition: Json): string[] {
  const where: unknown[] = Array.isArray(definition.where) ? definition.where : [];
  return ["definition", ...where.map((_, i) => `definition.where[${i}]`)];
}

export function ComputedForm(props: { definition: Json; onChange(d: Json): void; errorAt?: string; error?: string }) {
  const { definition: d, onChange, errorAt, error } = props;
  const set = (field: string, value: unknown) => {
    const next = { ...d };
    if (value === "" || value === undefined) delete next[field];
    else next[field] = value;
    onChange(next);
  };
  const where: Json[] = Array.isArray(d.where) ? d.where : [];
  return (
    <fieldset class="node leaf" data-path="definition">
      <legend>Compute</legend>
      <div class="fields">
        <label>
          Operation
          <select value={d.op} onChange={(e) => set("op", e.currentTarget.value)}>
            {COMPUTED_TRAIT_OPS.map((op) => (
              <option key={op}>{op}</option>
            ))}
          </select>
        </label>
        <Field
          label="Event name"
          value={d.event ?? ""}
          placeholder="Order Completed or *"
          onInput={(v) => set("event", v)}
        />
        <Field label="Property" value={d.property ?? ""} placeholder="revenue" onInput={(v) => set("property", v)} />
        <Field label="Within" value={d.within ?? ""} placeholder="365d" onInput={(v) => set("within", v)} />
      </div>
      {errorAt === "definition" ? <ErrorNote error={error} /> : null}
      {where.map((w, i) => (
        // A group, so its Property, Operator and Value are heard with the filter they belong to.
        <fieldset
          class="where"
          key={i}
          data-path={`definition.where[${i}]`}
          aria-label={capitalized(filterName([], i))}
        >
          <div class="fields">
            <Field
              label="Property"
              value={w.property ?? ""}
              onInput={(v) =>
                set(
                  "where",
                  where.map((old, j) => (j === i ? { ...w, property: v } : old)),
                )
              }
            />
            <OpSelect
              value={w.op}
              onChange={(op) =>
                set(
                  "where",
                  where.map((old, j) => (j === i ? { ...w, op } : old)),
                )
              }
            />
            <ValueField
              label="Value"
              value={w.value}
              op={w.op}
              onChange={(v) =>
                set(
                  "where",
                  where.map((old, j) => (j === i ? { ...w, value: v } : old)),
                )
              }
            />
            <button
              type="button"
              class="quiet"
              onClick={() => set("where", where.length > 1 ? where.filter((_, j) => j !== i) : undefined)}
              aria-label={`Remove ${filterName([], i)}`}
            >
              Remove
            </button>
          </div>
          {errorAt === `definition.where[${i}]` ? <ErrorNote error={error} /> : null}
        </fieldset>
      ))}
      <button
        type="button"
        class="quiet"
        onClick={() => set("where", [...where, { property: "", op: "eq", value: "" }])}
      >
        Add property filter
      </button>
    </fieldset>
  );
}
