import type { DestinationList } from "@tessera/protocol";
import { Time } from "../components/json-view";
import { ErrorNote, Loading } from "../components/notes";
import { useApi } from "../use-api";

export function Destinations() {
  const list = useApi<DestinationList>("/v1/destinations");
  return (
    <>
      <h1>Destinations</h1>
      <p>
        <a class="button" href="/console/destinations/new">
          New destination
        </a>
      </p>
      <ErrorNote error={list.error} />
      {!list.data ? (
        !list.error && <Loading what="destinations" />
      ) : list.data.data.length === 0 ? (
        <p class="muted">No destinations yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Pending</th>
              <th scope="col">Delivered</th>
              <th scope="col">Failed</th>
              <th scope="col">Dead letters</th>
              <th scope="col">Last success</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {list.data.data.map((d) => (
              <tr key={d.id}>
                <td>
                  <a href={`/console/destinations/${d.id}`}>{d.name}</a>
                  {d.enabled ? null : <span class="badge badge-warn"> disabled</span>}
                </td>
                <td>{d.type}</td>
                <td class="num">{d.status.pending}</td>
                <td class="num">{d.status.delivered}</td>
                <td class="num">{d.status.failed}</td>
                <td class="num">{d.status.dead_letters}</td>
                <td>
                  <Time iso={d.status.last_success_at} />
                </td>
                <td class="reason">{d.status.last_error ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
