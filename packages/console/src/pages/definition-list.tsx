import type { AudienceList } from "@tessera/protocol";
import { useLocation } from "preact-iso";
import { ErrorNote, Loading, StatusNote } from "../components/notes";
import { Table } from "../components/table";
import { type DefinitionKind, NOUN } from "../definitions/definition-builder";
import { deletedDefinition } from "../definitions/deleted-definition";
import { useApi } from "../use-api";
import { BuildStatus } from "./build-status";

const TITLE: Record<DefinitionKind, string> = { audiences: "Audiences", "computed-traits": "Computed traits" };

/** Audiences or computed traits, each with its size and build status. */
export function DefinitionList({ kind }: { kind: DefinitionKind }) {
  const list = useApi<AudienceList>(`/v1/${kind}`);
  // Set by a definition's page after deleting it; said only for what this tab deleted.
  const deleted = deletedDefinition(kind, useLocation().query.deleted);
  const noun = NOUN[kind];
  return (
    <>
      <h1>{TITLE[kind]}</h1>
      <p>
        <a class="button" href={`/console/${kind}/new`}>
          New {noun}
        </a>
      </p>
      {deleted ? <StatusNote text={`Deleted ${noun} ${deleted}.`} /> : null}
      <ErrorNote error={list.error} />
      {!list.data ? (
        !list.error && <Loading what={`${noun}s`} />
      ) : list.data.data.length === 0 ? (
        <p class="muted">No {noun}s yet.</p>
      ) : (
        <Table
          rows={list.data.data}
          rowKey={(d) => d.key}
          columns={[
            { header: "Key", cell: (d) => <a href={`/console/${kind}/${d.key}`}>{d.key}</a> },
            { header: "Name", cell: (d) => d.name ?? "" },
            { header: kind === "audiences" ? "Size" : "Profiles with a value", class: "num", cell: (d) => d.size },
            { header: "Status", cell: (d) => <BuildStatus status={d.status} /> },
            { header: "Version", class: "num", cell: (d) => d.version },
          ]}
        />
      )}
    </>
  );
}
