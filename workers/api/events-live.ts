/**
 * `GET /v1/events/live` (DESIGN §11): the workspace's latest accepted and rejected messages, as a long poll, for the
 * console's live view (Segment's debugger). Each request keeps the feed recording for the next minute.
 */
import { createRoute } from "@hono/zod-openapi";
import { LiveEventsPage, LiveEventsQuery } from "@tessera/protocol";
import { liveEventsStub } from "../live-events/live-events-do";
import { openApiRoutes } from "../shared/openapi-routes";
import { BAD_SECRET_KEY, errorResponses, jsonResponse, SECRET_KEY } from "../shared/route-docs";
import { requireSecretKey } from "./secret-key-auth";

export const liveEventRoutes = openApiRoutes().openapi(
  createRoute({
    method: "get",
    path: "/v1/events/live",
    tags: ["Live events"],
    summary: "Watch incoming messages",
    description:
      "The last 200 messages the collector accepted or rejected (with the reason), oldest first. Pass the answer's " +
      "`cursor` as `after` and a `wait` to hold the request until something newer arrives. A message shows a " +
      "fraction of a second after its answer (the collector hands them over in groups); the feed is kept in memory, " +
      "so it may start again empty after a quiet spell (its `seq`s go on increasing: a cursor from before reads it " +
      "whole). A GDPR erase withdraws the person's messages from it " +
      "(`erasures` counts erasures, so a reader knows to read it again from the start).",
    security: SECRET_KEY,
    middleware: [requireSecretKey],
    request: { query: LiveEventsQuery },
    responses: {
      200: jsonResponse(LiveEventsPage, "The latest messages."),
      ...errorResponses({ 400: "`after` or `wait` is out of range.", 401: BAD_SECRET_KEY }),
    },
  }),
  async (c) => {
    const { after = 0, wait = 0 } = c.req.valid("query");
    const page = await liveEventsStub(c.env.LIVE_EVENTS, c.var.workspaceId).read(after, wait * 1000);
    return c.json(page, 200);
  },
);
