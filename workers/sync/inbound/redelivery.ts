/**
 * Whether a vendor sends a webhook again after Tessera answers `429`: what lets the webhook route push back when the
 * pipeline is out of room for more profiles (the vendor slows down and sends the same body later, stored once by
 * message id) instead of queueing a backlog. A vendor that drops a webhook answered non-2xx would lose it: for
 * those, and for senders whose retries Tessera does not know, the route answers `200` with the work queued.
 *
 * @example
 * export const mailchimpInbound: InboundSource<MailchimpInboundConfig> & Redelivering = { …, redeliversAfter429: true };
 * const onOverload = redeliversAfter429(source) ? "push-back" : "queue";
 */
import type { InboundSource } from "../plugin";

/** An inbound source whose vendor documents that it retries a webhook answered `429`. */
export interface Redelivering {
  redeliversAfter429: true;
}

export function redeliversAfter429<C>(source: InboundSource<C>): boolean {
  return (source as Partial<Redelivering>).redeliversAfter429 === true;
}
