import type { Audience, AudienceMembersPage } from "@tessera/protocol";
import { useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { api } from "../api";
import { ConfirmAction } from "../components/confirm-action";
import { JsonView, Time } from "../components/json-view";
import { ErrorNote, Loading } from "../components/notes";
import { Table } from "../components/table";
import { BUILDER_DRAFT, DefinitionBuilder, type DefinitionKind, NOUN } from "../definitions/definition-builder";
import { rememberDeleted } from "../definitions/deleted-definition";
import { hasDraft } from "../drafts";
import { profileHref } from "../profile-refs";
import { useApi, useMorePages, useReloadWhile } from "../use-api";
import { BuildStatus } from "./build-status";

/** How often a building definition's size and progress are read again. */
export const BUILDING_POLL_MS = 3000;

/**
 * One audience or computed trait: its definition (editable), size, build status and members. While it builds, its
 * size and progress are read again every few seconds (until it is ready or the page is left); Refresh reads them now.
 */
export function DefinitionPage({ kind }: { kind: DefinitionKind }) {
  const key = useRoute().params.key ?? "";
  const saved = useApi<Audience>(`/v1/${kind}/${encodeURIComponent(key)}`);
  // Editing when the key was refused: the builder opens again with the draft kept.
  const [editing, setEditing] = useState(() => hasDraft(BUILDER_DRAFT));
  // Bumped by Refresh: the members are read again with the size.
  const [round, setRound] = useState(0);
  useReloadWhile(saved.data?.status.state === "building", saved.reload, BUILDING_POLL_MS);
  const noun = NOUN[kind];
  const d = saved.data;
  if (!d) {
    return saved.error ? (
      <>
        <h1>{key}</h1>
        <ErrorNote error={saved.error} />
      </>
    ) : (
      <Loading what={`the ${noun}`} />
    );
  }
  return (
    <>
      <h1>
        {d.name ?? d.key} <span class="muted">({noun})</span>
      </h1>
      {/* A failed read again (Refresh, the build's polling) leaves the page as last read, and an open edit with it. */}
      <ErrorNote error={saved.error} />
      <p>
        <code>{d.key}</code> · version {d.version} · size <strong>{d.size}</strong> · <BuildStatus status={d.status} />{" "}
        · updated <Time iso={d.updated_at} />{" "}
        <button
          type="button"
          class="quiet"
          onClick={() => {
            saved.reload();
            setRound((r) => r + 1);
          }}
        >
          Refresh
        </button>
      </p>
      {editing ? (
        <DefinitionBuilder
          kind={kind}
          saved={{ key: d.key, name: d.name, description: d.description, definition: d.definition }}
          onSaved={() => {
            setEditing(false);
            saved.reload();
          }}
          onCancel={() => setEditing(false)}
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
      {/* Above the members, whose first page arrives after the page is drawn and which grows on "Load more": below
          them, the button would move away from a pointer on its way to it. */}
      <DeleteDefinition kind={kind} definitionKey={d.key} />
      {/* Read again when a build ends (its members changed) and on Refresh. */}
      <Members key={`${d.version}:${d.status.state}:${round}`} kind={kind} definitionKey={d.key} />
    </>
  );
}

function Members({ kind, definitionKey }: { kind: DefinitionKind; definitionKey: string }) {
  const membersPath = (cursor?: string) =>
    `/v1/${kind}/${definitionKey}/members?limit=50` +
    (cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`);
  const first = useApi<AudienceMembersPage>(membersPath());
  const pages = useMorePages(first.data, membersPath);
  return (
    <section aria-labelledby="h-members">
      <h2 id="h-members">Members</h2>
      <ErrorNote error={first.error ?? pages.error} />
      {first.data && pages.rows.length === 0 ? <p class="muted">No members.</p> : null}
      {pages.rows.length > 0 ? (
        <Table
          rows={pages.rows}
          rowKey={(m) => m.profile_id}
          columns={[
            { header: "Profile", cell: (m) => <a href={profileHref(m.profile_id)}>{m.profile_id}</a> },
            { header: "Since", cell: (m) => <Time iso={m.since} /> },
          ]}
        />
      ) : null}
      {pages.hasMore ? (
        <button type="button" class="quiet" disabled={pages.loading} onClick={() => void pages.loadMore()}>
          {pages.loading ? "Loading…" : "Load more members"}
        </button>
      ) : null}
    </section>
  );
}

const CONSEQUENCE: Record<DefinitionKind, string> = {
  audiences: "Every member leaves it, and destinations syncing it are told to remove them.",
  "computed-traits": "Every profile loses its value.",
};

/**
 * Deletes the definition after a confirmation. The API refuses while another audience refers to it; its message,
 * which names that audience, shows in the dialog.
 */
function DeleteDefinition({ kind, definitionKey }: { kind: DefinitionKind; definitionKey: string }) {
  const { route } = useLocation();
  const noun = NOUN[kind];
  const remove = async () => {
    await api(`/v1/${kind}/${encodeURIComponent(definitionKey)}`, { method: "DELETE" });
    rememberDeleted(kind, definitionKey);
    route(`/console/${kind}?deleted=${encodeURIComponent(definitionKey)}`);
  };
  return (
    <section aria-labelledby="h-delete" class="danger-zone">
      <h2 id="h-delete">Delete</h2>
      <ConfirmAction
        label={`Delete ${noun}`}
        question={`Delete ${noun} ${definitionKey}?`}
        confirm="Delete for good"
        danger
        onConfirm={remove}
      >
        <p>{CONSEQUENCE[kind]} This cannot be undone.</p>
      </ConfirmAction>
    </section>
  );
}
