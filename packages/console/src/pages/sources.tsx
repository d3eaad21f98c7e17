import { SNIPPET_MIN_JS } from "@tessera/browser/assets";
import type { SourceList, SourceWriteKey, WriteKeysRevoked } from "@tessera/protocol";
import { useState } from "preact/hooks";
import { api, messageOf } from "../api";
import { CodeBlock, Time } from "../components/json-view";
import { ErrorNote, Loading, StatusNote } from "../components/notes";
import { Table } from "../components/table";
import { useApi } from "../use-api";

type SourceRow = SourceList["data"][number];

/** The tag to paste in a site's `<head>` for a write key (the key itself is shown once, when issued). */
export function snippetFor(writeKey: string, apiHost: string): string {
  return `<script>${SNIPPET_MIN_JS}
tessera.load(${JSON.stringify(writeKey)}, { apiHost: ${JSON.stringify(apiHost)} });
tessera.page();
</script>`;
}

/**
 * Sources and their write keys. Rotation is the API's three steps: issue a new key ("Rotate key"), deploy it, then
 * "Revoke old keys"; "Revoke all keys" is for a leaked key. A new key is shown once, with its snippet.
 */
export function Sources() {
  const sources = useApi<SourceList>("/v1/sources");
  const [name, setName] = useState("");
  const [issued, setIssued] = useState<SourceWriteKey>();
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<string>();

  const act = async (work: () => Promise<void>) => {
    setError(undefined);
    setStatus(undefined);
    try {
      await work();
      sources.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const create = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      setIssued(await api<SourceWriteKey>("/v1/sources", { method: "POST", body: { name } }));
      setName("");
    });
  };
  const rotate = (s: SourceRow) =>
    act(async () => setIssued(await api<SourceWriteKey>(`/v1/sources/${s.id}/keys`, { method: "POST" })));
  const revoke = (s: SourceRow, all: boolean) =>
    act(async () => {
      if (all && !confirm(`Revoke every write key of ${s.name}? Its sites stop sending at once.`)) return;
      const r = await api<WriteKeysRevoked>(`/v1/sources/${s.id}/keys${all ? "?all=true" : ""}`, {
        method: "DELETE",
      });
      setStatus(`Revoked ${r.revoked} key${r.revoked === 1 ? "" : "s"} of ${s.name}.`);
      if (issued?.source.id === s.id && all) setIssued(undefined);
    });

  return (
    <>
      <h1>Sources</h1>
      <form class="row" onSubmit={create}>
        <label for="source-name">Source name</label>
        <input id="source-name" value={name} placeholder="website" onInput={(e) => setName(e.currentTarget.value)} />
        <button type="submit">Add source</button>
      </form>
      <ErrorNote error={error} />
      <StatusNote text={status} />
      {issued ? (
        <section aria-labelledby="h-new-key" class="callout">
          <h2 id="h-new-key">New write key for {issued.source.name}</h2>
          <p>
            Shown once: <code data-testid="new-write-key">{issued.write_key}</code>
          </p>
          <label for="snippet">Snippet for {issued.source.name}</label>
          <textarea id="snippet" readOnly rows={6} value={snippetFor(issued.write_key, location.origin)} />
        </section>
      ) : null}
      <ErrorNote error={sources.error} />
      {sources.data ? (
        <Table
          rows={sources.data.data}
          rowKey={(s) => s.id}
          columns={[
            {
              header: "Source",
              rowHeader: true,
              cell: (s) => (
                <>
                  {s.name}
                  <div class="muted">
                    <code>{s.id}</code>
                  </div>
                </>
              ),
            },
            {
              header: "Write keys",
              cell: (s) => (
                <ul class="plain">
                  {s.write_keys.map((k) => (
                    <li key={k.prefix + k.created_at}>
                      <code>{k.prefix}…</code> issued <Time iso={k.created_at} />
                      {k.revoked_at ? (
                        <span class="badge badge-bad">
                          {" "}
                          revoked <Time iso={k.revoked_at} />
                        </span>
                      ) : (
                        <span class="badge badge-ok"> live</span>
                      )}
                    </li>
                  ))}
                </ul>
              ),
            },
            {
              header: "Actions",
              class: "actions",
              cell: (s) => (
                <>
                  <button type="button" onClick={() => void rotate(s)} aria-label={`Rotate key of ${s.name}`}>
                    Rotate key
                  </button>
                  <button
                    type="button"
                    onClick={() => void revoke(s, false)}
                    aria-label={`Revoke old keys of ${s.name}`}
                  >
                    Revoke old keys
                  </button>
                  <button
                    type="button"
                    class="danger"
                    onClick={() => void revoke(s, true)}
                    aria-label={`Revoke all keys of ${s.name}`}
                  >
                    Revoke all keys
                  </button>
                </>
              ),
            },
          ]}
        />
      ) : (
        !sources.error && <Loading what="sources" />
      )}
      <h2>Snippet</h2>
      <p>
        Paste in each page's <code>&lt;head&gt;</code>, with a write key of the source:
      </p>
      <CodeBlock text={snippetFor("wk_…", location.origin)} />
    </>
  );
}
