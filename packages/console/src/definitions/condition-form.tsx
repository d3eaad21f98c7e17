/**
 * The audience builder's condition form (DESIGN §6 grammar): a tree of all/any/not groups and event, trait,
 * computed-trait and audience conditions. Every change hands the whole new definition up, so the JSON view beside
 * it stays in sync; an API error is shown at the node its JSON path names.
 */
import { CONDITION_OPS, COUNT_OPS } from "@tessera/protocol/audience-ops";
import { ErrorNote } from "../components/notes";
import { capitalized, conditionName, filterName, groupName, type Place, placeNumber } from "./condition-place";
import { ValueField } from "./value-field";

// biome-ignore lint/suspicious/noExplicitAny: a definition is edited as free JSON; the API validates it
export type Json = Record<string, any>;

export const NEW_CONDITIONS: Record<string, () => Json> = {
  event: () => ({ event: "Order Completed", within: "30d" }),
  trait: () => ({ trait: "plan", op: "eq", value: "pro" }),
  computed: () => ({ computed: "lifetime_value", op: "gte", value: 100 }),
  audience: () => ({ audience: "" }),
  not: () => ({ not: { event: "Email Opened", within: "60d" } }),
  all: () => ({ all: [] }),
  any: () => ({ any: [] }),
};
const CONDITION_LABELS: Record<string, string> = {
  event: "Event condition",
  trait: "Trait condition",
  computed: "Computed trait condition",
  audience: "Audience membership",
  not: "Not (negation)",
  all: "All of (group)",
  any: "Any of (group)",
};

/** The JSON paths of every node and `where` condition, as the API's messages write them. */
export function nodePaths(node: Json, path = "definition"): string[] {
  const paths = [path];
  for (const group of ["all", "any"] as const) {
    const children: Json[] = Array.isArray(node[group]) ? node[group] : [];
    for (const [i, child] of children.entries()) paths.push(...nodePaths(child, `${path}.${group}[${i}]`));
  }
  if (node.not && typeof node.not === "object") paths.push(...nodePaths(node.not, `${path}.not`));
  const where: unknown[] = Array.isArray(node.where) ? node.where : [];
  for (const i of where.keys()) paths.push(`${path}.where[${i}]`);
  return paths;
}

interface NodeProps {
  node: Json;
  /** The JSON path, which the API's messages name: where an error shows. Never said to the user. */
  path: string;
  /** The position, which the controls' names say; the top level when left out. */
  place?: Place;
  onChange(node: Json): void;
  onRemove?(): void;
  errorAt?: string;
  error?: string;
}

export function ConditionNode(props: NodeProps) {
  const { node, path, place = [], onChange, onRemove, errorAt, error } = props;
  const here = errorAt === path ? <ErrorNote error={error} /> : null;
  const remove = onRemove ? (
    <button type="button" class="quiet" onClick={onRemove} aria-label={`Remove ${conditionName(place)}`}>
      Remove
    </button>
  ) : null;
  // Numbered where it can be removed, i.e. in a group: the number its controls' names say.
  const number = onRemove ? <span class="place">{placeNumber(place)}</span> : null;
  const set = (field: string, value: unknown) => {
    const next = { ...node };
    if (value === "" || value === undefined) delete next[field];
    else next[field] = value;
    onChange(next);
  };

  for (const group of ["all", "any"] as const) {
    if (!Array.isArray(node[group])) continue;
    const children: Json[] = node[group];
    return (
      <fieldset class="node group" data-path={path}>
        <legend>
          {number}
          <select
            aria-label={place.length === 0 ? "Top-level group" : `Group ${placeNumber(place)}`}
            value={group}
            onChange={(e) => onChange({ [e.currentTarget.value]: children })}
          >
            <option value="all">All of</option>
            <option value="any">Any of</option>
          </select>{" "}
          these {remove}
        </legend>
        {here}
        {children.map((child, i) => (
          <ConditionNode
            key={i}
            node={child}
            path={`${path}.${group}[${i}]`}
            place={[...place, i + 1]}
            onChange={(c) => onChange({ [group]: children.map((old, j) => (j === i ? c : old)) })}
            onRemove={() => onChange({ [group]: children.filter((_, j) => j !== i) })}
            errorAt={errorAt}
            error={error}
          />
        ))}
        <AddCondition place={place} onAdd={(c) => onChange({ [group]: [...children, c] })} />
      </fieldset>
    );
  }
  if (node.not && typeof node.not === "object") {
    return (
      <fieldset class="node not" data-path={path}>
        <legend>
          {number}Not {remove}
        </legend>
        {here}
        <ConditionNode
          node={node.not}
          path={`${path}.not`}
          place={place}
          onChange={(c) => onChange({ not: c })}
          errorAt={errorAt}
          error={error}
        />
      </fieldset>
    );
  }
  if ("event" in node) {
    const where: Json[] = Array.isArray(node.where) ? node.where : [];
    const count: Json | undefined = node.count;
    return (
      <fieldset class="node leaf" data-path={path}>
        <legend>
          {number}Event {remove}
        </legend>
        <div class="fields">
          <Field label="Event name" value={node.event} onInput={(v) => onChange({ ...node, event: v })} />
          <Field label="Within" value={node.within ?? ""} placeholder="30d" onInput={(v) => set("within", v)} />
          <label>
            Count
            <select
              value={count?.op ?? "gte"}
              onChange={(e) => set("count", { op: e.currentTarget.value, value: count?.value ?? 1 })}
            >
              {COUNT_OPS.map((op) => (
                <option key={op}>{op}</option>
              ))}
            </select>
          </label>
          <ValueField
            label="Times"
            kind="number"
            value={count?.value ?? 1}
            onChange={(v) => set("count", { op: count?.op ?? "gte", value: v })}
          />
        </div>
        {here}
        {where.map((w, i) => (
          <WhereRow
            key={i}
            condition={w}
            path={`${path}.where[${i}]`}
            name={filterName(place, i)}
            onChange={(c) =>
              set(
                "where",
                where.map((old, j) => (j === i ? c : old)),
              )
            }
            onRemove={() => set("where", where.length > 1 ? where.filter((_, j) => j !== i) : undefined)}
            errorAt={errorAt}
            error={error}
          />
        ))}
        <button
          type="button"
          class="quiet"
          onClick={() => set("where", [...where, { property: "", op: "eq", value: "" }])}
          aria-label={place.length === 0 ? undefined : `Add property filter to ${conditionName(place)}`}
        >
          Add property filter
        </button>
      </fieldset>
    );
  }
  const compared = "trait" in node ? "trait" : "computed" in node ? "computed" : null;
  if (compared) {
    return (
      <fieldset class="node leaf" data-path={path}>
        <legend>
          {number}
          {compared === "trait" ? "Trait" : "Computed trait"} {remove}
        </legend>
        <div class="fields">
          <Field
            label={compared === "trait" ? "Trait" : "Computed trait key"}
            value={node[compared]}
            onInput={(v) => onChange({ ...node, [compared]: v })}
          />
          <OpSelect value={node.op} onChange={(op) => onChange({ ...node, op })} />
          <ValueField label="Value" value={node.value} op={node.op} onChange={(v) => set("value", v)} />
        </div>
        {here}
      </fieldset>
    );
  }
  if ("audience" in node) {
    return (
      <fieldset class="node leaf" data-path={path}>
        <legend>
          {number}In audience {remove}
        </legend>
        <Field label="Audience key" value={node.audience} onInput={(v) => onChange({ audience: v })} />
        {here}
      </fieldset>
    );
  }
  return (
    <fieldset class="node leaf" data-path={path}>
      <legend>
        {number}Unrecognised condition {remove}
      </legend>
      <p class="muted">Edit it in the JSON view.</p>
      {here}
    </fieldset>
  );
}

function WhereRow(props: {
  condition: Json;
  path: string;
  /** "property filter 1 of condition 2": what its controls are named after. */
  name: string;
  onChange(c: Json): void;
  onRemove(): void;
  errorAt?: string;
  error?: string;
}) {
  const { condition, path, name, onChange, onRemove, errorAt, error } = props;
  return (
    // A group, so its Property, Operator and Value are heard with the filter they belong to.
    <fieldset class="where" data-path={path} aria-label={capitalized(name)}>
      <div class="fields">
        <Field
          label="Property"
          value={condition.property ?? ""}
          onInput={(v) => onChange({ ...condition, property: v })}
        />
        <OpSelect value={condition.op} onChange={(op) => onChange({ ...condition, op })} />
        <ValueField
          label="Value"
          value={condition.value}
          op={condition.op}
          onChange={(v) => onChange({ ...condition, value: v })}
        />
        <button type="button" class="quiet" onClick={onRemove} aria-label={`Remove ${name}`}>
          Remove
        </button>
      </div>
      {errorAt === path ? <ErrorNote error={error} /> : null}
    </fieldset>
  );
}

function AddCondition({ place, onAdd }: { place: Place; onAdd(node: Json): void }) {
  return (
    <div class="row add">
      <label>
        Add
        <select
          aria-label={`Add a condition to ${groupName(place)}`}
          value=""
          onChange={(e) => {
            const make = NEW_CONDITIONS[e.currentTarget.value];
            if (make) onAdd(make());
            e.currentTarget.value = "";
          }}
        >
          <option value="">a condition…</option>
          {Object.entries(CONDITION_LABELS).map(([kind, label]) => (
            <option key={kind} value={kind}>
              {label}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

export function OpSelect({ value, onChange }: { value: string; onChange(op: string): void }) {
  return (
    <label>
      Operator
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {CONDITION_OPS.map((op) => (
          <option key={op}>{op}</option>
        ))}
      </select>
    </label>
  );
}

export function Field(props: { label: string; value: string; placeholder?: string; onInput(value: string): void }) {
  return (
    <label>
      {props.label}
      <input
        value={props.value}
        placeholder={props.placeholder}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
    </label>
  );
}
