/**
 * "Undo merge" for one merge journal entry (DESIGN §12, `POST /v1/merges/{id}/undo`): asks first, naming both
 * profiles and what goes back where; the API's refusal (already undone, a profile erased, still being folded) shows
 * in the dialog.
 */
import type { MergeRecord, MergeUndone } from "@tessera/protocol";
import { api } from "../api";
import { ConfirmAction } from "./confirm-action";

export function UndoMerge({ merge, onUndone }: { merge: MergeRecord; onUndone(result: MergeUndone): void }) {
  const undo = async () => {
    onUndone(await api<MergeUndone>(`/v1/merges/${encodeURIComponent(merge.id)}/undo`, { method: "POST" }));
  };
  return (
    <ConfirmAction
      label="Undo merge"
      name={`Undo merge of ${merge.from} into ${merge.into}`}
      question={`Undo the merge of ${merge.from} into ${merge.into}?`}
      confirm="Split them again"
      onConfirm={undo}
    >
      <p>
        <code>{merge.from}</code> becomes its own profile again, with the identifiers and events that arrived on it;{" "}
        <code>{merge.into}</code> keeps the rest. Both re-evaluate their audiences, and destinations get the changes.
      </p>
      <p>A later message linking the two merges them again.</p>
    </ConfirmAction>
  );
}
