/**
 * A destination as the admin API shows it (DESIGN §7): its stored row with secrets masked, the URL its vendor sends
 * engagement to, and how its sync is going (the object's queue, the row's counters, the dead letters in D1).
 */
import { type Destination, type JsonObject, MASKED_PREFIX } from "@tessera/protocol";
import type { DestinationRow } from "../../d1/queries/destinations";
import { countDeadLetters } from "../../d1/queries/sync-records";
import { destinationStub } from "../sync/consumer";
import { pluginFor } from "../sync/registry";

/** Secrets shorter than this read as `"…"` alone: their last 4 characters would give away too much of them. */
const MIN_REVEALING_LENGTH = 12;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * `value` as a reader may see it: `"…"` and its last 4 characters.
 *
 * @example maskSecret("whsec_0123456789abcdef") // "…cdef"
 */
export function maskSecret(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length < MIN_REVEALING_LENGTH ? MASKED_PREFIX : `${MASKED_PREFIX}${text.slice(-4)}`;
}

/** Whether a config value is a masked secret as this API shows it (sent back unchanged from a read). */
export const isMasked = (value: unknown): boolean => typeof value === "string" && value.startsWith(MASKED_PREFIX);

/**
 * The fields of `type`'s config that are secrets. A type no plugin knows any more (a deploy dropped it) has every
 * field treated as one: nothing is shown that might be a credential.
 */
export function secretFieldsOf(type: string, config: Record<string, unknown>): readonly string[] {
  return pluginFor(type)?.secretFields ?? Object.keys(config);
}

/** `config` with each secret field present masked. */
export function maskConfig(type: string, config: Record<string, unknown>): JsonObject {
  const masked: Record<string, unknown> = { ...config };
  for (const field of secretFieldsOf(type, config)) {
    if (Object.hasOwn(masked, field) && masked[field] !== null && masked[field] !== undefined) {
      masked[field] = maskSecret(masked[field]);
    }
  }
  return masked as JsonObject;
}

/**
 * The inbound URL of a destination: `POST /v1/webhooks/{id}` on this deployment, with the destination's inbound
 * secret in the query (Mailchimp can send no header, so every type carries it the same way).
 */
export function webhookUrl(origin: string, row: DestinationRow): string {
  return `${origin}/v1/webhooks/${row.id}?secret=${encodeURIComponent(row.inboundSecret)}`;
}

/**
 * The destination `row` as answered to a request made to `origin`, listing only those of its audiences that are among
 * the workspace's `audiences` now. One deleted since stays in the row until an audience is made again under its key
 * (see `audiences.ts`): the exits of its members, which its profiles send as the deletion's rebuild reaches them, and
 * the reconciliation that repairs any it missed, still reach the vendor through it.
 */
export async function destinationView(
  env: Env,
  row: DestinationRow,
  origin: string,
  audiences: ReadonlySet<string>,
): Promise<Destination> {
  const [{ pending, authPausedUntil }, deadLetters] = await Promise.all([
    destinationStub(env, row.id).syncState(),
    countDeadLetters(env.DB, row.id),
  ]);
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    config: maskConfig(row.type, JSON.parse(row.config) as Record<string, unknown>),
    audiences: (JSON.parse(row.audiences) as string[]).filter((key) => audiences.has(key)),
    traits: JSON.parse(row.traits) as string[],
    enabled: row.enabled,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
    webhook_url: webhookUrl(origin, row),
    status: {
      pending,
      delivered: row.delivered,
      failed: row.failed,
      skipped: row.skipped,
      dead_letters: deadLetters,
      last_success_at: row.lastSuccessAt === null ? null : iso(row.lastSuccessAt),
      last_error: row.lastError,
      // An error recorded before its time was (migration 0015) is shown without one.
      ...(row.lastErrorAt === null ? {} : { last_error_at: iso(row.lastErrorAt) }),
      ...(authPausedUntil === null ? {} : { paused_until: iso(authPausedUntil) }),
    },
  };
}
