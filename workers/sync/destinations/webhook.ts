/**
 * The `webhook` destination (DESIGN §7): every membership change and profile update is POSTed as Tessera's own JSON,
 * signed with `X-Tessera-Signature` (see `tessera-signature.ts`), to a URL the customer runs. 2xx is delivered;
 * 408, 429 and 5xx are retried (honouring `Retry-After`); any other 4xx fails for good.
 */
import {
  AuthRefused,
  type ContactIdentity,
  type DestinationPlugin,
  type Outcome,
  type PluginContext,
  type ProfileSnapshot,
  Redirected,
} from "../plugin";
import { retryAfterMs } from "../retry-after";
import { signTessera, TESSERA_SIGNATURE_HEADER } from "../tessera-signature";
import { type Settings, settingsProblem } from "./config-settings";

export interface WebhookConfig {
  url: string;
  secret: string;
}

const WEBHOOK_SETTINGS = { url: true, secret: true } satisfies Settings<WebhookConfig>;

type WebhookEventType = "audience.entered" | "audience.exited" | "profile.updated" | "profile.deleted";

/** What the receiver gets. `id` is stable for one change, so a receiver can dedupe retries. */
export interface WebhookEvent {
  type: WebhookEventType;
  id: string;
  at: string;
  workspace: string;
  destination: string;
  /** Its traits and computed traits are those the destination syncs (its `traits`; the engine narrows them). */
  profile: ProfileSnapshot;
  audience?: string;
}

export const webhook: DestinationPlugin<WebhookConfig> = {
  type: "webhook",
  secretFields: ["secret"],
  /**
   * A customer's endpoint publishes no limits: start gently (4 in flight, 50 requests/s) and let the gate find what
   * it carries, up to 32 in flight and 400 requests/s while it answers well and fast (see `VendorGate`).
   */
  limits: {
    upsertBatch: 20,
    membershipBatch: 20,
    concurrency: 4,
    rate: { limit: 50, perMs: 1000 },
    maxConcurrency: 32,
  },

  validateConfig(config) {
    const shape = settingsProblem(config, WEBHOOK_SETTINGS, "webhook");
    if (shape) return shape;
    const c = config as Partial<Record<keyof WebhookConfig, unknown>>;
    if (typeof c.url !== "string" || c.url === "") return "url: is required";
    let url: URL;
    try {
      url = new URL(c.url);
    } catch {
      return "url: is not a URL";
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return "url: must be http(s)";
    // Never sent (the runtime's fetch drops them), and the URL is shown in the API and in delivery errors.
    if (url.username !== "" || url.password !== "")
      return "url: must not carry a user name or password; each request is signed with the secret (X-Tessera-Signature)";
    if (typeof c.secret !== "string" || c.secret.length < 16)
      return "secret: must be a string of at least 16 characters";
    return null;
  },

  async testConnection(ctx) {
    const res = await post(ctx, { ...event(ctx, "profile.updated", "test", snapshotOf({ profileId: "test" })) });
    if (!res.ok) throw new Error(`${ctx.config.url} answered ${res.status}`);
  },

  upsertContacts(ctx, items) {
    return sendAll(
      ctx,
      items.map((item) =>
        event(ctx, "profile.updated", `${item.identity.profileId}:${item.at ?? ""}`, snapshotOf(item.identity, item)),
      ),
    );
  },

  applyMemberships(ctx, list, items) {
    return sendAll(
      ctx,
      items.map((item) => ({
        ...event(
          ctx,
          item.member ? "audience.entered" : "audience.exited",
          `${item.identity.profileId}:${list.key}:${item.at ?? ""}`,
          snapshotOf(item.identity, item),
        ),
        audience: list.key,
        at: item.at ?? new Date(ctx.now()).toISOString(),
      })),
    );
  },

  async deleteContact(ctx, person) {
    const profile = { id: person.profileId, identifiers: [...person.identifiers], traits: {}, computed: {} };
    const [outcome] = await sendAll(ctx, [event(ctx, "profile.deleted", person.profileId, profile)]);
    return outcome;
  },
};

function snapshotOf(identity: ContactIdentity, item?: { profile?: ProfileSnapshot; traits?: Record<string, unknown> }) {
  if (item?.profile) return item.profile;
  const identifiers = identity.email ? [{ type: "email", value: identity.email }] : [];
  return { id: identity.profileId, identifiers, traits: item?.traits ?? {}, computed: {} };
}

function event(
  ctx: PluginContext<WebhookConfig>,
  type: WebhookEventType,
  key: string,
  profile: ProfileSnapshot,
): WebhookEvent {
  return {
    type,
    // Stable per change: the same change retried carries the same id.
    id: `${type}:${key}`,
    at: new Date(ctx.now()).toISOString(),
    workspace: ctx.destination?.workspaceId ?? "",
    destination: ctx.destination?.id ?? "",
    profile,
  };
}

/** One request per event, all handed to the gate at once: it decides how many are in flight. */
function sendAll(ctx: PluginContext<WebhookConfig>, events: WebhookEvent[]): Promise<Outcome[]> {
  return Promise.all(events.map((body) => deliver(ctx, body)));
}

async function deliver(ctx: PluginContext<WebhookConfig>, body: WebhookEvent): Promise<Outcome> {
  let res: Response;
  try {
    res = await post(ctx, body);
  } catch (err) {
    // A redirect is the destination's (its `url`), as a refused signature is: every event would meet it.
    if (err instanceof Redirected) throw err;
    return { status: "retry", reason: `network: ${(err as Error).message}` };
  }
  await res.body?.cancel();
  if (res.ok) return { status: "ok" };
  if (res.status === 408 || res.status === 429 || res.status >= 500) {
    const outcome: Outcome = { status: "retry", reason: `${ctx.config.url} answered ${res.status}` };
    const wait = retryAfterMs(res.headers.get("retry-after"));
    if (wait !== undefined) outcome.retryAfterMs = wait;
    return outcome;
  }
  // A refusal of who we are is not about this payload: every call would meet it, so the destination pauses (as for a
  // vendor's 401) rather than dead-lettering each change as bad data.
  if (res.status === 401 || res.status === 403) {
    throw new AuthRefused(
      `${ctx.config.url} refused the request (HTTP ${res.status}): check the signing secret the endpoint verifies`,
    );
  }
  return { status: "fail", code: "invalid_payload", message: `${ctx.config.url} answered ${res.status}` };
}

/** The signed POST of one event; a redirect throws `Redirected` (`ctx.fetch` follows none). */
async function post(ctx: PluginContext<WebhookConfig>, body: WebhookEvent): Promise<Response> {
  const text = JSON.stringify(body);
  return ctx.fetch(ctx.config.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      [TESSERA_SIGNATURE_HEADER]: await signTessera(ctx.config.secret, text, ctx.now()),
    },
    body: text,
  });
}
