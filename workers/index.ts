import { app } from "./app";
import { ProfileDO } from "./profile/profile-do";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;

export { ProfileDO };
