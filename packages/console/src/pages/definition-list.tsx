import type { AudienceList } from "@tessera/protocol";
import { ErrorNote, Loading } from "../components/notes";
import { type DefinitionKind, NOUN } from "../definitions/definition-builder";
import { useApi } from "../use-api";
import { BuildStatus } from "./build-status";

const TITLE: Record<DefinitionKind, string> = { audiences: "Audiences", "computed-traits": "Computed traits" };

/** Audiences or computed traits, each with its size and build status. */
export function DefinitionList({ kind }: { kind: DefinitionKind }) {
  const list = useApi<AudienceList>(`/v1/${kind}`);
  const noun = NOUN[kind];
  return (
    <>
      <h1>{TITLE[kind]}</h1>
      <p>
        <a class="button" href={`/console/${kind}/new`}>
          New {noun}
        </a>
      </p>
      <ErrorNote error={list.error} />
      {!list.data ? (
        !list.error && <Loading what={`${noun}s`} />
      ) : list.data.data.length === 0 ? (
        <p class="muted">No {noun}s yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Name</th>
              <th scope="col">{kind === "audiences" ? "Size" : "Profiles with a value"}</th>
              <th scope="col">Status</th>
              <th scope="col">Version</th>
            </tr>
          </thead>
          <tbody>
            {list.data.data.map((d) => (
              <tr key={d.key}>
                <td>
                  <a href={`/console/${kind}/${d.key}`}>{d.key}</a>
                </td>
                <td>{d.name ?? ""}</td>
                <td class="num">{d.size}</td>
                <td>
                  <BuildStatus status={d.status} />
                </td>
                <td class="num">{d.version}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
