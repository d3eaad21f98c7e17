// Placeholder: the collector owns this file (ingest retry queue and its dead-letter queue).
export async function handleIngestRetry(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  void env;
  batch.retryAll();
}
export async function handleIngestDeadLetter(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  void env;
  batch.retryAll();
}
