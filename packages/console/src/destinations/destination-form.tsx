/**
 * Creating or editing a destination: the vendor's config fields, the audiences and traits it receives, and
 * "Test connection" with what is typed, before saving. A failed save or test keeps every field as typed.
 */
import type { AudienceList, Destination, DestinationTestResult } from "@tessera/protocol";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, messageOf } from "../api";
import { ErrorNote } from "../components/notes";
import { useDraft } from "../drafts";
import { forPeople } from "../field-message";
import { useLeaveGuard } from "../leave-guard";
import { useApi } from "../use-api";
import { traitNames } from "./trait-names";
import { DESTINATION_TYPES, destinationFieldLabel, VENDOR_FIELDS, type VendorField } from "./vendor-fields";

export interface DestinationFormProps {
  /** Editing: the destination as read (secrets masked: sent back masked, they keep the stored ones). */
  saved?: Destination;
  onSaved(destination: Destination): void;
}

/** The form's draft kept across an unasked sign-out (drafts.ts): every field but the vendor's secrets. */
interface DestinationDraft {
  type: string;
  name: string;
  config: Record<string, string>;
  chosen: string[];
  traits: string;
  enabled: boolean;
}

export function DestinationForm({ saved, onSaved }: DestinationFormProps) {
  const audiences = useApi<AudienceList>("/v1/audiences");
  const draft = useDraft<DestinationDraft>(
    "destination-form",
    (): DestinationDraft => ({
      type,
      name,
      // A vendor's token or password is typed again: written down, it would outlive the session that had it.
      config: Object.fromEntries(
        Object.entries(config).filter(([k]) => !(VENDOR_FIELDS[type] ?? []).some((f) => f.key === k && f.secret)),
      ),
      chosen,
      traits,
      enabled,
    }),
  );
  const [type, setType] = useState(saved?.type ?? draft?.type ?? "webhook");
  const [name, setName] = useState(draft?.name ?? saved?.name ?? "");
  const [config, setConfig] = useState<Record<string, string>>(() => ({
    ...Object.fromEntries(
      Object.entries(saved?.config ?? {}).map(([k, v]) => [k, typeof v === "string" ? v : String(v)]),
    ),
    ...draft?.config,
  }));
  const [chosen, setChosen] = useState<string[]>(draft?.chosen ?? saved?.audiences ?? []);
  const [traits, setTraits] = useState(draft?.traits ?? (saved?.traits ?? []).join(", "));
  const [enabled, setEnabled] = useState(draft?.enabled ?? saved?.enabled ?? true);
  const sent = traitNames(traits);
  // Said once the user has left the field or tried to save: not at every keystroke of a name still being typed.
  const [traitsChecked, setTraitsChecked] = useState(false);
  const traitsProblem = traitsChecked && !sent.ok ? sent.problem : undefined;
  const traitsInput = useRef<HTMLInputElement>(null);
  // The browser then refuses the submit as it does a missing required field, and focuses the field.
  const traitsValidity = sent.ok ? "" : sent.problem;
  useEffect(() => traitsInput.current?.setCustomValidity(traitsValidity), [traitsValidity]);
  const [test, setTest] = useState<DestinationTestResult>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  // A vendor can take seconds to answer: without a sign the click seems lost, and a second click sends a second call.
  const [testing, setTesting] = useState(false);
  // What a link away would lose: anything changed since the form opened (or last saved).
  const snapshot = () => JSON.stringify({ type, name, config, chosen, traits, enabled });
  const [unchanged, setUnchanged] = useState(snapshot);
  useLeaveGuard(!busy && snapshot() !== unchanged, "this destination");

  const fields = VENDOR_FIELDS[type] ?? [];
  // The API names fields by JSON path (`config.secret: …`); beside the form, by their labels.
  const readable = (message: string) => forPeople(message, (path) => destinationFieldLabel(type, path));
  // The API merges a config key by key (a key left out is kept): a saved field the user emptied is sent as null,
  // which removes it.
  const configBody = (): Record<string, string | null> =>
    Object.fromEntries(
      Object.entries(config)
        .filter(([k, v]) => fields.some((f) => f.key === k) && (v !== "" || saved?.config?.[k] !== undefined))
        .map(([k, v]) => [k, v === "" ? null : v]),
    );

  const inputProps = (f: VendorField) => ({
    // A saved secret reads back masked; left as it is, the stored one is kept.
    required: f.required && !(saved && f.secret),
    placeholder: f.placeholder,
    value: config[f.key] ?? "",
    onInput: (e: { currentTarget: HTMLInputElement }) => setConfig({ ...config, [f.key]: e.currentTarget.value }),
  });
  const testConnection = async () => {
    setTest(undefined);
    setError(undefined);
    setTesting(true);
    try {
      setTest(
        saved
          ? await api<DestinationTestResult>(`/v1/destinations/${saved.id}/test`, {
              method: "POST",
              body: { config: configBody() },
            })
          : await api<DestinationTestResult>("/v1/destinations/test", {
              method: "POST",
              body: { type, config: configBody() },
            }),
      );
    } catch (err) {
      setError(readable(messageOf(err)));
    } finally {
      setTesting(false);
    }
  };
  const save = async (e: Event) => {
    e.preventDefault();
    if (!sent.ok) {
      setTraitsChecked(true);
      return;
    }
    setBusy(true);
    setError(undefined);
    const body = {
      name,
      config: configBody(),
      audiences: chosen,
      traits: sent.names,
      enabled,
    };
    try {
      const result = saved
        ? await api<Destination>(`/v1/destinations/${saved.id}`, { method: "PUT", body })
        : await api<Destination>("/v1/destinations", { method: "POST", body: { type, ...body } });
      setUnchanged(snapshot());
      onSaved(result);
    } catch (err) {
      setError(readable(messageOf(err)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="destination-form" onSubmit={save} aria-label={saved ? `Edit ${saved.name}` : "New destination"}>
      <div class="fields">
        <label>
          Type
          <select value={type} disabled={saved !== undefined} onChange={(e) => setType(e.currentTarget.value)}>
            {DESTINATION_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          Name
          <input value={name} required onInput={(e) => setName(e.currentTarget.value)} />
        </label>
      </div>
      <fieldset>
        <legend>{type} settings</legend>
        <div class="fields">
          {fields.map((f) => (
            <span key={f.key} class="field">
              <label for={`config-${f.key}`}>{f.label}</label>
              {f.secret ? (
                <input id={`config-${f.key}`} type="password" autocomplete="off" {...inputProps(f)} />
              ) : (
                <input id={`config-${f.key}`} type="text" {...inputProps(f)} />
              )}
            </span>
          ))}
        </div>
      </fieldset>
      <fieldset>
        <legend>Audiences synced</legend>
        {audiences.data?.data.length === 0 ? <p class="muted">No audiences yet.</p> : null}
        <ErrorNote error={audiences.error} />
        {audiences.data?.data.map((a) => (
          <label key={a.key} class="check">
            <input
              type="checkbox"
              checked={chosen.includes(a.key)}
              onChange={(e) =>
                setChosen(e.currentTarget.checked ? [...chosen, a.key] : chosen.filter((k) => k !== a.key))
              }
            />
            {a.key}
          </label>
        ))}
      </fieldset>
      <div class="fields">
        <span class="field">
          <label for="destination-traits">Traits sent (comma-separated)</label>
          <input
            id="destination-traits"
            ref={traitsInput}
            value={traits}
            placeholder="first_name, city, lifetime_value"
            aria-invalid={traitsProblem ? true : undefined}
            aria-describedby={traitsProblem ? "destination-traits-problem" : undefined}
            onInput={(e) => setTraits(e.currentTarget.value)}
            onBlur={() => setTraitsChecked(true)}
            onInvalid={() => setTraitsChecked(true)}
          />
          {traitsProblem ? (
            <span id="destination-traits-problem" class="error">
              {traitsProblem}
            </span>
          ) : null}
        </span>
        <label class="check">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
          Enabled
        </label>
      </div>
      <div class="row">
        <button type="button" disabled={testing} onClick={() => void testConnection()}>
          {testing ? "Testing…" : "Test connection"}
        </button>
        <button type="submit" disabled={busy}>
          {saved ? "Save destination" : "Create destination"}
        </button>
      </div>
      {test ? (
        test.ok ? (
          <p role="status" class="status ok">
            {test.message}
          </p>
        ) : (
          <ErrorNote error={readable(test.message)} />
        )
      ) : null}
      <ErrorNote error={error} />
    </form>
  );
}
