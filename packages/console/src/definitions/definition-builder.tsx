/**
 * Creating or changing an audience or a computed trait: the condition form and the JSON view edit one definition
 * (each change in one shows in the other at once), a live preview count follows every change, and the API's
 * validation message appears at the condition its JSON path names. A failed save keeps everything typed.
 */
import type { AudiencePreview } from "@tessera/protocol";
import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, messageOf } from "../api";
import { ErrorNote } from "../components/notes";
import { useDraft } from "../drafts";
import { forPeople } from "../field-message";
import { useLeaveGuard } from "../leave-guard";
import { ComputedForm, computedPaths } from "./computed-form";
import { ConditionNode, type Json, nodePaths } from "./condition-form";
import { builderFieldLabel } from "./definition-field";
import { definitionKey, type PreviewAnswer, previewLine } from "./preview-line";
import { errorOwner } from "./value-text";

export type DefinitionKind = "audiences" | "computed-traits";
const PREVIEW_DELAY_MS = 400;

export const NOUN: Record<DefinitionKind, string> = { audiences: "audience", "computed-traits": "computed trait" };

export const STARTER: Record<DefinitionKind, () => Json> = {
  audiences: () => ({
    all: [
      { event: "Order Completed", where: [{ property: "channel", op: "eq", value: "pos" }], within: "30d" },
      { not: { event: "Email Opened", within: "60d" } },
    ],
  }),
  "computed-traits": () => ({ op: "sum", event: "Order Completed", property: "revenue", within: "365d" }),
};

export interface BuilderProps {
  kind: DefinitionKind;
  /** Editing a saved one: its key (fixed) and current fields. */
  saved?: { key: string; name: string | null; description: string | null; definition: Json };
  onSaved?(): void;
  /** Editing a saved one: leaves the edit, dropping what was changed. */
  onCancel?(): void;
}

/** The builder's draft kept across an unasked sign-out (drafts.ts): the JSON view as typed, even when not valid yet. */
interface BuilderDraft {
  key: string;
  name: string;
  definition: Json;
  jsonText: string;
  jsonError?: string;
}

/** The id of the builder's draft: one builder a page, the new one or the saved one being edited. */
export const BUILDER_DRAFT = "definition-builder";

export function DefinitionBuilder({ kind, saved, onSaved, onCancel }: BuilderProps) {
  const { route } = useLocation();
  const draft = useDraft<BuilderDraft>(
    BUILDER_DRAFT,
    (): BuilderDraft => ({ key, name, definition, jsonText, jsonError }),
  );
  const [key, setKey] = useState(saved?.key ?? draft?.key ?? "");
  const [name, setName] = useState(draft?.name ?? saved?.name ?? "");
  const [definition, setDefinition] = useState<Json>(draft?.definition ?? saved?.definition ?? STARTER[kind]());
  const [jsonText, setJsonText] = useState(draft?.jsonText ?? JSON.stringify(definition, null, 2));
  const [jsonError, setJsonError] = useState<string | undefined>(draft?.jsonError);
  const [preview, setPreview] = useState<PreviewAnswer>();
  const [definitionError, setDefinitionError] = useState<string>();
  const [saveError, setSaveError] = useState<string>();
  const [saving, setSaving] = useState(false);
  // Save was asked while the JSON view did not parse: said at the button until the JSON view parses again.
  const [refused, setRefused] = useState(false);
  // What a link away would lose: anything changed since the builder opened (or last saved).
  const snapshot = () => JSON.stringify({ key, name, definition, jsonText: jsonError ? jsonText : "" });
  const [unchanged, setUnchanged] = useState(snapshot);
  useLeaveGuard(!saving && snapshot() !== unchanged, `this ${NOUN[kind]}`);

  const fromForm = (d: Json) => {
    setDefinition(d);
    setJsonText(JSON.stringify(d, null, 2));
    setJsonError(undefined);
    setRefused(false);
  };
  const fromJson = (text: string) => {
    setJsonText(text);
    try {
      const parsed = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        return setJsonError("JSON view: the definition must be a JSON object.");
      }
      setDefinition(parsed);
      setJsonError(undefined);
      setRefused(false);
    } catch (err) {
      setJsonError(`JSON view: ${messageOf(err)}`);
    }
  };

  const current = definitionKey(definition);
  useEffect(() => {
    const abort = new AbortController();
    const timer = setTimeout(() => {
      api<AudiencePreview>(`/v1/${kind}/preview`, {
        method: "POST",
        body: { definition },
        signal: abort.signal,
        readOnly: true,
      }).then(
        (p) => {
          // An answer that arrives after the definition changed is about the older one: dropped.
          if (abort.signal.aborted) return;
          setPreview({ for: current, preview: p });
          setDefinitionError(undefined);
        },
        (err) => {
          if (abort.signal.aborted) return;
          setPreview({ for: current });
          setDefinitionError(messageOf(err));
        },
      );
    }, PREVIEW_DELAY_MS);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
    // `current` is `definition` as text: an equal definition typed again does not count again.
  }, [kind, current]);

  const save = async (e: Event) => {
    e.preventDefault();
    // `definition` is then the last text that parsed, not what the JSON view shows: saving it would save what the user
    // has since typed over, and close the builder on their text.
    if (jsonError) return setRefused(true);
    setSaving(true);
    setSaveError(undefined);
    try {
      // An emptied name on a saved definition clears it (null); left out it would be kept.
      const labels = { name: name.trim() || (saved ? null : undefined) };
      if (saved) {
        await api(`/v1/${kind}/${saved.key}`, { method: "PUT", body: { ...labels, definition } });
        setUnchanged(snapshot());
        onSaved?.();
      } else {
        await api(`/v1/${kind}`, { method: "POST", body: { key: key.trim(), ...labels, definition } });
        setUnchanged(snapshot());
        route(`/console/${kind}/${key.trim()}`);
      }
    } catch (err) {
      const message = messageOf(err);
      if (message.startsWith("definition")) setDefinitionError(message);
      else setSaveError(message);
    } finally {
      setSaving(false);
    }
  };

  const paths = kind === "audiences" ? nodePaths(definition) : computedPaths(definition);
  const errorAt = errorOwner(definitionError, paths);
  // Placed by the API's JSON path (above), shown with the field's label instead.
  const readable = (message: string | undefined) => message && forPeople(message, (p) => builderFieldLabel(kind, p));
  const shownError = readable(definitionError);
  const noun = NOUN[kind];
  return (
    <form class="builder" onSubmit={save} aria-label={saved ? `Edit ${noun} ${saved.key}` : `New ${noun}`}>
      <div class="fields">
        <label>
          Key
          <input
            value={key}
            readOnly={saved !== undefined}
            placeholder="lapsed_store_buyers"
            onInput={(e) => setKey(e.currentTarget.value)}
          />
        </label>
        <label>
          Name
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
      </div>
      <div class="builder-panes">
        <section aria-label="Condition form" class="pane">
          <h2>Conditions</h2>
          {kind === "audiences" ? (
            <ConditionNode
              node={definition}
              path="definition"
              onChange={fromForm}
              errorAt={errorAt}
              error={shownError}
            />
          ) : (
            <ComputedForm definition={definition} onChange={fromForm} errorAt={errorAt} error={shownError} />
          )}
          {definitionError && !errorAt ? <ErrorNote error={shownError} /> : null}
        </section>
        <section aria-label="JSON view" class="pane">
          <h2>
            <label for="definition-json">Definition (JSON)</label>
          </h2>
          <textarea
            id="definition-json"
            rows={20}
            spellcheck={false}
            value={jsonText}
            onInput={(e) => fromJson(e.currentTarget.value)}
          />
          <ErrorNote error={jsonError} />
        </section>
      </div>
      <p role="status" class="preview" aria-busy={preview?.for !== current}>
        {previewLine(kind, current, preview)}
      </p>
      <div class="row">
        <button type="submit" disabled={saving}>
          {saved ? `Save ${noun}` : `Create ${noun}`}
        </button>
        {onCancel ? (
          <button type="button" class="quiet" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
      <ErrorNote error={refused && jsonError ? `Not saved: ${jsonError}` : readable(saveError)} />
    </form>
  );
}
