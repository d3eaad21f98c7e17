/**
 * A GDPR delete is one item for the engine, however many vendor calls it takes (an email or vendor id each, where the
 * vendor deletes one contact a call): its outcome is the worst of theirs.
 */
import type { Outcome } from "../plugin";

/**
 * The person's outcome from those of the calls that deleted their contacts: a `retry` first (the whole delete runs
 * again, which a vendor takes as a no-op for what is gone already), then a `fail`, else `ok`.
 *
 * @example erasedOutcome([{ status: "ok" }, { status: "retry", reason: "503" }]) // → { status: "retry", reason: "503" }
 */
export function erasedOutcome(outcomes: readonly Outcome[]): Outcome {
  return (
    outcomes.find((o) => o.status === "retry") ??
    outcomes.find((o) => o.status === "fail") ??
    outcomes.find((o) => o.status === "skip") ?? { status: "ok" }
  );
}
