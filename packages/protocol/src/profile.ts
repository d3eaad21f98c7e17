import type { Identifier } from "./identifiers";
import type { AcceptedMessage, JsonObject, JsonValue } from "./messages";

/** `GET /v1/profiles/:ref` — one unified customer. Times are ISO-8601. */
export interface Profile {
  id: string;
  created_at: string;
  updated_at: string;
  first_seen: string;
  last_seen: string;
  event_count: number;
  identifiers: Array<Identifier & { first_seen: string }>;
  traits: JsonObject;
  computed: Record<string, JsonValue>;
  audiences: Array<{ key: string; since: string }>;
  merged_from: string[];
}

/** `GET /v1/profiles/:ref/events` — newest first, cursor-paginated. */
export interface ProfileEventsPage {
  data: AcceptedMessage[];
  cursor: { has_more: boolean; next: string | null };
}

/** One entry of the merge journal: `from` was folded into `into` because of `message_id` under `rule`. */
export interface MergeRecord {
  id: string;
  from: string;
  into: string;
  message_id: string | null;
  rule: string;
  created_at: string;
}

/** The error envelope every non-2xx answer carries. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}
export type ErrorCode =
  | "authentication_error"
  | "forbidden"
  | "not_found"
  | "validation_error"
  | "rate_limit_error"
  | "payload_too_large"
  | "internal_error";
