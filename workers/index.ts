import { app } from "./app";
import { handleIngestDeadLetter, handleIngestRetry } from "./collector/retry-consumer";
import { ProfileDO } from "./profile/profile-do";

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    switch (batch.queue) {
      case "tessera-ingest-retry":
        return handleIngestRetry(batch, env);
      case "tessera-ingest-dlq":
        return handleIngestDeadLetter(batch, env);
      default:
        console.error(`no consumer for queue ${batch.queue}; retrying`);
        batch.retryAll();
    }
  },
} satisfies ExportedHandler<Env>;

export { ProfileDO };
