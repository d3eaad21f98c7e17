/**
 * Marketo for `npm run mocks`: the mock with Marketo's limits (100 calls per 20 s, 10 in flight, a daily quota), reporting
 * engagement the way Marketo does — as activities of the Activities API that Tessera's poller reads
 * (`inbound/marketo-poller.ts`; Tessera's cron is run at once). Marketo has no spam-report activity.
 */
import { type MockMarketo, startMockMarketo } from "../marketo";
import { type Channel, ControlError, defineControlRoutes, type EngagementKind } from "./control";
import type { LocalVendor, LocalVendorOptions } from "./vendor";

/** Marketo's default activity type ids. */
const ACTIVITY_TYPES: Partial<Record<EngagementKind, number>> = {
  delivered: 7,
  opened: 10,
  clicked: 11,
  bounced: 8,
  unsubscribed: 9,
};
const CHANNELS = Object.fromEntries(Object.keys(ACTIVITY_TYPES).map((k) => [k, "poll"])) as Partial<
  Record<EngagementKind, Channel>
>;
/** The email asset an activity names when none is given (Marketo's "Program.Email"). */
const EMAIL_ASSET = "Win-back.Email";

export async function startLocalMarketo({ port, tessera, keepRequests }: LocalVendorOptions): Promise<LocalVendor> {
  const mock: MockMarketo = await startMockMarketo({
    port,
    keepRequests,
    control: (app) =>
      defineControlRoutes(app, () => ({
        lists: () =>
          Object.fromEntries(
            mock.lists().map(({ name }) => [
              name,
              mock
                .listMembers(name)
                .map((lead) => lead.email ?? `lead ${lead.id}`)
                .sort(),
            ]),
          ),
        contacts: () => mock.leads(),
        channels: CHANNELS,
        async report({ email, event, campaign = EMAIL_ASSET, link }) {
          const lead = mock.leads().find((l) => l.email?.toLowerCase() === email);
          if (!lead) throw new ControlError(404, `no lead ${email} at this Marketo (Tessera has not synced it)`);
          const [item] = mock.addActivities({
            leadId: lead.id,
            activityTypeId: ACTIVITY_TYPES[event] as number,
            primaryAttributeValue: campaign,
            attributes: event === "clicked" ? { Link: link } : {},
          });
          return { ok: true, delivered: "poll", item, tessera: await tessera.runCron() };
        },
      })),
  });
  return {
    name: "Marketo",
    url: mock.url,
    destination: {
      type: "marketo",
      config: {
        base_url: mock.url,
        client_id: mock.clientId,
        client_secret: mock.clientSecret,
        folder_id: mock.folderId,
      },
    },
    channels: CHANNELS,
    limits: `${mock.limiter.limit} calls per ${mock.limiter.windowMs / 1000} s (606), 10 in flight (615), 50,000 a day (607)`,
    stop: () => mock.stop(),
  };
}
