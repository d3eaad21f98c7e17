import type { Audience, AudienceMembersPage } from "@tessera/protocol";
import { useState } from "preact/hooks";
import { useRoute } from "preact-iso";
import { api, messageOf } from "../api";
import { JsonView, Time } from "../components/json-view";
import { ErrorNote, Loading } from "../components/notes";
import { DefinitionBuilder, type DefinitionKind, NOUN } from "../definitions/definition-builder";
import { profileHref } from "../profile-refs";
import { useApi } from "../use-api";
import { BuildStatus } from "./build-status";

/** One audience or computed trait: its definition (editable), size, build status and members. */
export function DefinitionPage({ kind }: { kind: DefinitionKind }) {
  const key = useRoute().params.key ?? "";
  const saved = useApi<Audience>(`/v1/${kind}/${encodeURIComponent(key)}`);
  const [editing, setEditing] = useState(false);
  const noun = NOUN[kind];
  if (saved.error) {
    return (
      <>
        <h1>{key}</h1>
        <ErrorNote error={saved.error} />
      </>
    );
  }
  const d = saved.data;
  if (!d) return <Loading what={`the ${noun}`} />;
  return (
    <>
      <h1>
        {d.name ?? d.key} <span class="muted">({noun})</span>
      </h1>
      <p>
        <code>{d.key}</code> · version {d.version} · size <strong>{d.size}</strong> · <BuildStatus status={d.status} />{" "}
        · updated <Time iso={d.updated_at} />
      </p>
      {editing ? (
        <DefinitionBuilder
          kind={kind}
          saved={{ key: d.key, name: d.name, description: d.description, definition: d.definition }}
          onSaved={() => {
            setEditing(false);
            saved.reload();
          }}
        />
      ) : (
        <>
          <h2>Definition</h2>
          <JsonView value={d.definition} />
          <button type="button" onClick={() => setEditing(true)}>
            Edit definition
          </button>
        </>
      )}
      <Members kind={kind} definitionKey={d.key} />
    </>
  );
}

function Members({ kind, definitionKey }: { kind: DefinitionKind; definitionKey: string }) {
  const first = useApi<AudienceMembersPage>(`/v1/${kind}/${definitionKey}/members?limit=50`);
  const [more, setMore] = useState<AudienceMembersPage["data"]>([]);
  const [next, setNext] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<string>();
  const cursor = next === undefined ? first.data?.cursor.next : next;
  const loadMore = async () => {
    try {
      const page = await api<AudienceMembersPage>(
        `/v1/${kind}/${definitionKey}/members?limit=50&cursor=${encodeURIComponent(cursor ?? "")}`,
      );
      setMore((old) => [...old, ...page.data]);
      setNext(page.cursor.next);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const rows = [...(first.data?.data ?? []), ...more];
  return (
    <section aria-labelledby="h-members">
      <h2 id="h-members">Members</h2>
      <ErrorNote error={first.error ?? error} />
      {first.data && rows.length === 0 ? <p class="muted">No members.</p> : null}
      {rows.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Profile</th>
              <th scope="col">Since</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((m) => (
              <tr key={m.profile_id}>
                <td>
                  <a href={profileHref(m.profile_id)}>{m.profile_id}</a>
                </td>
                <td>
                  <Time iso={m.since} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {cursor ? (
        <button type="button" class="quiet" onClick={() => void loadMore()}>
          Load more members
        </button>
      ) : null}
    </section>
  );
}
