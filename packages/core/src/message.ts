import type { JsonObject, Message } from "@tessera/protocol";

/** The call-specific fields of a message (`event`, `properties`, `traits`, `groupId`, `previousId`, `name`…). */
export type MessageFields = Partial<Omit<Message, "type">> & JsonObject;

/** Identity and context stamped on a message when it is created. */
export interface MessageStamp {
  messageId: string;
  anonymousId: string;
  userId: string | null;
  timestamp: Date;
  context: JsonObject;
}

/**
 * Builds a Segment Spec message. `messageId` is the idempotency key the server deduplicates on, so retries and
 * beacons can resend safely; `timestamp` is the client clock at call time (the server corrects skew with `sentAt`).
 *
 * @example createMessage("track", { event: "Signed Up" }, stamp)
 */
export function createMessage(type: Message["type"], fields: MessageFields, stamp: MessageStamp): Message {
  const m = {
    type,
    ...fields,
    messageId: stamp.messageId,
    anonymousId: stamp.anonymousId,
    timestamp: stamp.timestamp.toISOString(),
    context: { ...stamp.context, ...(fields.context as JsonObject | undefined) },
  } as Message;
  // The current user only where the call names none: alias carries its own (the new id, previousId the current).
  if (stamp.userId && !m.userId) m.userId = stamp.userId;
  return m;
}
