import type { Destination } from "@tessera/protocol";
import { useLocation } from "preact-iso";
import { api } from "../api";
import { ConfirmAction } from "../components/confirm-action";
import { deletedLabel, rememberDeleted } from "../deleted-this-tab";
import { VENDOR_NAMES } from "./vendor-fields";

/** What the destinations list says of `?deleted=`: the name of one this tab deleted, else a well-formed id, else nothing. */
export function deletedDestination(id: string | undefined): string | undefined {
  if (id === undefined || !/^dst_[A-Za-z0-9_-]{1,64}$/.test(id)) return undefined;
  // By name only when this tab deleted it (see `deleted-this-tab.ts`); a well-formed id is no one's words.
  return deletedLabel(id) ?? id;
}

/**
 * Deletes the destination after a confirmation that says what it does as `DELETE /v1/destinations/{id}` does it: the
 * sync stops and its records go, but nothing is sent to the vendor, so what the vendor holds stays there (a marketer
 * expecting the lists to empty would otherwise be surprised). Engagement stops too: the inbound webhook refuses a
 * deleted destination and the pollers no longer read it. Then the destinations list says it is gone.
 */
export function DeleteDestination({ destination: d }: { destination: Destination }) {
  const { route } = useLocation();
  const remove = async () => {
    await api(`/v1/destinations/${encodeURIComponent(d.id)}`, { method: "DELETE" });
    rememberDeleted(d.id, d.name);
    route(`/console/destinations?deleted=${encodeURIComponent(d.id)}`);
  };
  const synced = d.audiences.length === 0 ? null : d.audiences.join(", ");
  return (
    <section aria-labelledby="h-delete" class="danger-zone">
      <h2 id="h-delete">Delete</h2>
      <ConfirmAction
        label="Delete destination"
        question={`Delete destination ${d.name}?`}
        confirm="Delete for good"
        danger
        onConfirm={remove}
      >
        <p>
          {synced
            ? `Its audiences (${synced}) are no longer synced to ${d.name}: `
            : `Nothing is sent to ${d.name} any more: `}
          entries, exits and trait changes stop being sent, and whatever is still waiting to be sent is dropped. Opens,
          clicks and unsubscribes stop coming back from it.
        </p>
        <p>
          {d.type === "webhook"
            ? "Nothing is sent to the endpoint to say so: what it already received stays with it."
            : `Nothing is removed in ${VENDOR_NAMES[d.type] ?? d.type}: the contacts and lists it already has stay there, with their members.`}{" "}
          The audiences themselves are kept.
        </p>
        <p>Its sync log and dead letters are deleted with it. This cannot be undone.</p>
      </ConfirmAction>
    </section>
  );
}
