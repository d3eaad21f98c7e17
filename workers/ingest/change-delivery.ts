/**
 * Membership changes of many profiles delivered together. Each ProfileDO that an ingest changed hands its outbox rows
 * back in its answer (`IngestInput.handOff`); the request gathers them and writes them to D1 in one batch and to the
 * sync queue in one send per 100 messages, instead of one D1 batch and one send per profile. D1 is one writer per
 * database, so a request of 50 new audience members cost 50 of its transactions; and the local queue broker stops
 * handing messages to the consumer while sends keep arriving (cloudflare/workers-sdk#15670), so 200 sends in a burst
 * held every change until the last. The rows stay in each object's outbox, under an alarm, until it hears
 * `outboxDelivered`: a failure here delays a change, never loses it.
 */
import { applyManyMemberChanges } from "../../d1/queries/members";
import type { OutboxHandoff } from "../profile/outbox";
import { profileStub } from "../profile/profile-stub";
import { sendInBatches } from "../shared/send-in-batches";

/**
 * Hand-offs gathered before a delivery: enough for one D1 batch to replace many, few enough that the first change of
 * a large request does not wait for its last profile (the request's objects are called 16 at a time).
 */
const HANDOFFS_PER_DELIVERY = 16;
/**
 * Membership rows one request delivers; past it, the objects deliver their own. A delivery writes its rows in at most
 * two statements per kind, direction and 500 rows (`applyManyMemberChanges`), so this keeps a request's D1 statements
 * well inside the 1,000 queries a Worker invocation may run, beside identity resolution's.
 */
const ROW_BUDGET = 5_000;

/** Where hand-offs go: D1 and the sync queue, then word back to each profile's object. */
export interface ChangeSink {
  /** Writes hand-offs to D1 and the sync queue; throws when either refuses (the objects then deliver their own). */
  deliver(workspaceId: string, handoffs: OutboxHandoff[]): Promise<void>;
  /** Tells a profile's object its changes up to seq `upTo` were delivered (0: deliver them yourself). */
  confirm(profileId: string, upTo: number): Promise<void>;
}

/** The real sink: one D1 batch and the queue sends side by side (both must take the rows), the objects' stubs. */
export function changeSinkFor(env: Env): ChangeSink {
  return {
    async deliver(workspaceId, handoffs) {
      await Promise.all([
        applyManyMemberChanges(
          env.DB,
          workspaceId,
          handoffs.map((h) => ({ profileId: h.profileId, changes: h.members })),
        ),
        sendInBatches(
          env.SYNC_QUEUE,
          handoffs.flatMap((h) => h.sync),
        ),
      ]);
    },
    confirm: (profileId, upTo) => profileStub(env.PROFILE, profileId).outboxDelivered(upTo),
  };
}

/**
 * One request's gathering of hand-offs: `add` each as its object answers, `done` before answering the request.
 *
 * @example const changes = new ChangeDelivery(changeSinkFor(env), workspaceId);
 */
export class ChangeDelivery {
  private pending: OutboxHandoff[] = [];
  private readonly deliveries: Promise<void>[] = [];
  private rows = 0;

  constructor(
    private readonly sink: ChangeSink,
    private readonly workspaceId: string,
  ) {}

  add(handoff: OutboxHandoff): void {
    this.rows += handoff.members.length;
    if (this.rows > ROW_BUDGET) {
      this.deliveries.push(this.confirm([handoff], false));
      return;
    }
    this.pending.push(handoff);
    if (this.pending.length >= HANDOFFS_PER_DELIVERY) this.flush();
  }

  /** Delivers what is gathered and waits for every delivery of this request. Never throws. */
  async done(): Promise<void> {
    this.flush();
    await Promise.all(this.deliveries);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.deliveries.push(
      this.sink.deliver(this.workspaceId, batch).then(
        () => this.confirm(batch, true),
        (err) => {
          console.error(`delivering ${batch.length} profiles' membership changes failed; they deliver their own`, err);
          return this.confirm(batch, false);
        },
      ),
    );
  }

  /**
   * Tells each object its hand-off was delivered (`delivered`), or that it must deliver it itself: `upTo` 0 drops
   * nothing. An object that does not hear it delivers at its alarm; a repeated delivery changes nothing.
   */
  private async confirm(handoffs: OutboxHandoff[], delivered: boolean): Promise<void> {
    await Promise.all(
      handoffs.map(async (h) => {
        try {
          await this.sink.confirm(h.profileId, delivered ? h.upTo : 0);
        } catch (err) {
          console.error(`profile ${h.profileId} did not hear about its membership changes; its alarm delivers`, err);
        }
      }),
    );
  }
}
