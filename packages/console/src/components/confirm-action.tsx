import type { ComponentChildren } from "preact";
import { useId, useRef, useState } from "preact/hooks";
import { messageOf } from "../api";
import { ErrorNote } from "./notes";

export interface ConfirmActionProps {
  /** The button that asks: "Delete audience". */
  label: string;
  /**
   * Its accessible name, when one page has several such buttons: "Undo merge of prf_1 into prf_2". Starts with
   * `label`, so what is seen is what a voice user says.
   */
  name?: string;
  /** The dialog's heading, naming what is at stake: "Delete lapsed_buyers for good?". */
  question: string;
  /** The button that acts: "Delete for good". */
  confirm: string;
  /** Styles both buttons as destructive. */
  danger?: boolean;
  /** The action; what it throws (the API's message) shows in the dialog, which stays open to retry or cancel. */
  onConfirm(): Promise<void>;
  /** What will happen, said in the dialog. */
  children: ComponentChildren;
}

/**
 * A button whose action runs only once confirmed in a modal dialog: for what cannot be undone (deletes) or costs
 * something (sending to a vendor now).
 *
 * @example
 * <ConfirmAction label="Delete profile" question="Delete prf_1 for good?" confirm="Delete for good" danger
 *   onConfirm={() => api("/v1/profiles/prf_1", { method: "DELETE" })}>This cannot be undone.</ConfirmAction>
 */
export function ConfirmAction({ label, name, question, confirm, danger, onConfirm, children }: ConfirmActionProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const headingId = useId();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const buttonClass = danger ? "danger" : undefined;
  const open = () => {
    setError(undefined);
    dialog.current?.showModal();
  };
  const act = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await onConfirm();
      dialog.current?.close();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class={buttonClass} aria-label={name} onClick={open}>
        {label}
      </button>
      <dialog ref={dialog} aria-labelledby={headingId}>
        <h2 id={headingId}>{question}</h2>
        {children}
        <ErrorNote error={error} />
        <div class="row">
          <button type="button" class={buttonClass} disabled={busy} onClick={() => void act()}>
            {confirm}
          </button>
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
        </div>
      </dialog>
    </>
  );
}
